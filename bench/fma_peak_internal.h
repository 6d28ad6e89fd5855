// Declarations shared by fma_peak.cc and fma_peak_scalar.cc; not public.
#ifndef SWATTN_BENCH_FMA_PEAK_INTERNAL_H_
#define SWATTN_BENCH_FMA_PEAK_INTERNAL_H_

#include <cstdint>

namespace swattn_bench {

// Runs `reps` rounds of independent scalar multiply-add chains; returns the
// flops performed and stores a value depending on all chains in `*sink`.
uint64_t ScalarFmaChains(uint64_t reps, float a, float b, float* sink);

}  // namespace swattn_bench

#endif  // SWATTN_BENCH_FMA_PEAK_INTERNAL_H_
