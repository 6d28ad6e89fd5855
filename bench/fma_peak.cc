// FP32 FMA peak measurement (see fma_peak.h): the per-target chains come from
// fma_peak-inl.h, compiled once per Highway target; the threads and timing
// live here.
//
// Like the library, this keeps its own table of per-target function pointers
// instead of Highway's dynamic dispatch, so any target the CPU supports can
// be measured by name without touching Highway's process-global target mask.

// The same set of targets as the library compiles (lib/kernels).
#ifndef HWY_DISABLED_TARGETS
#define HWY_DISABLED_TARGETS (HWY_SSSE3 | HWY_SSE4 | HWY_SVE_256 | HWY_SVE2_128)
#endif

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "fma_peak-inl.h"
// foreach_target.h must come first, then highway.h, then the -inl.h file.
// clang-format off
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "fma_peak-inl.h"
// clang-format on

#if HWY_ONCE

#include "fma_peak.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "fma_peak_internal.h"

#if defined(__linux__)
#include <sched.h>
#endif

namespace swattn_bench {
namespace {

using ChainsFn = uint64_t (*)(uint64_t reps, float a, float b, float* sink);

struct TargetEntry {
  const char* name;
  int64_t hwy_target;  // 0 for "scalar": always available.
  ChainsFn chains;
};

// Best first, in the order of swattn_target_name().
const TargetEntry kTargets[] = {
#if HWY_TARGETS & HWY_AVX3
    {"avx512", HWY_AVX3, &N_AVX3::FmaChains},
#endif
#if HWY_TARGETS & HWY_AVX2
    {"avx2", HWY_AVX2, &N_AVX2::FmaChains},
#endif
#if HWY_TARGETS & HWY_SVE2
    {"sve2", HWY_SVE2, &N_SVE2::FmaChains},
#endif
#if HWY_TARGETS & HWY_SVE
    {"sve", HWY_SVE, &N_SVE::FmaChains},
#endif
#if HWY_TARGETS & HWY_NEON
    {"neon", HWY_NEON, &N_NEON::FmaChains},
#endif
    {"scalar", 0, &ScalarFmaChains},
};

const TargetEntry* FindTarget(const std::string& name) {
  const int64_t supported = hwy::SupportedTargets();
  for (const TargetEntry& entry : kTargets) {
    if (name != entry.name) continue;
    if (entry.hwy_target != 0 && (supported & entry.hwy_target) == 0) {
      return nullptr;
    }
    return &entry;
  }
  return nullptr;
}

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point t0, Clock::time_point t1) {
  return std::chrono::duration<double>(t1 - t0).count();
}

// One trial: `threads` threads each run `reps` rounds, released together once
// all of them exist. Returns GFLOP/s over the wall time from the release to
// the last thread's end.
double RunTrial(ChainsFn chains, int threads, uint64_t reps) {
  if (threads == 1) {
    // On the calling thread: no thread creation at all for one thread (some
    // user-mode emulators hang in pthread_create).
    float sink = 0.0f;
    const Clock::time_point t0 = Clock::now();
    const uint64_t total = chains(reps, 0.999999f, 1e-6f, &sink);
    const Clock::time_point t1 = Clock::now();
    static std::atomic<float> g_single_sink{0.0f};
    g_single_sink.store(sink, std::memory_order_relaxed);
    return static_cast<double>(total) / Seconds(t0, t1) * 1e-9;
  }
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<uint64_t> flops(threads, 0);
  std::vector<float> sinks(threads, 0.0f);
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      ready.fetch_add(1, std::memory_order_acq_rel);
      // Yield while waiting so the releasing thread gets a core even when
      // every core runs a waiting worker.
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      flops[t] = chains(reps, 0.999999f, 1e-6f, &sinks[t]);
    });
  }
  while (ready.load(std::memory_order_acquire) < threads) {
    std::this_thread::yield();
  }
  const Clock::time_point t0 = Clock::now();
  go.store(true, std::memory_order_release);
  for (std::thread& thread : pool) thread.join();
  const Clock::time_point t1 = Clock::now();
  uint64_t total = 0;
  float sink = 0.0f;
  for (int t = 0; t < threads; ++t) {
    total += flops[t];
    sink += sinks[t];
  }
  // Keeps the sinks observable without printing them.
  static std::atomic<float> g_sink{0.0f};
  g_sink.store(sink, std::memory_order_relaxed);
  return static_cast<double>(total) / Seconds(t0, t1) * 1e-9;
}

}  // namespace

int HardwareThreads() {
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int count = CPU_COUNT(&set);
    if (count > 0) return count;
  }
#endif
  const unsigned count = std::thread::hardware_concurrency();
  return count == 0 ? 1 : static_cast<int>(count);
}

std::vector<std::string> FmaPeakTargets() {
  std::vector<std::string> names;
  for (const TargetEntry& entry : kTargets) {
    if (FindTarget(entry.name) != nullptr) names.emplace_back(entry.name);
  }
  return names;
}

bool FmaPeakHasTarget(const std::string& target) {
  return FindTarget(target) != nullptr;
}

double MeasureFmaPeakGflops(const std::string& target, int threads,
                            double seconds_per_trial, int trials) {
  const TargetEntry* entry = FindTarget(target);
  if (entry == nullptr) return -1.0;
  if (threads <= 0) threads = HardwareThreads();
  trials = std::max(trials, 1);

  // Calibrate on one thread: double the rounds until a run lasts 5 ms, then
  // scale to the trial length.
  uint64_t reps = 1024;
  double seconds = 0.0;
  float sink = 0.0f;
  for (;;) {
    const Clock::time_point t0 = Clock::now();
    entry->chains(reps, 0.999999f, 1e-6f, &sink);
    seconds = Seconds(t0, Clock::now());
    if (seconds >= 0.005 || reps >= (uint64_t{1} << 40)) break;
    reps *= 2;
  }
  reps = std::max<uint64_t>(
      1, static_cast<uint64_t>(static_cast<double>(reps) * seconds_per_trial /
                               std::max(seconds, 1e-9)));

  double best = 0.0;
  for (int trial = 0; trial < trials; ++trial) {
    best = std::max(best, RunTrial(entry->chains, threads, reps));
  }
  return best;
}

double FmaPeakGflops(const std::string& target, int threads) {
  if (threads <= 0) threads = HardwareThreads();
  static std::mutex mutex;
  static std::map<std::pair<std::string, int>, double> cache;
  const std::pair<std::string, int> key(target, threads);
  {
    std::lock_guard<std::mutex> lock(mutex);
    const auto it = cache.find(key);
    if (it != cache.end()) return it->second;
  }
  // Measured outside the lock; a concurrent first call may measure twice,
  // which is harmless.
  const double gflops = MeasureFmaPeakGflops(target, threads);
  std::lock_guard<std::mutex> lock(mutex);
  return cache.emplace(key, gflops).first->second;
}

}  // namespace swattn_bench

#endif  // HWY_ONCE
