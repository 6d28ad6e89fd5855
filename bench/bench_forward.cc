// swattn_bench: forward-pass benchmarks with the FMA peak measured in the
// same process, and the baselines a user has without swattn.
//
// Benchmark names are "<family>/<impl>/N:<seq>/H:<heads>/Hkv:<kv heads>/
// D:<dim>/W:<left>,<right>/T:<threads>", then "/Q:<queries>" where more than
// one but not all positions query, and "/L:bhsd" where the tensors are
// [batch, heads, seq, dim] instead of [batch, seq, heads, dim]; <impl> is a
// swattn target name ("avx512", "avx2", "neon", "sve", "sve2", "scalar"),
// "naive" (the per-query loop) or "dense" (dense masked attention). Families:
//   fma_peak/      the FP32 FMA peak per target and thread count
//   table/         the rows of the performance table (issue 3)
//   sweep_window/  GFLOP/s against the window radius, every target
//   sweep_seq/     GFLOP/s and time per query against N, every target
//   small/         two small calls (16 queries of one head; 64 of 8 heads),
//                  timed in microseconds per call
//   decode/        a decode step: one query, the last of N positions,
//                  against the keys its causal or sliding window sees,
//                  every target, speculative steps of 4 queries (the
//                  last 4, "/Q:4") and, SIMD targets, 8, and the causal
//                  caches on 2 threads;
//                  KV_GB/s is the K and V bytes it reads per second
//                  (compare membw/)
//   compare/       swattn, its scalar fallback, naive, dense on one size
//   scaling/       thread scaling up to the hardware threads
//   peaked/        the D = 64, W = 128 table row (best target, avx2; scalar
//                  at N = 2048) with scores 64 times larger: most
//                  probabilities are tiny, where float32 subnormals would
//                  slow the FMAs
//   layout/        the W = 16 and the D = 64, W = 128 table rows, symmetric
//                  and causal, with [batch, heads, seq, dim] tensors (one
//                  head's rows back to back)
//   membw/         one thread's read bandwidth, GB/s: one head's 512-byte
//                  rows out of every 4 KiB (H = 8, D = 128 in [seq, heads,
//                  dim]), and the same buffer in order
//   custom/        shapes given on the command line (below)
// Select with --benchmark_filter (a regex), e.g. --benchmark_filter=table/.
// Add any shape with --swattn_case=<impl>/N:<n>/H:<h>/Hkv:<hkv>/D:<d>/
// W:<left>,<right>/T:<threads>[/L:bhsd] (repeatable; -1 = unbounded radius),
// and run only those with --benchmark_filter=custom/.
// A target this CPU or build cannot run is reported as skipped with an error.
//
// Counters: GFLOP/s counts useful flops only (useful_flops.h: 4 * D per
// visible (query, key) pair and head); peak_GFLOP/s is the FMA peak of that
// target and thread count measured once in this process (fma_peak.h; for
// naive and dense, which are single-threaded and compiled for the host, the
// best target's 1-thread peak); peak_frac = GFLOP/s / peak_GFLOP/s (the
// console prints 0.65 as "650m"); us_per_query is the wall time per query
// position (all heads).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "fma_peak.h"
#include "mem_bandwidth.h"
#include "problem.h"
#include "swattn/swattn.h"

