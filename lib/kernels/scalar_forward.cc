// The scalar reference kernel: plain C++, one query at a time, with the same
// online softmax the SIMD kernels use. It is the fallback on CPUs without a
// SIMD target and the readable statement of what every kernel computes.
#include <cmath>
#include <limits>

#include "kernels/kernels.h"

namespace swattn {
namespace {

// e^x, or 0 below 2^-64 (as in the SIMD kernels): a weight that small
// beside the running max's 1 cannot change a float32 sum, and subnormal
// weights cost every multiply by them a microcode assist on x86 (a peaked
// softmax ran 2x slower; bench peaked/).
float Weight(float x) {
  constexpr float kLowest = -44.361419555836500f;  // ln(2^-64)
  return x < kLowest ? 0.0f : std::exp(x);  // NaN stays NaN
}

// out = softmax_j(scale * q.k_j) v_j over the visible keys of one query,
// keeping a running maximum m and denominator l: when a score exceeds m, the
// partial sums are rescaled by exp(m_old - m_new) so no exp can overflow.
void ForwardRow(const Problem& p, int64_t b, int64_t h, int64_t i,
                float* acc) {
  const int64_t kvh = h / p.Group();
  const float* q = p.q.Row(b, i, h);
  const int64_t lo = p.KeyLo(p.Position(i));
  const int64_t hi = p.KeyHi(p.Position(i));
  float m = -std::numeric_limits<float>::infinity();
  float l = 0.0f;
  for (int64_t c = 0; c < p.dim_v; ++c) acc[c] = 0.0f;
  for (int64_t j = lo; j <= hi; ++j) {
    const float* k = p.k.Row(b, j, kvh);
    float dot = 0.0f;
    for (int64_t d = 0; d < p.dim; ++d) dot += q[d] * k[d];
    const float s = p.scale * dot;
    if (s > m) {
      const float alpha = Weight(m - s);  // 0 while m is still -inf
      l *= alpha;
      for (int64_t c = 0; c < p.dim_v; ++c) acc[c] *= alpha;
      m = s;
    }
    const float w = Weight(s - m);  // NaN scores stay NaN
    l += w;
    const float* v = p.v.Row(b, j, kvh);
    for (int64_t c = 0; c < p.dim_v; ++c) acc[c] += w * v[c];
  }
  float* out = p.out.Row(b, i, h);
  if (l == 0.0f) {  // empty window: out = 0, lse = -inf
    for (int64_t c = 0; c < p.dim_v; ++c) out[c] = 0.0f;
  } else {
    for (int64_t c = 0; c < p.dim_v; ++c) out[c] = acc[c] / l;
  }
  if (p.lse != nullptr) {
    p.lse[(b * p.heads + h) * p.nq + i] = m + std::log(l);
  }
}

int64_t QueryTile() { return 1; }
int64_t DecodeRows() { return 0; }  // one query at a time, any unit

size_t ScratchFloats(const Problem& p, const Tiling&) {
  return static_cast<size_t>(p.dim_v);
}

void RunUnits(const Problem& p, const Tiling& t, int64_t begin, int64_t end,
              float* scratch) {
  for (int64_t u = begin; u < end; ++u) {
    const Unit w = UnitAt(p, t, u);
    for (int64_t h = w.h_begin; h < w.h_end; ++h) {
      for (int64_t i = w.i_begin; i < w.i_end; ++i) {
        ForwardRow(p, w.b, h, i, scratch);
      }
    }
  }
}

}  // namespace

const ForwardKernel& ScalarKernel() {
  static const ForwardKernel kernel = {&QueryTile, &DecodeRows, &ScratchFloats,
                                       &RunUnits};
  return kernel;
}

}  // namespace swattn
