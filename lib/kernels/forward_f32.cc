// Compiles forward-inl.h once per SIMD target and lists the results.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/forward_f32.cc"
// SSSE3/SSE4 lack FMA; the fixed-width SVE variants would only duplicate SVE.
#define HWY_DISABLED_TARGETS (HWY_SSSE3 | HWY_SSE4 | HWY_SVE_256 | HWY_SVE2_128)
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "kernels/forward-inl.h"
#include "kernels/kernels.h"

HWY_BEFORE_NAMESPACE();
namespace swattn {
namespace HWY_NAMESPACE {

int64_t QueryTileF32() { return QueryTile(); }
int64_t DecodeRowsF32() { return kFewRows; }
size_t ScratchFloatsF32(const Problem& p, const Tiling& t) {
  return ScratchFloats(p, t);
}
void RunUnitsF32(const Problem& p, const Tiling& t, int64_t begin, int64_t end,
                 float* s) {
  RunUnits(p, t, begin, end, s);
}
void Exp2F32(const float* x, size_t n, float* out) {
  const DF df;
  const size_t N = hn::Lanes(df);
  for (size_t i = 0; i < n; i += N) {
    // Through an aligned, zero-padded copy: n need not fill whole vectors.
    HWY_ALIGN float lanes[hn::MaxLanes(df)] = {};
    const size_t live = std::min(N, n - i);
    std::copy(x + i, x + i + live, lanes);
    hn::Store(Exp2(df, hn::Load(df, lanes)), df, lanes);
    std::copy(lanes, lanes + live, out + i);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace swattn
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace swattn {

#define SWATTN_KERNEL(bit, ns, name)                              \
  {bit,                                                           \
   name,                                                          \
   {&ns::QueryTileF32, &ns::DecodeRowsF32, &ns::ScratchFloatsF32, \
    &ns::RunUnitsF32},                                            \
   &ns::Exp2F32},

// Best first. The baseline HWY_SCALAR/EMU128 targets are compiled but not
// listed: the plain C++ kernel is the fallback.
static const SimdKernel kCompiled[] = {
#if HWY_TARGETS & HWY_AVX3
    SWATTN_KERNEL(HWY_AVX3, N_AVX3, "avx512")
#endif
#if HWY_TARGETS & HWY_AVX2
    SWATTN_KERNEL(HWY_AVX2, N_AVX2, "avx2")
#endif
#if HWY_TARGETS & HWY_SVE2
    SWATTN_KERNEL(HWY_SVE2, N_SVE2, "sve2")
#endif
#if HWY_TARGETS & HWY_SVE
    SWATTN_KERNEL(HWY_SVE, N_SVE, "sve")
#endif
#if HWY_TARGETS & HWY_NEON
    SWATTN_KERNEL(HWY_NEON, N_NEON, "neon")
#endif
    // Keeps the array non-empty.
    {0, nullptr, {nullptr, nullptr, nullptr, nullptr}, nullptr},
};
#undef SWATTN_KERNEL

const SimdKernel* CompiledSimdKernels(size_t* count) {
  *count = sizeof(kCompiled) / sizeof(kCompiled[0]) - 1;
  return kCompiled;
}

}  // namespace swattn
#endif  // HWY_ONCE
