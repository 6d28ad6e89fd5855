// swattn_demo: the headline demonstration.
//
// One long sequence (N = 65536, H = 8, D = 64, symmetric radius W = 256) on
// the best target with all threads: time, useful GFLOP/s, and this machine's
// FP32 FMA peak for that target and thread count measured in the same run.
// Then swattn's speed-up over the alternatives, each on a size where it
// finishes in seconds (the size is printed with each ratio): swattn's own
// scalar fallback (same threads), the naive per-query loop and dense masked
// attention (both single-threaded, compiled for the host CPU). Finally the
// outputs are checked against the naive loop; the exit status is 1 on a
// mismatch.
//
// Usage: swattn_demo [--seq N] [--compare-seq N] [--dense-seq N]
//                    [--heads H] [--dim D] [--window W]
//                    [--runs R] [--threads T] [--quick]
// --quick: N = 1024 (512 for the comparisons), H = 2, W = 64, one run, one
// thread: for emulators such as qemu-aarch64, which run SIMD code some
// thousand times slower and where creating threads can hang. Options after
// --quick override it.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "fma_peak.h"
#include "problem.h"
#include "swattn/swattn.h"

namespace {

using swattn_bench::BaselineShape;
using swattn_bench::Problem;

struct Config {
  int64_t seq = 65536;         // the headline size
  int64_t scalar_seq = 16384;  // swattn's scalar fallback
  int64_t naive_seq = 4096;    // the naive per-query loop
  int64_t dense_seq = 4096;    // dense masked attention (N x N scores)
  int64_t heads = 8, dim = 64, window = 256;
  int runs = 5;     // best of, for swattn's vector target
  int threads = 0;  // 0 = all hardware threads
};

bool ParseArgs(int argc, char** argv, Config* config) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](int64_t* out) {
      if (i + 1 >= argc) return false;
      *out = std::atoll(argv[++i]);
      return *out > 0;
    };
    int64_t n = 0;
    if (arg == "--quick") {
      config->seq = 1024;
      config->scalar_seq = config->naive_seq = config->dense_seq = 512;
      config->heads = 2;
      config->window = 64;
      config->runs = 1;
      config->threads = 1;
    } else if (arg == "--heads" && value(&n)) {
      config->heads = n;
    } else if (arg == "--dim" && value(&n)) {
      config->dim = n;
    } else if (arg == "--window" && value(&n)) {
      config->window = n;
    } else if (arg == "--seq" && value(&n)) {
      config->seq = n;
    } else if (arg == "--compare-seq" && value(&n)) {
      config->scalar_seq = config->naive_seq = config->dense_seq = n;
    } else if (arg == "--dense-seq" && value(&n)) {
      config->dense_seq = n;
    } else if (arg == "--runs" && value(&n)) {
      config->runs = static_cast<int>(n);
    } else if (arg == "--threads" && value(&n)) {
      config->threads = static_cast<int>(n);
    } else {
      std::fprintf(stderr,
                   "usage: %s [--seq N] [--compare-seq N] [--dense-seq N] "
                   "[--heads H] [--dim D] [--window W] [--runs R] "
                   "[--threads T] [--quick]\n",
                   argv[0]);
      return false;
    }
  }
  return true;
}

BaselineShape Shape(const Config& config, int64_t seq) {
  BaselineShape s;
  s.seq = seq;
  s.heads = config.heads;
  s.kv_heads = config.heads;
  s.dim = config.dim;
  s.left = config.window;
  s.right = config.window;
  return s;
}

// Best wall time in seconds of `runs` calls of `fn`.
double BestSeconds(int runs, const std::function<void()>& fn) {
  double best = 1e300;
  for (int r = 0; r < std::max(runs, 1); ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    const auto t1 = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double>(t1 - t0).count());
  }
  return best;
}

// Sets the target and runs one forward call to check it; exits on failure.
void ForwardOrDie(Problem* problem, const char* target, int threads) {
  if (swattn_set_target(target) != SWATTN_OK ||
      problem->Forward(threads) != SWATTN_OK) {
    std::fprintf(stderr, "swattn failed (target %s): %s\n", target,
                 swattn_last_error());
    std::exit(2);
  }
  if (std::strcmp(swattn_last_forward_target(), target) != 0) {
    std::fprintf(stderr, "swattn ran %s instead of %s\n",
                 swattn_last_forward_target(), target);
    std::exit(2);
  }
}

// swattn's best time on `problem` with `target`; the first call (warm-up and
// checks) is not timed.
double TimeSwattn(Problem* problem, const char* target, int threads, int runs) {
  ForwardOrDie(problem, target, threads);
  return BestSeconds(runs, [&] { problem->Forward(threads); });
}

std::string Ms(double seconds) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.1f ms", seconds * 1e3);
  return buffer;
}

}  // namespace