namespace swattn_bench {
namespace {

struct Case {
  std::string family;
  std::string impl;  // a swattn target name, "naive" or "dense"
  BaselineShape shape;
  int threads = 1;
  int64_t queries = 0;  // > 0: only the last `queries` positions query
  bool heads_major = false;  // [batch, heads, seq, dim] tensors
};

std::string Name(const Case& c) {
  const BaselineShape& s = c.shape;
  char buffer[256];
  std::snprintf(buffer, sizeof(buffer),
                "%s/%s/N:%lld/H:%lld/Hkv:%lld/D:%lld/W:%lld,%lld/T:%d",
                c.family.c_str(), c.impl.c_str(), static_cast<long long>(s.seq),
                static_cast<long long>(s.heads),
                static_cast<long long>(s.kv_heads),
                static_cast<long long>(s.dim), static_cast<long long>(s.left),
                static_cast<long long>(s.right), c.threads);
  std::string name = buffer;
  // Only the last `queries` positions query, as in a speculative step.
  if (c.queries > 1) name += "/Q:" + std::to_string(c.queries);
  if (c.heads_major) name += "/L:bhsd";
  return name;
}

BaselineShape Shape(int64_t seq, int64_t heads, int64_t kv_heads, int64_t dim,
                    int64_t left, int64_t right) {
  BaselineShape s;
  s.batch = 1;
  s.seq = seq;
  s.heads = heads;
  s.kv_heads = kv_heads;
  s.dim = dim;
  s.left = left;
  s.right = right;
  return s;
}

std::vector<std::string> SwattnTargets() {
  std::vector<std::string> names;
  for (int i = 0; i < swattn_target_count(); ++i) {
    if (const char* name = swattn_target_name(i)) names.emplace_back(name);
  }
  return names;
}

bool IsSwattnTarget(const std::string& name) {
  const std::vector<std::string> targets = SwattnTargets();
  return std::find(targets.begin(), targets.end(), name) != targets.end();
}

// The best target, used for the rows that do not name one.
std::string BestTarget() {
  const char* name = swattn_target_name(0);
  return name != nullptr ? name : "scalar";
}

bool SameShape(const BaselineShape& a, const BaselineShape& b) {
  return a.batch == b.batch && a.seq == b.seq && a.heads == b.heads &&
         a.kv_heads == b.kv_heads && a.dim == b.dim && a.left == b.left &&
         a.right == b.right && a.scale == b.scale;
}

// One problem at a time (the largest holds 4 GiB): Google Benchmark calls a
// benchmark function several times while it sizes the iteration count, and
// consecutive benchmarks often share a shape, so the inputs are kept until a
// different shape is asked for.
Problem& SharedProblem(const BaselineShape& shape, int64_t queries = 0) {
  static std::unique_ptr<Problem> problem;
  const int64_t nq = queries > 0 ? queries : shape.seq;
  if (!problem || !SameShape(problem->shape(), shape) ||
      problem->queries() != nq) {
    problem.reset();  // free the old one before allocating the new one
    problem = std::make_unique<Problem>(shape, 1, queries);
  }
  return *problem;
}

void SetCounters(benchmark::State& state, const Problem& problem,
                 double seconds, double peak) {
  const double iterations = static_cast<double>(state.iterations());
  const double gflops =
      seconds > 0 ? problem.UsefulFlops() * iterations / seconds * 1e-9 : 0.0;
  state.counters["GFLOP/s"] = gflops;
  state.counters["peak_GFLOP/s"] = peak;
  state.counters["peak_frac"] = peak > 0 ? gflops / peak : 0.0;
  const double queries =
      static_cast<double>(problem.shape().batch * problem.queries());
  state.counters["us_per_query"] =
      iterations > 0 ? seconds / iterations / queries * 1e6 : 0.0;
  if (problem.queries() < problem.shape().seq) {
    state.counters["KV_GB/s"] =
        seconds > 0 ? problem.VisibleKvBytes() * iterations / seconds * 1e-9
                    : 0.0;
  }
}

using Clock = std::chrono::steady_clock;

void RunForward(benchmark::State& state, const Case& c) {
  if (!IsSwattnTarget(c.impl)) {
    state.SkipWithError(
        ("target " + c.impl + " is not available on this CPU or build")
            .c_str());
    return;
  }
  if (swattn_set_target(c.impl.c_str()) != SWATTN_OK) {
    state.SkipWithError(swattn_last_error());
    return;
  }
  Problem& problem = SharedProblem(c.shape, c.queries);
  // One untimed call: checks the status, warms caches and scratch, and
  // proves that the forced target really ran.
  if (problem.Forward(c.threads, c.heads_major) != SWATTN_OK) {
    state.SkipWithError(swattn_last_error());
    return;
  }
  if (c.impl != swattn_last_forward_target()) {
    state.SkipWithError("swattn ran a different target than the one forced");
    return;
  }
  const double peak = FmaPeakGflops(c.impl, c.threads);
  double seconds = 0.0;
  bool ok = true;
  for (auto _ : state) {
    const Clock::time_point t0 = Clock::now();
    ok &= problem.Forward(c.threads, c.heads_major) == SWATTN_OK;
    seconds += std::chrono::duration<double>(Clock::now() - t0).count();
  }
  if (!ok) {
    state.SkipWithError(swattn_last_error());
    return;
  }
  benchmark::DoNotOptimize(problem.out().data());
  state.SetLabel(c.impl);
  SetCounters(state, problem, seconds, peak);
}

void RunBaseline(benchmark::State& state, const Case& c) {
  Problem& problem = SharedProblem(c.shape);
  const double peak = FmaPeakGflops(BestTarget(), 1);
  double seconds = 0.0;
  for (auto _ : state) {
    const Clock::time_point t0 = Clock::now();
    if (c.impl == "naive") {
      problem.Naive();
    } else {
      problem.Dense();
    }
    seconds += std::chrono::duration<double>(Clock::now() - t0).count();
  }
  benchmark::DoNotOptimize(problem.out().data());
  state.SetLabel(c.impl);
  SetCounters(state, problem, seconds, peak);
}

void RunFmaPeak(benchmark::State& state, const std::string& target,
                int threads) {
  if (!FmaPeakHasTarget(target)) {
    state.SkipWithError(("target " + target + " is not available").c_str());
    return;
  }
  double gflops = 0.0;
  for (auto _ : state) gflops = FmaPeakGflops(target, threads);
  state.SetLabel(target);
  state.counters["GFLOP/s"] = gflops;
  state.counters["peak_GFLOP/s"] = gflops;
  state.counters["peak_frac"] = 1.0;
  state.counters["us_per_query"] = 0.0;
}

// Reads 256 MiB, `chunk` bytes of every 4 KiB; reports GB/s.
void RunReadBandwidth(benchmark::State& state, size_t chunk) {
  const StridedReader reader(size_t{256} << 20, chunk, 4096);
  float sum = 0.0f;
  double seconds = 0.0;
  for (auto _ : state) {
    const Clock::time_point t0 = Clock::now();
    sum += reader.ReadAll();
    seconds += std::chrono::duration<double>(Clock::now() - t0).count();
  }
  benchmark::DoNotOptimize(sum);
  state.counters["GB/s"] =
      seconds > 0 ? static_cast<double>(reader.bytes()) *
                        static_cast<double>(state.iterations()) / seconds *
                        1e-9
                  : 0.0;
}

benchmark::internal::Benchmark* Register(const Case& c) {
  auto* bench = benchmark::RegisterBenchmark(
      Name(c).c_str(), [c](benchmark::State& state) {
        if (c.impl == "naive" || c.impl == "dense") {
          RunBaseline(state, c);
        } else {
          RunForward(state, c);
        }
      });
  return bench->UseRealTime()->Unit(benchmark::kMillisecond);
}

void RegisterAll() {
  const int hw = HardwareThreads();
  const std::string best = BestTarget();
  std::vector<std::string> targets = SwattnTargets();
  if (targets.empty()) targets.push_back("scalar");

  // The peaks, first, so that the JSON holds them even when a filter selects
  // only them. Measured once per process; the other families reuse them.
  std::vector<int> peak_threads = {1};
  if (hw > 1) peak_threads.push_back(hw);
  for (const std::string& target : targets) {
    for (int threads : peak_threads) {
      char name[128];
      std::snprintf(name, sizeof(name), "fma_peak/%s/T:%d", target.c_str(),
                    threads);
      benchmark::RegisterBenchmark(name,
                                   [target, threads](benchmark::State& state) {
                                     RunFmaPeak(state, target, threads);
                                   })
          ->Iterations(1)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
  }

  // The performance table. Symmetric windows unless (W, 0); batch 1.
  const std::vector<Case> table = {
      {"table", best, Shape(16384, 8, 8, 128, 512, 512), 1},
      {"table", best, Shape(16384, 8, 8, 64, 128, 128), 1},
      {"table", best, Shape(16384, 8, 8, 128, 16, 16), 1},
      {"table", best, Shape(16384, 8, 8, 128, 512, 0), 1},
      {"table", best, Shape(16384, 8, 8, 64, 128, 0), 1},
      {"table", best, Shape(16384, 8, 8, 128, 16, 0), 1},
      {"table", best, Shape(16384, 32, 8, 128, 512, 512), 1},
      {"table", best, Shape(16384, 8, 8, 128, 512, 512), 2},
      {"table", "avx2", Shape(16384, 8, 8, 128, 512, 512), 1},
  };
  for (const Case& c : table) Register(c);

  // The table rows that memory bounds most, again with one head's rows back
  // to back ([batch, heads, seq, dim]): what the table's layout, with one
  // head's rows H * D floats apart, costs them.
  for (const BaselineShape& s :
       {Shape(16384, 8, 8, 128, 16, 16), Shape(16384, 8, 8, 128, 16, 0),
        Shape(16384, 8, 8, 64, 128, 128), Shape(16384, 8, 8, 64, 128, 0)}) {
    Case c{"layout", best, s, 1};
    c.heads_major = true;
    Register(c);
  }

  // Small calls, where what a call costs beyond its flops shows (argument
  // checks, planning, scratch): a few queries of one head, and a short
  // causal chunk of 8 heads.
  for (const BaselineShape& s :
       {Shape(16, 1, 1, 64, 4, 4), Shape(64, 8, 8, 128, 16, 0)}) {
    Register({"small", best, s, 1})->Unit(benchmark::kMicrosecond);
  }

  // Decode steps, every target: the last query of N = 32768 against a
  // causal cache (GQA 32/8 and MHA 8/8, D = 128) and a sliding window of
  // 4096 keys: bound by reading K and V (compare membw/). Then the last 4
  // queries against the GQA cache, as a speculative step checks its drafts
  // (and 8, where AVX-512 still puts keys in the lanes and the others use
  // the tiles; the scalar kernel would take seconds), and the two caches on
  // 2 threads (units of one kv head, where one thread's unit spans them
  // all).
  for (const std::string& target : targets) {
    for (const BaselineShape& s :
         {Shape(32768, 32, 8, 128, -1, 0), Shape(32768, 8, 8, 128, -1, 0),
          Shape(32768, 32, 8, 128, 4096, 0)}) {
      Case c{"decode", target, s, 1};
      c.queries = 1;
      Register(c);
    }
    Case c{"decode", target, Shape(32768, 32, 8, 128, -1, 0), 1};
    c.queries = 4;
    Register(c);
    if (target != "scalar") {
      c.queries = 8;
      Register(c);
    }
    for (const BaselineShape& s :
         {Shape(32768, 32, 8, 128, -1, 0), Shape(32768, 8, 8, 128, -1, 0)}) {
      Case two{"decode", target, s, 2};
      two.queries = 1;
      Register(two);
    }
  }

  // GFLOP/s against the window radius, every target. The scalar fallback
  // runs on a shorter sequence so that the sweep finishes in seconds; the
  // rate (useful flops per second) does not depend on N.
  for (const std::string& target : targets) {
    const int64_t seq = target == "scalar" ? 2048 : 16384;
    for (int64_t w : {16, 32, 64, 128, 256, 512, 1024}) {
      Register({"sweep_window", target, Shape(seq, 8, 8, 64, w, w), 1});
    }
  }

  // GFLOP/s and time per query against N at W = 256, D = 64, H = 4.
  for (const std::string& target : targets) {
    const int64_t max_seq = target == "scalar" ? 16384 : 1048576;
    for (int64_t seq = 4096; seq <= max_seq; seq *= 4) {
      Register({"sweep_seq", target, Shape(seq, 4, 4, 64, 256, 256), 1});
    }
  }

  // Side by side on one size where every implementation finishes in
  // seconds: the demo's shape (H = 8, D = 64, W = 256) at N = 4096.
  const BaselineShape compare = Shape(4096, 8, 8, 64, 256, 256);
  for (const std::string& target : targets) {
    Register({"compare", target, compare, 1});
  }
  if (hw > 1) Register({"compare", best, compare, hw});
  Register({"compare", "naive", compare, 1});
  Register({"compare", "dense", compare, 1});

  // Thread scaling on the large case (H = 16, D = 128, N = 65536,
  // W = 512): 1, 2, 4, 8, 16... up to the hardware threads, and all of them.
  std::vector<int> counts;
  for (int t = 1; t <= hw; t *= 2) counts.push_back(t);
  if (counts.back() != hw) counts.push_back(hw);
  for (int t : counts) {
    Register({"scaling", best, Shape(65536, 16, 16, 128, 512, 512), t});
  }

  // A softmax far from uniform (scale 8 instead of 1/8: the logits of
  // q, k in [-1, 1] spread over ~+-50). Most probabilities then fall many
  // binades below the row's largest; a kernel that let them reach P.V as
  // subnormals would run tens of times slower on CPUs whose FMAs take a
  // microcode assist for them.
  BaselineShape peaked = Shape(16384, 8, 8, 64, 128, 128);
  peaked.scale = 8.0f;
  Register({"peaked", best, peaked, 1});
  if (best != "avx2") Register({"peaked", "avx2", peaked, 1});
  peaked.seq = 2048;  // the scalar kernel at sweep_window/scalar's size
  Register({"peaked", "scalar", peaked, 1});

  // What memory allows the small-window rows: one head's rows of the
  // table's [seq, 8, 128] tensors, against the same bytes in order.
  for (size_t chunk : {size_t{512}, size_t{4096}}) {
    const std::string name = chunk == 4096 ? "membw/contiguous/T:1"
                                           : "membw/rows_512B_of_4KiB/T:1";
    benchmark::RegisterBenchmark(name.c_str(),
                                 [chunk](benchmark::State& state) {
                                   RunReadBandwidth(state, chunk);
                                 })
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
}

// Parses "<impl>/N:../H:../Hkv:../D:../W:l,r/T:t[/L:bhsd]" into `c`.
bool ParseCase(const std::string& text, Case* c) {
  const size_t slash = text.find('/');
  if (slash == std::string::npos || slash == 0) return false;
  long long n, h, hkv, d, left, right;
  int threads, consumed = 0;
  if (std::sscanf(text.c_str() + slash,
                  "/N:%lld/H:%lld/Hkv:%lld/D:%lld/W:%lld,%lld/T:%d%n", &n, &h,
                  &hkv, &d, &left, &right, &threads, &consumed) != 7) {
    return false;
  }
  const std::string rest = text.substr(slash + consumed);
  if (!rest.empty() && rest != "/L:bhsd") return false;
  c->heads_major = rest == "/L:bhsd";
  c->family = "custom";
  c->impl = text.substr(0, slash);
  c->shape = Shape(n, h, hkv, d, left, right);
  c->threads = threads;
  return n > 0 && h > 0 && hkv > 0 && h % hkv == 0 && d > 0 && threads >= 0;
}

// Takes the --swattn_case flags out of argv (Google Benchmark rejects flags
// it does not know) and registers them. Returns false on a malformed one.
bool RegisterCustomCases(int* argc, char** argv) {
  const std::string prefix = "--swattn_case=";
  int kept = 1;
  for (int i = 1; i < *argc; ++i) {
    const std::string arg = argv[i];
    if (arg.compare(0, prefix.size(), prefix) != 0) {
      argv[kept++] = argv[i];
      continue;
    }
    Case c;
    if (!ParseCase(arg.substr(prefix.size()), &c)) {
      std::fprintf(stderr,
                   "bad %s: expected <impl>/N:<n>/H:<h>/Hkv:<hkv>/D:<d>/"
                   "W:<left>,<right>/T:<threads>[/L:bhsd]\n",
                   arg.c_str());
      return false;
    }
    Register(c);
  }
  *argc = kept;
  argv[kept] = nullptr;
  return true;
}

}  // namespace
}  // namespace swattn_bench

int main(int argc, char** argv) {
  if (!swattn_bench::RegisterCustomCases(&argc, argv)) return 1;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  std::string targets;
  for (int i = 0; i < swattn_target_count(); ++i) {
    if (i > 0) targets += ",";
    targets += swattn_target_name(i);
  }
  benchmark::AddCustomContext("swattn_version", swattn_version_string());
  benchmark::AddCustomContext("swattn_targets", targets);
  benchmark::AddCustomContext("hardware_threads",
                              std::to_string(swattn_bench::HardwareThreads()));
  swattn_bench::RegisterAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  swattn_set_target(nullptr);
  return 0;
}
