// The scalar FMA chains behind the "scalar" peak (see fma_peak.h).
//
// Compiled without auto-vectorisation (bench/CMakeLists.txt) so that the
// independent chains stay scalar instructions; with the compiler's baseline
// ISA like swattn's scalar fallback. One step is a fused std::fma where the
// baseline has a fast one (FP_FAST_FMAF: aarch64), else a multiply and an
// add (x86-64's SSE2 baseline). Either way a step counts as 2 flops.
#include <cmath>
#include <cstdint>

#include "fma_peak_internal.h"

namespace swattn_bench {
namespace {

inline float Step(float acc, float a, float b) {
#if defined(FP_FAST_FMAF)
  return std::fma(acc, a, b);
#else
  return acc * a + b;
#endif
}

}  // namespace

// 12 chains on x86-64 (16 xmm registers, and 8 cover the mul + add latency
// of 8 cycles at one step per cycle); 16 on 32-register ISAs.
uint64_t ScalarFmaChains(uint64_t reps, float a, float b, float* sink) {
#if defined(__x86_64__) || defined(__i386__)
  constexpr int kChains = 12;
#else
  constexpr int kChains = 16;
#endif
  constexpr int kUnroll = 4;
  float acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = 0.1f * static_cast<float>(i);
  for (uint64_t r = 0; r < reps; ++r) {
    for (int u = 0; u < kUnroll; ++u) {
      // Fully unrolled by the compiler: kChains is a constant.
      for (int i = 0; i < kChains; ++i) acc[i] = Step(acc[i], a, b);
    }
  }
  float sum = 0.0f;
  for (int i = 0; i < kChains; ++i) sum += acc[i];
  *sink = sum;
  return reps * kUnroll * kChains * 2;
}

}  // namespace swattn_bench