int main(int argc, char** argv) {
  Config config;
  if (!ParseArgs(argc, argv, &config)) return 2;
  const int threads =
      config.threads > 0 ? config.threads : swattn_bench::HardwareThreads();
  const char* best = swattn_target_name(0);
  if (best == nullptr) {
    std::fprintf(stderr, "swattn reports no target\n");
    return 2;
  }
  const std::string best_target = best;
  std::string targets;
  for (int i = 0; i < swattn_target_count(); ++i) {
    targets += (i > 0 ? " " : "") + std::string(swattn_target_name(i));
  }

  std::printf("swattn %s: sliding-window attention on the CPU, float32\n",
              swattn_version_string());
  std::printf(
      "H = %lld, D = %lld, window radius W = %lld (symmetric, %lld "
      "keys per query), batch 1\n",
      static_cast<long long>(config.heads), static_cast<long long>(config.dim),
      static_cast<long long>(config.window),
      static_cast<long long>(2 * config.window + 1));
  std::printf("targets on this CPU: %s\n\n", targets.c_str());
  std::fflush(stdout);

  // The peak first, on an otherwise idle process.
  const double peak = swattn_bench::MeasureFmaPeakGflops(best_target, threads);

  // The headline run.
  double headline_seconds = 0.0, headline_flops = 0.0;
  {
    Problem problem(Shape(config, config.seq));
    headline_seconds =
        TimeSwattn(&problem, best_target.c_str(), threads, config.runs);
    headline_flops = problem.UsefulFlops();
  }
  const double gflops = headline_flops / headline_seconds * 1e-9;
  std::printf("Headline: N = %lld\n", static_cast<long long>(config.seq));
  std::printf("  %-28s %s\n", "target", best_target.c_str());
  std::printf("  %-28s %d\n", "threads", threads);
  char label[64];
  std::snprintf(label, sizeof(label), "time (best of %d)", config.runs);
  std::printf("  %-28s %s\n", label, Ms(headline_seconds).c_str());
  std::printf("  %-28s %.4g\n", "useful GFLOP/s", gflops);
  std::snprintf(label, sizeof(label), "FMA peak, %s x %d thr",
                best_target.c_str(), threads);
  std::printf("  %-28s %.4g GFLOP/s (measured now)\n", label, peak);
  std::printf("  %-28s %.1f %%\n\n", "fraction of peak",
              peak > 0 ? 100.0 * gflops / peak : 0.0);
  std::fflush(stdout);

  struct Row {
    std::string name;
    int64_t seq;
    int threads;
    double seconds;
    double swattn_seconds;
  };
  std::vector<Row> rows;
  double diff_naive = 0.0, diff_scalar = 0.0, diff_dense = 0.0;

  // (a) swattn's scalar fallback, same threads: the gain of the SIMD kernels.
  {
    Problem problem(Shape(config, config.scalar_seq));
    const double fast =
        TimeSwattn(&problem, best_target.c_str(), threads, config.runs);
    const swattn_bench::Floats fast_out = problem.out();
    const double slow = TimeSwattn(&problem, "scalar", threads, 1);
    diff_scalar = swattn_bench::MaxAbsDiff(fast_out, problem.out());
    rows.push_back(
        {"swattn scalar fallback", config.scalar_seq, threads, slow, fast});
  }
  // (b) the naive per-query loop and (c) dense masked attention.
  {
    Problem problem(Shape(config, config.naive_seq));
    const double fast =
        TimeSwattn(&problem, best_target.c_str(), threads, config.runs);
    const swattn_bench::Floats fast_out = problem.out();
    const double slow = BestSeconds(1, [&] { problem.Naive(); });
    diff_naive = swattn_bench::MaxAbsDiff(fast_out, problem.out());
    rows.push_back({"naive per-query loop", config.naive_seq, 1, slow, fast});
    if (config.dense_seq == config.naive_seq) {
      const swattn_bench::Floats naive_out = problem.out();
      const double dense = BestSeconds(1, [&] { problem.Dense(); });
      diff_dense = swattn_bench::MaxAbsDiff(naive_out, problem.out());
      rows.push_back(
          {"dense masked attention", config.dense_seq, 1, dense, fast});
    }
  }
  if (config.dense_seq != config.naive_seq) {
    Problem problem(Shape(config, config.dense_seq));
    const double fast =
        TimeSwattn(&problem, best_target.c_str(), threads, config.runs);
    const swattn_bench::Floats fast_out = problem.out();
    const double dense = BestSeconds(1, [&] { problem.Dense(); });
    diff_dense = swattn_bench::MaxAbsDiff(fast_out, problem.out());
    rows.push_back(
        {"dense masked attention", config.dense_seq, 1, dense, fast});
  }
  swattn_set_target(nullptr);

  std::printf(
      "Speed-up of swattn (%s, %d thread%s) over the alternatives, "
      "each on the same problem:\n",
      best_target.c_str(), threads, threads == 1 ? "" : "s");
  std::printf("  %-24s %8s %8s %14s %14s %10s\n", "alternative", "N", "threads",
              "its time", "swattn time", "speed-up");
  for (const Row& row : rows) {
    std::printf("  %-24s %8lld %8d %14s %14s %9.3gx\n", row.name.c_str(),
                static_cast<long long>(row.seq), row.threads,
                Ms(row.seconds).c_str(), Ms(row.swattn_seconds).c_str(),
                row.seconds / row.swattn_seconds);
  }

  // Every output is a convex combination of values in [-1, 1]: float32
  // rounding keeps the differences near 1e-6.
  const double kTolerance = 1e-4;
  const bool ok = diff_naive <= kTolerance && diff_scalar <= kTolerance &&
                  diff_dense <= kTolerance;
  std::printf("\nCorrectness (max |difference|, tolerance %.0e):\n",
              kTolerance);
  std::printf("  %-40s %.2e\n",
              ("swattn " + best_target +
               " vs naive loop, N = " + std::to_string(config.naive_seq))
                  .c_str(),
              diff_naive);
  std::printf("  %-40s %.2e\n",
              ("swattn " + best_target +
               " vs scalar, N = " + std::to_string(config.scalar_seq))
                  .c_str(),
              diff_scalar);
  std::printf(
      "  %-40s %.2e\n",
      ("dense vs " +
       std::string(config.dense_seq == config.naive_seq ? "naive" : "swattn") +
       ", N = " + std::to_string(config.dense_seq))
          .c_str(),
      diff_dense);
  std::printf("  %s\n", ok ? "OK" : "MISMATCH");
  return ok ? 0 : 1;
}
