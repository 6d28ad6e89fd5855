#!/usr/bin/python3
"""Plots swattn_bench results (Google Benchmark JSON) and prints a table.

Usage:
  swattn_bench --benchmark_out=results.json --benchmark_out_format=json
  /usr/bin/python3 bench/plot.py results.json [--outdir DIR] [--linear]
                                              [--table FILE]
  /usr/bin/python3 bench/plot.py --scaling scaling_*.json [--outdir DIR]
                                              [--table FILE]

Draws two PNGs in DIR (default: the JSON's folder):
  gflops_vs_window.png  useful GFLOP/s against the window radius W
                        (sweep_window/ rows), one line per target;
  gflops_vs_seq.png     useful GFLOP/s against the sequence length N
                        (sweep_seq/ rows), one line per target, and below it
                        the time per query position;
each with that target's measured 1-thread FP32 FMA peak (fma_peak/<t>/T:1) as
a dashed horizontal line in the same colour. The y axis is logarithmic so
that the scalar fallback stays visible (--linear to change). Also prints a
Markdown table of every row (GFLOP/s, peak, fraction of peak, time), and
writes it to FILE with --table.

With --scaling, reads the scaling/ rows of any number of JSON files (one
process each, from bench/run_scaling.sh) and, per thread count, takes the
best kernel rate and the best FMA peak over all of them, and the median of
each process's own fraction of its peak: on a shared VM both move from one
process to the next. Prints that table and draws gflops_vs_threads.png.

Needs Debian's python3-matplotlib; run it with /usr/bin/python3.
"""

import argparse
import json
import math
import os
import re
import statistics
import sys

NAME_RE = re.compile(
    r"^(?P<family>[^/]+)/(?P<impl>[^/]+)/N:(?P<n>\d+)/H:(?P<h>\d+)"
    r"/Hkv:(?P<hkv>\d+)/D:(?P<d>\d+)/W:(?P<left>-?\d+),(?P<right>-?\d+)"
    r"/T:(?P<t>\d+)")
PEAK_RE = re.compile(r"^fma_peak/(?P<impl>[^/]+)/T:(?P<t>\d+)")


