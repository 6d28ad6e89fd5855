// FMA chains compiled once per Highway target (see fma_peak.cc).
//
// Each call runs `reps` rounds of kUnroll steps over kAccumulators independent
// vector accumulators, acc = acc * a + b with a just below 1 so the values
// stay bounded and never become denormal. The chains are independent, so the
// loop is bound by FMA throughput as long as kAccumulators covers
// latency x pipes: 4 cycles x 2 pipes = 8 on current x86 and Neoverse V1/V2
// (which has 4 128-bit pipes: 16). 12 on 16-register ISAs (AVX2) leaves room
// for a, b and the loop; 16 on 32-register ISAs (AVX-512, NEON, SVE).
//
// Toggling include guard: this file is included once per target.
#if defined(SWATTN_BENCH_FMA_PEAK_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SWATTN_BENCH_FMA_PEAK_INL_H_
#undef SWATTN_BENCH_FMA_PEAK_INL_H_
#else
#define SWATTN_BENCH_FMA_PEAK_INL_H_
#endif

#include <stdint.h>

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace swattn_bench {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_SSE4 || HWY_TARGET == HWY_SSSE3
constexpr int kAccumulators = 12;
#else
constexpr int kAccumulators = 16;
#endif
constexpr int kUnroll = 4;

// Runs the chains and returns the number of flops performed; `*sink`
// receives a value that depends on every accumulator, so nothing is dead code.
// `a` and `b` are parameters so the compiler cannot fold the chains.
HWY_NOINLINE uint64_t FmaChains(uint64_t reps, float a, float b,
                                float* HWY_RESTRICT sink) {
  const hn::ScalableTag<float> d;
  const auto va = hn::Set(d, a);
  const auto vb = hn::Set(d, b);
  // Named variables, not an array: SVE vectors are sizeless and cannot be
  // array elements.
  auto v0 = hn::Set(d, 0.0f), v1 = hn::Set(d, 0.1f), v2 = hn::Set(d, 0.2f);
  auto v3 = hn::Set(d, 0.3f), v4 = hn::Set(d, 0.4f), v5 = hn::Set(d, 0.5f);
  auto v6 = hn::Set(d, 0.6f), v7 = hn::Set(d, 0.7f), v8 = hn::Set(d, 0.8f);
  auto v9 = hn::Set(d, 0.9f), v10 = hn::Set(d, 1.0f), v11 = hn::Set(d, 1.1f);
#if !(HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_SSE4 || \
      HWY_TARGET == HWY_SSSE3)
  auto v12 = hn::Set(d, 1.2f), v13 = hn::Set(d, 1.3f);
  auto v14 = hn::Set(d, 1.4f), v15 = hn::Set(d, 1.5f);
#endif
  for (uint64_t r = 0; r < reps; ++r) {
    for (int u = 0; u < kUnroll; ++u) {
      v0 = hn::MulAdd(v0, va, vb);
      v1 = hn::MulAdd(v1, va, vb);
      v2 = hn::MulAdd(v2, va, vb);
      v3 = hn::MulAdd(v3, va, vb);
      v4 = hn::MulAdd(v4, va, vb);
      v5 = hn::MulAdd(v5, va, vb);
      v6 = hn::MulAdd(v6, va, vb);
      v7 = hn::MulAdd(v7, va, vb);
      v8 = hn::MulAdd(v8, va, vb);
      v9 = hn::MulAdd(v9, va, vb);
      v10 = hn::MulAdd(v10, va, vb);
      v11 = hn::MulAdd(v11, va, vb);
#if !(HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_SSE4 || \
      HWY_TARGET == HWY_SSSE3)
      v12 = hn::MulAdd(v12, va, vb);
      v13 = hn::MulAdd(v13, va, vb);
      v14 = hn::MulAdd(v14, va, vb);
      v15 = hn::MulAdd(v15, va, vb);
#endif
    }
  }
  auto sum = hn::Add(hn::Add(hn::Add(v0, v1), hn::Add(v2, v3)),
                     hn::Add(hn::Add(v4, v5), hn::Add(v6, v7)));
  sum = hn::Add(sum, hn::Add(hn::Add(v8, v9), hn::Add(v10, v11)));
#if !(HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_SSE4 || \
      HWY_TARGET == HWY_SSSE3)
  sum = hn::Add(sum, hn::Add(hn::Add(v12, v13), hn::Add(v14, v15)));
#endif
  *sink = hn::GetLane(hn::SumOfLanes(d, sum));
  return reps * kUnroll * kAccumulators * 2 * hn::Lanes(d);
}

// Lanes of one float vector on this target (run time for SVE).
HWY_NOINLINE uint64_t FloatLanes() {
  const hn::ScalableTag<float> d;
  return hn::Lanes(d);
}

}  // namespace HWY_NAMESPACE
}  // namespace swattn_bench
HWY_AFTER_NAMESPACE();

#endif  // SWATTN_BENCH_FMA_PEAK_INL_H_