def load_rows(path):
    """Returns one dict per benchmark name: the median over repetitions."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    by_name = {}
    order = []
    for b in data.get("benchmarks", []):
        if b.get("run_type", "iteration") != "iteration":
            continue  # aggregates are recomputed below
        name = b.get("run_name", b["name"])
        if name not in by_name:
            by_name[name] = []
            order.append(name)
        by_name[name].append(b)
    rows = []
    for name in order:
        runs = by_name[name]
        if any(r.get("error_occurred") for r in runs):
            rows.append({"name": name, "error": runs[0].get("error_message",
                                                             "error")})
            continue

        def median(key):
            values = [r[key] for r in runs if key in r]
            return statistics.median(values) if values else float("nan")

        row = {
            "name": name,
            "gflops": median("GFLOP/s"),
            "peak": median("peak_GFLOP/s"),
            "frac": median("peak_frac"),
            "us_per_query": median("us_per_query"),
            "gbps": median("GB/s"),
            "real_time": median("real_time"),
            "time_unit": runs[0].get("time_unit", "ns"),
        }
        m = NAME_RE.match(name)
        if m:
            row.update({k: (v if k in ("family", "impl") else int(v))
                        for k, v in m.groupdict().items()})
        else:
            p = PEAK_RE.match(name)
            if p:
                row.update(family="fma_peak", impl=p["impl"], t=int(p["t"]))
        rows.append(row)
    return data.get("context", {}), rows


def peaks(rows, threads=1):
    """{target: GFLOP/s} from the fma_peak/ rows with `threads` threads."""
    return {r["impl"]: r["gflops"] for r in rows
            if r.get("family") == "fma_peak" and r.get("t") == threads
            and "gflops" in r}


def _plain(value, _pos=None):
    """Tick label without scientific notation: 0.5, 20, 300."""
    return f"{value:g}"


def _plain_25(value, _pos=None):
    """Minor tick label only at 2x and 5x a power of ten."""
    if value <= 0:
        return ""
    mantissa = value / 10 ** math.floor(math.log10(value) + 1e-9)
    return f"{value:g}" if round(mantissa) in (2, 5) else ""


def colours(targets):
    import matplotlib.pyplot as plt
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    return {t: cycle[i % len(cycle)] for i, t in enumerate(targets)}


def plot_family(rows, family, x_key, x_label, title, path, linear,
                time_panel=False):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    series = {}
    for r in rows:
        if r.get("family") == family and "gflops" in r:
            series.setdefault(r["impl"], []).append(r)
    if not series:
        print(f"no {family}/ rows: {path} not drawn", file=sys.stderr)
        return False
    targets = list(series)
    colour = colours(targets)
    peak = peaks(rows)
    if time_panel:
        fig, (ax, ax_time) = plt.subplots(
            2, 1, figsize=(8, 8), sharex=True,
            gridspec_kw={"height_ratios": [2, 1]})
    else:
        fig, ax = plt.subplots(figsize=(8, 5.5))
        ax_time = None
    for target in targets:
        pts = sorted(series[target], key=lambda r: r[x_key])
        xs = [r[x_key] for r in pts]
        first = pts[0]
        shape = f"N={first['n']}" if x_key != "n" else f"W={first['left']}"
        label = f"{target} ({shape}, H={first['h']}, D={first['d']}, " \
                f"T={first['t']})"
        ax.plot(xs, [r["gflops"] for r in pts], marker="o",
                color=colour[target], label=label)
        if target in peak:
            ax.axhline(peak[target], color=colour[target], linestyle="--",
                       linewidth=1,
                       label=f"{target} FMA peak, 1 thread "
                             f"({peak[target]:.0f} GFLOP/s)")
        if ax_time is not None:
            ax_time.plot(xs, [r["us_per_query"] for r in pts], marker="o",
                         color=colour[target], label=target)
    ax.set_xscale("log", base=2)
    all_x = sorted({r[x_key] for pts in series.values() for r in pts})
    ax.set_xticks(all_x)
    ax.set_xticklabels([f"{x:g}" for x in all_x], rotation=30)
    ax.xaxis.set_minor_locator(ticker.NullLocator())
    if not linear:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(_plain))
        ax.yaxis.set_minor_formatter(ticker.FuncFormatter(_plain_25))
    ax.set_ylabel("useful GFLOP/s (4·D per visible key)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    if ax_time is not None:
        ax_time.set_yscale("log")
        ax_time.yaxis.set_major_formatter(ticker.FuncFormatter(_plain))
        ax_time.yaxis.set_minor_formatter(ticker.FuncFormatter(_plain_25))
        ax_time.set_ylabel("µs per query position")
        ax_time.set_xlabel(x_label)
        ax_time.grid(True, which="both", alpha=0.3)
    else:
        ax.set_xlabel(x_label)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"wrote {path}")
    return True


def short_name(name):
    """The benchmark name without Google Benchmark's suffixes."""
    return re.sub(r"/(iterations:\d+|real_time)", "", name)


def table(rows):
    bandwidth = [r for r in rows if "error" not in r
                 and not math.isnan(r["gbps"])]
    lines = ["| benchmark | time | useful GFLOP/s | FMA peak GFLOP/s "
             "| fraction of peak | µs per query |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        if r in bandwidth:
            continue
        if "error" in r:
            lines.append(f"| {short_name(r['name'])} | skipped: "
                         f"{r['error']} | | | | |")
            continue
        per_query = "" if r.get("family") == "fma_peak" else \
            f"{r['us_per_query']:.3f}"
        lines.append(
            f"| {short_name(r['name'])} "
            f"| {r['real_time']:.2f} {r['time_unit']} "
            f"| {r['gflops']:.1f} | {r['peak']:.1f} | {100 * r['frac']:.1f} % "
            f"| {per_query} |")
    if bandwidth:
        lines += ["", "| benchmark | time | read GB/s |", "|---|---:|---:|"]
        lines += [f"| {short_name(r['name'])} "
                  f"| {r['real_time']:.2f} {r['time_unit']} "
                  f"| {r['gbps']:.1f} |" for r in bandwidth]
    return "\n".join(lines)


def scaling(paths, outdir):
    """Best-of table over the scaling/ rows of `paths`; draws the plot."""
    by_threads = {}
    shape = None
    for path in paths:
        for r in load_rows(path)[1]:
            if r.get("family") == "scaling" and "gflops" in r:
                by_threads.setdefault(r["t"], []).append(r)
                shape = shape or r
    if not by_threads:
        print("no scaling/ rows", file=sys.stderr)
        return None
    counts = sorted(by_threads)
    sizes = sorted({len(by_threads[t]) for t in counts})
    runs = f"{sizes[0]}" if len(sizes) == 1 else f"{sizes[0]}-{sizes[-1]}"
    best = {t: max(r["gflops"] for r in by_threads[t]) for t in counts}
    peak = {t: max(r["peak"] for r in by_threads[t]) for t in counts}
    lines = [f"{shape['impl']}, N={shape['n']}, H={shape['h']}, "
             f"D={shape['d']}, W={shape['left']},{shape['right']}; per thread "
             f"count, the best of {runs} process"
             f"{'es' if sizes[-1] > 1 else ''}", "",
             "| threads | GFLOP/s, best | FMA peak, best | best / best "
             "| median of each process's fraction | speed-up over 1 thread "
             "| GFLOP/s, all processes |",
             "|---:|---:|---:|---:|---:|---:|---|"]
    for t in counts:
        every = ", ".join(f"{r['gflops']:.0f}" for r in by_threads[t])
        own = statistics.median(r["frac"] for r in by_threads[t])
        lines.append(f"| {t} | {best[t]:.1f} | {peak[t]:.1f} "
                     f"| {100 * best[t] / peak[t]:.1f} % | {100 * own:.1f} % "
                     f"| {best[t] / best[counts[0]]:.2f}x | {every} |")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker
    fig, ax = plt.subplots(figsize=(8, 5.5))
    for t in counts:
        ax.plot([t] * len(by_threads[t]),
                [r["gflops"] for r in by_threads[t]], ".", color="grey",
                alpha=0.5)
    ax.plot(counts, [best[t] for t in counts], marker="o",
            label=f"swattn {shape['impl']}, best")
    ax.plot(counts, [peak[t] for t in counts], linestyle="--", marker="x",
            label="FMA peak of that many threads, best")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(counts)
    ax.set_xticklabels([str(t) for t in counts])
    ax.xaxis.set_minor_locator(ticker.NullLocator())
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(_plain))
    ax.yaxis.set_minor_formatter(ticker.FuncFormatter(_plain_25))
    ax.set_xlabel("threads")
    ax.set_ylabel("useful GFLOP/s (4·D per visible key)")
    ax.set_title(f"swattn forward: thread scaling (N={shape['n']}, "
                 f"H={shape['h']}, D={shape['d']}, W={shape['left']})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = os.path.join(outdir, "gflops_vs_threads.png")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"wrote {path}")
    return "\n".join(lines)


def plot_all(path, outdir, linear):
    """Draws the sweep plots of one JSON file; returns its table."""
    context, rows = load_rows(path)
    machine = f"{context.get('num_cpus', '?')} CPUs, " \
              f"{context.get('mhz_per_cpu', '?')} MHz; swattn " \
              f"{context.get('swattn_version', '?')}"
    plot_family(rows, "sweep_window", "left", "window radius W (symmetric)",
                f"swattn forward: GFLOP/s against the window ({machine})",
                os.path.join(outdir, "gflops_vs_window.png"), linear)
    plot_family(rows, "sweep_seq", "n", "sequence length N",
                f"swattn forward: GFLOP/s against N ({machine})",
                os.path.join(outdir, "gflops_vs_seq.png"), linear,
                time_panel=True)
    return table(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", nargs="+", help="Google Benchmark JSON output")
    parser.add_argument("--outdir", help="folder for the PNGs")
    parser.add_argument("--linear", action="store_true",
                        help="linear GFLOP/s axis")
    parser.add_argument("--table", help="also write the Markdown table here")
    parser.add_argument("--scaling", action="store_true",
                        help="best-of thread scaling over many JSON files")
    args = parser.parse_args()
    if not args.scaling and len(args.json) != 1:
        parser.error("one JSON file, or --scaling")

    outdir = args.outdir or os.path.dirname(os.path.abspath(args.json[0]))
    os.makedirs(outdir, exist_ok=True)
    if args.scaling:
        text = scaling(args.json, outdir)
        if text is None:
            return 1
    else:
        text = plot_all(args.json[0], outdir, args.linear)
    print(text)
    if args.table:
        with open(args.table, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
