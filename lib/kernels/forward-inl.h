// The f32 forward kernel, compiled once per SIMD target (Highway
// foreach_target); see forward_f32.cc.
//
// Layout. A tile is T = 2 vectors of consecutive query rows, kept in lanes:
// row r of the tile is lane r. The tile's queries are packed once, transposed
// and pre-scaled, as Qt[d][r] = q[r][d] * scale * log2(e). Keys are walked in
// blocks of kKeyBlock over the union of the tile's windows, and per block:
//   St[j][r] = sum_d Qt[d][r] * k[j][d]   broadcast k, FMA two vectors of rows
//   masking  only on the two edge blocks, from the window bounds
//   softmax  lane-parallel: running max m, P = 2^(St - m), l += sum P
//   O[r][:]  = O[r][:] * alpha[r] + sum_j P[j][r] * v[j][:]
// so K and V are read in place (no packing), the online softmax needs no
// horizontal reductions, and the accumulator rescale rides on the load of O.
//
// NaN locality: the edge masks select -inf rather than add it, so a NaN key
// outside a row's window cannot reach that row's scores; the P.V update walks
// each row's own key range, so 0 * NaN never happens for a value outside it.

#if defined(SWATTN_KERNELS_FORWARD_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SWATTN_KERNELS_FORWARD_INL_H_
#undef SWATTN_KERNELS_FORWARD_INL_H_
#else
#define SWATTN_KERNELS_FORWARD_INL_H_
#endif

#include <math.h>

#include <algorithm>
#include <limits>

#include "core/problem.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace swattn {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

// Keys per block: bounds the score tile (kKeyBlock x T floats) and the
// stretch of K and V that the heads of one unit reuse from L1.
constexpr int64_t kKeyBlock = 64;

// Register tiles. QK: kQkKeys keys x 2 row vectors of accumulators, plus the
// two Qt vectors and one broadcast. PV: kPvRows rows x 2 vectors of O, plus
// two V vectors and one broadcast. 32-register ISAs take 16 accumulators;
// AVX2 has 16 registers and takes 12.
#if HWY_TARGET == HWY_AVX2
constexpr int kQkKeys = 6;
constexpr int kPvRows = 6;
#else
constexpr int kQkKeys = 8;
constexpr int kPvRows = 8;
#endif

constexpr float kLog2e = 1.44269504088896340736f;
constexpr float kLn2 = 0.693147180559945309417f;

// 2^x for x <= 0 (the only inputs: scores minus their running maximum).
// Round-to-nearest splits x = n + f, |f| <= 1/2; 2^f is its degree-7 Taylor
// polynomial (truncation error 5e-9, so about 1 ulp after rounding) and 2^n
// goes into the exponent bits. Below -126 the result flushes to 0, which also
// maps -inf (masked scores) to exactly 0; NaN stays NaN.
HWY_INLINE VF Exp2(DF df, VF x) {
  const hn::RebindToSigned<DF> di;
  const auto tiny = hn::Lt(x, hn::Set(df, -126.0f));
  x = hn::IfThenElse(tiny, hn::Set(df, -126.0f), x);
  const VF n = hn::Round(x);
  const VF f = hn::Sub(x, n);
  VF poly = hn::Set(df, 1.5252733804059840e-5f);
  poly = hn::MulAdd(poly, f, hn::Set(df, 1.5403530393381606e-4f));
  poly = hn::MulAdd(poly, f, hn::Set(df, 1.3333558146428443e-3f));
  poly = hn::MulAdd(poly, f, hn::Set(df, 9.6181291076284770e-3f));
  poly = hn::MulAdd(poly, f, hn::Set(df, 5.5504108664821580e-2f));
  poly = hn::MulAdd(poly, f, hn::Set(df, 2.4022650695910071e-1f));
  poly = hn::MulAdd(poly, f, hn::Set(df, 6.9314718055994531e-1f));
  poly = hn::MulAdd(poly, f, hn::Set(df, 1.0f));
  const auto bits =
      hn::ShiftLeft<23>(hn::Add(hn::ConvertTo(di, n), hn::Set(di, 127)));
  return hn::IfThenZeroElse(tiny, hn::Mul(poly, hn::BitCast(df, bits)));
}

// St[jj][0..T) = Qt^T k[jj] for kKeys consecutive keys starting at k0.
template <int kKeys>
HWY_INLINE void QkTile(DF df, const float* HWY_RESTRICT qt, int64_t dim,
                       const float* HWY_RESTRICT k0, int64_t k_stride,
                       float* HWY_RESTRICT st) {
  const size_t N = hn::Lanes(df);
  const size_t T = 2 * N;
  // Key rows beyond kKeys alias k0 and are never read.
  const float* HWY_RESTRICT k1 = k0 + (kKeys > 1 ? 1 : 0) * k_stride;
  const float* HWY_RESTRICT k2 = k0 + (kKeys > 2 ? 2 : 0) * k_stride;
  const float* HWY_RESTRICT k3 = k0 + (kKeys > 3 ? 3 : 0) * k_stride;
  const float* HWY_RESTRICT k4 = k0 + (kKeys > 4 ? 4 : 0) * k_stride;
  const float* HWY_RESTRICT k5 = k0 + (kKeys > 5 ? 5 : 0) * k_stride;
  const float* HWY_RESTRICT k6 = k0 + (kKeys > 6 ? 6 : 0) * k_stride;
  const float* HWY_RESTRICT k7 = k0 + (kKeys > 7 ? 7 : 0) * k_stride;
  VF a0 = hn::Zero(df), b0 = hn::Zero(df), a1 = hn::Zero(df);
  VF b1 = hn::Zero(df), a2 = hn::Zero(df), b2 = hn::Zero(df);
  VF a3 = hn::Zero(df), b3 = hn::Zero(df), a4 = hn::Zero(df);
  VF b4 = hn::Zero(df), a5 = hn::Zero(df), b5 = hn::Zero(df);
  VF a6 = hn::Zero(df), b6 = hn::Zero(df), a7 = hn::Zero(df);
  VF b7 = hn::Zero(df);
  for (int64_t d = 0; d < dim; ++d) {
    const VF q0 = hn::Load(df, qt + d * T);
    const VF q1 = hn::Load(df, qt + d * T + N);
#define SWATTN_QK_KEY(i)                   \
  if constexpr (kKeys > i) {               \
    const VF kb = hn::Set(df, k##i[d]);    \
    a##i = hn::MulAdd(kb, q0, a##i);       \
    b##i = hn::MulAdd(kb, q1, b##i);       \
  }
    SWATTN_QK_KEY(0) SWATTN_QK_KEY(1) SWATTN_QK_KEY(2) SWATTN_QK_KEY(3)
    SWATTN_QK_KEY(4) SWATTN_QK_KEY(5) SWATTN_QK_KEY(6) SWATTN_QK_KEY(7)
#undef SWATTN_QK_KEY
  }
#define SWATTN_QK_STORE(i)                     \
  if constexpr (kKeys > i) {                   \
    hn::Store(a##i, df, st + i * T);           \
    hn::Store(b##i, df, st + i * T + N);       \
  }
  SWATTN_QK_STORE(0) SWATTN_QK_STORE(1) SWATTN_QK_STORE(2) SWATTN_QK_STORE(3)
  SWATTN_QK_STORE(4) SWATTN_QK_STORE(5) SWATTN_QK_STORE(6) SWATTN_QK_STORE(7)
#undef SWATTN_QK_STORE
}

// Scores of keys [0, n) of a block, kQkKeys at a time.
HWY_INLINE void QkBlock(DF df, const float* HWY_RESTRICT qt, int64_t dim,
                        const float* HWY_RESTRICT k, int64_t k_stride,
                        int64_t n, float* HWY_RESTRICT st) {
  const size_t T = 2 * hn::Lanes(df);
  int64_t j = 0;
  for (; j + kQkKeys <= n; j += kQkKeys) {
    QkTile<kQkKeys>(df, qt, dim, k + j * k_stride, k_stride, st + j * T);
  }
  const float* kj = k + j * k_stride;
  float* sj = st + j * T;
  switch (n - j) {
    case 7: QkTile<7>(df, qt, dim, kj, k_stride, sj); break;
    case 6: QkTile<6>(df, qt, dim, kj, k_stride, sj); break;
    case 5: QkTile<5>(df, qt, dim, kj, k_stride, sj); break;
    case 4: QkTile<4>(df, qt, dim, kj, k_stride, sj); break;
    case 3: QkTile<3>(df, qt, dim, kj, k_stride, sj); break;
    case 2: QkTile<2>(df, qt, dim, kj, k_stride, sj); break;
    case 1: QkTile<1>(df, qt, dim, kj, k_stride, sj); break;
    default: break;
  }
}

// O[r][c, c + kCols * N) = O * alpha[r] + sum_j P[j][r] v[j][c..] for
// kRows rows, with j over each row's own range [lo[r], hi[r]] (block-relative,
// empty when lo > hi). Keys that every row sees go through the full register
// tile; the few at the ragged ends go row by row.
template <int kRows, int kCols>
HWY_INLINE void PvTile(DF df, const float* HWY_RESTRICT pt,
                       const float* HWY_RESTRICT v, int64_t v_stride,
                       const int64_t* HWY_RESTRICT lo,
                       const int64_t* HWY_RESTRICT hi,
                       const float* HWY_RESTRICT alpha, float* HWY_RESTRICT o,
                       int64_t o_stride) {
  const size_t N = hn::Lanes(df);
  const size_t T = 2 * N;
  int64_t common_lo = lo[0], common_hi = hi[0];
  for (int r = 1; r < kRows; ++r) {
    common_lo = std::max(common_lo, lo[r]);
    common_hi = std::min(common_hi, hi[r]);
  }
  // Rows beyond kRows alias row 0 and are never read or written.
#define SWATTN_PV_ROW_PTR(i) \
  float* HWY_RESTRICT o##i = o + (kRows > i ? i : 0) * o_stride;
  SWATTN_PV_ROW_PTR(0) SWATTN_PV_ROW_PTR(1) SWATTN_PV_ROW_PTR(2)
  SWATTN_PV_ROW_PTR(3) SWATTN_PV_ROW_PTR(4) SWATTN_PV_ROW_PTR(5)
  SWATTN_PV_ROW_PTR(6) SWATTN_PV_ROW_PTR(7)
#undef SWATTN_PV_ROW_PTR
  VF a0 = hn::Zero(df), b0 = hn::Zero(df), a1 = hn::Zero(df);
  VF b1 = hn::Zero(df), a2 = hn::Zero(df), b2 = hn::Zero(df);
  VF a3 = hn::Zero(df), b3 = hn::Zero(df), a4 = hn::Zero(df);
  VF b4 = hn::Zero(df), a5 = hn::Zero(df), b5 = hn::Zero(df);
  VF a6 = hn::Zero(df), b6 = hn::Zero(df), a7 = hn::Zero(df);
  VF b7 = hn::Zero(df);
#define SWATTN_PV_LOAD(i)                                          \
  if constexpr (kRows > i) {                                       \
    const VF al = hn::Set(df, alpha[i]);                           \
    a##i = hn::Mul(hn::Load(df, o##i), al);                        \
    if constexpr (kCols > 1) b##i = hn::Mul(hn::Load(df, o##i + N), al); \
  }
  SWATTN_PV_LOAD(0) SWATTN_PV_LOAD(1) SWATTN_PV_LOAD(2) SWATTN_PV_LOAD(3)
  SWATTN_PV_LOAD(4) SWATTN_PV_LOAD(5) SWATTN_PV_LOAD(6) SWATTN_PV_LOAD(7)
#undef SWATTN_PV_LOAD
  // Every row sees [common_lo, common_hi].
  for (int64_t j = common_lo; j <= common_hi; ++j) {
    const float* HWY_RESTRICT vj = v + j * v_stride;
    const float* HWY_RESTRICT pj = pt + j * T;
    const VF v0 = hn::LoadU(df, vj);
    const VF v1 = kCols > 1 ? hn::LoadU(df, vj + N) : v0;
#define SWATTN_PV_FMA(i)                                   \
  if constexpr (kRows > i) {                               \
    const VF pb = hn::Set(df, pj[i]);                      \
    a##i = hn::MulAdd(pb, v0, a##i);                       \
    if constexpr (kCols > 1) b##i = hn::MulAdd(pb, v1, b##i); \
  }
    SWATTN_PV_FMA(0) SWATTN_PV_FMA(1) SWATTN_PV_FMA(2) SWATTN_PV_FMA(3)
    SWATTN_PV_FMA(4) SWATTN_PV_FMA(5) SWATTN_PV_FMA(6) SWATTN_PV_FMA(7)
#undef SWATTN_PV_FMA
  }
  // The ragged ends: keys some rows of the tile see and others do not.
#define SWATTN_PV_RAGGED(i)                                              \
  if constexpr (kRows > i) {                                             \
    const int64_t mid_lo = std::max(common_lo, lo[i]);                   \
    const int64_t mid_hi = std::min(common_hi, hi[i]);                   \
    for (int64_t j = lo[i]; j <= hi[i]; ++j) {                           \
      if (j == mid_lo && mid_lo <= mid_hi) j = mid_hi + 1;               \
      if (j > hi[i]) break;                                              \
      const float* HWY_RESTRICT vj = v + j * v_stride;                   \
      const VF pb = hn::Set(df, pt[j * T + i]);                          \
      a##i = hn::MulAdd(pb, hn::LoadU(df, vj), a##i);                     \
      if constexpr (kCols > 1) {                                         \
        b##i = hn::MulAdd(pb, hn::LoadU(df, vj + N), b##i);               \
      }                                                                  \
    }                                                                    \
  }
  SWATTN_PV_RAGGED(0) SWATTN_PV_RAGGED(1) SWATTN_PV_RAGGED(2)
  SWATTN_PV_RAGGED(3) SWATTN_PV_RAGGED(4) SWATTN_PV_RAGGED(5)
  SWATTN_PV_RAGGED(6) SWATTN_PV_RAGGED(7)
#undef SWATTN_PV_RAGGED
#define SWATTN_PV_STORE(i)                                   \
  if constexpr (kRows > i) {                                 \
    hn::Store(a##i, df, o##i);                               \
    if constexpr (kCols > 1) hn::Store(b##i, df, o##i + N);  \
  }
  SWATTN_PV_STORE(0) SWATTN_PV_STORE(1) SWATTN_PV_STORE(2) SWATTN_PV_STORE(3)
  SWATTN_PV_STORE(4) SWATTN_PV_STORE(5) SWATTN_PV_STORE(6) SWATTN_PV_STORE(7)
#undef SWATTN_PV_STORE
}

template <int kRows>
HWY_INLINE void PvRows(DF df, const float* HWY_RESTRICT pt,
                       const float* HWY_RESTRICT v, int64_t v_stride,
                       int64_t dv_pad, const int64_t* HWY_RESTRICT lo,
                       const int64_t* HWY_RESTRICT hi,
                       const float* HWY_RESTRICT alpha, float* HWY_RESTRICT o) {
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  int64_t c = 0;
  for (; c + 2 * N <= dv_pad; c += 2 * N) {
    PvTile<kRows, 2>(df, pt, v + c, v_stride, lo, hi, alpha, o + c, dv_pad);
  }
  if (c < dv_pad) {
    PvTile<kRows, 1>(df, pt, v + c, v_stride, lo, hi, alpha, o + c, dv_pad);
  }
}

// The P.V update for rows [0, rows) of a tile, kPvRows at a time.
HWY_INLINE void PvBlock(DF df, const float* HWY_RESTRICT pt,
                        const float* HWY_RESTRICT v, int64_t v_stride,
                        int64_t dv_pad, int64_t rows,
                        const int64_t* HWY_RESTRICT lo,
                        const int64_t* HWY_RESTRICT hi,
                        const float* HWY_RESTRICT alpha,
                        float* HWY_RESTRICT o) {
  int64_t r = 0;
  for (; r + kPvRows <= rows; r += kPvRows) {
    PvRows<kPvRows>(df, pt + r, v, v_stride, dv_pad, lo + r, hi + r,
                    alpha + r, o + r * dv_pad);
  }
  const float* pr = pt + r;
  float* orow = o + r * dv_pad;
  switch (rows - r) {
#define SWATTN_PV_CASE(n)                                                  \
  case n:                                                                  \
    PvRows<n>(df, pr, v, v_stride, dv_pad, lo + r, hi + r, alpha + r, orow); \
    break;
    SWATTN_PV_CASE(7) SWATTN_PV_CASE(6) SWATTN_PV_CASE(5)
    SWATTN_PV_CASE(4) SWATTN_PV_CASE(3) SWATTN_PV_CASE(2)
    SWATTN_PV_CASE(1)
#undef SWATTN_PV_CASE
    default: break;
  }
}

// Scratch of one thread, carved from one buffer (sizes in floats, each a
// multiple of the vector length so every piece stays aligned).
struct Scratch {
  float* qt;     // [heads][dim][T]    packed, scaled queries
  float* o;      // [heads][T][dv_pad] output accumulators
  float* m;      // [heads][T]         running max (log2 units)
  float* l;      // [heads][T]         running denominator
  float* alpha;  // [T]                rescale of the current block
  float* st;     // [kKeyBlock][T]     scores, then probabilities
  float* vpack;  // [kKeyBlock][dv_pad] V block, when Dv needs padding
  int64_t* lo;   // [T]                block-relative key range per row
  int64_t* hi;   // [T]

  static size_t Floats(int64_t heads, int64_t dim, int64_t dv_pad, size_t T) {
    const size_t h = static_cast<size_t>(heads);
    return h * static_cast<size_t>(dim) * T + h * T * dv_pad + 2 * h * T + T +
           kKeyBlock * T + kKeyBlock * dv_pad + 4 * T;
  }

  Scratch(float* base, int64_t heads, int64_t dim, int64_t dv_pad, size_t T) {
    const size_t h = static_cast<size_t>(heads);
    qt = base;
    o = qt + h * static_cast<size_t>(dim) * T;
    m = o + h * T * dv_pad;
    l = m + h * T;
    alpha = l + h * T;
    st = alpha + T;
    vpack = st + kKeyBlock * T;
    lo = reinterpret_cast<int64_t*>(vpack + kKeyBlock * dv_pad);
    hi = lo + T;
  }
};

HWY_INLINE int64_t PaddedDv(DF df, int64_t dim_v) {
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  return (dim_v + N - 1) / N * N;
}

// Sets the scores of key j to -inf in the lanes (rows) whose window misses
// it: rows r with j - right <= p0 + r <= j + left see it.
HWY_INLINE void MaskKey(DF df, const Problem& p, int64_t p0, int64_t j,
                        float* HWY_RESTRICT st_j) {
  const size_t N = hn::Lanes(df);
  const int64_t T = static_cast<int64_t>(2 * N);
  const int64_t r_lo = std::clamp<int64_t>(j - p.right - p0, -1, T);
  const int64_t r_hi = std::clamp<int64_t>(j + p.left - p0, -1, T);
  const VF lo = hn::Set(df, static_cast<float>(r_lo));
  const VF hi = hn::Set(df, static_cast<float>(r_hi));
  const VF neg_inf = hn::Set(df, -std::numeric_limits<float>::infinity());
  const VF r0 = hn::Iota(df, 0.0f);
  const VF r1 = hn::Iota(df, static_cast<float>(N));
  const auto in0 = hn::And(hn::Ge(r0, lo), hn::Le(r0, hi));
  const auto in1 = hn::And(hn::Ge(r1, lo), hn::Le(r1, hi));
  hn::Store(hn::IfThenElse(in0, hn::Load(df, st_j), neg_inf), df, st_j);
  hn::Store(hn::IfThenElse(in1, hn::Load(df, st_j + N), neg_inf), df,
            st_j + N);
}

// Online softmax over one block for the 2 row vectors at offset `half`:
// updates m and l, turns St into P = 2^(St - m) and leaves the rescale of
// the previous accumulators in alpha.
HWY_INLINE void SoftmaxBlock(DF df, int64_t n, float* HWY_RESTRICT st,
                             float* HWY_RESTRICT m, float* HWY_RESTRICT l,
                             float* HWY_RESTRICT alpha) {
  const size_t N = hn::Lanes(df);
  const size_t T = 2 * N;
  const VF neg_inf = hn::Set(df, -std::numeric_limits<float>::infinity());
  for (size_t half = 0; half < T; half += N) {
    VF mx = neg_inf;
    for (int64_t j = 0; j < n; ++j) mx = hn::Max(mx, hn::Load(df, st + j * T + half));
    const VF m_old = hn::Load(df, m + half);
    const VF m_new = hn::Max(m_old, mx);
    // A row that has seen only masked keys keeps m = -inf; subtracting 0
    // instead gives P = 0 and alpha = 0 rather than NaN.
    const VF m_use = hn::IfThenZeroElse(hn::Eq(m_new, neg_inf), m_new);
    const VF a = Exp2(df, hn::Sub(m_old, m_use));
    VF sum0 = hn::Zero(df), sum1 = hn::Zero(df);
    int64_t j = 0;
    for (; j + 2 <= n; j += 2) {
      float* s0 = st + j * T + half;
      float* s1 = s0 + T;
      const VF p0 = Exp2(df, hn::Sub(hn::Load(df, s0), m_use));
      const VF p1 = Exp2(df, hn::Sub(hn::Load(df, s1), m_use));
      hn::Store(p0, df, s0);
      hn::Store(p1, df, s1);
      sum0 = hn::Add(sum0, p0);
      sum1 = hn::Add(sum1, p1);
    }
    if (j < n) {
      float* s0 = st + j * T + half;
      const VF p0 = Exp2(df, hn::Sub(hn::Load(df, s0), m_use));
      hn::Store(p0, df, s0);
      sum0 = hn::Add(sum0, p0);
    }
    hn::Store(m_new, df, m + half);
    hn::Store(hn::MulAdd(hn::Load(df, l + half), a, hn::Add(sum0, sum1)), df,
              l + half);
    hn::Store(a, df, alpha + half);
  }
}

// Queries [i0, i0 + rows) (rows <= T) of heads [h_begin, h_end).
HWY_INLINE void ForwardTile(DF df, const Problem& p, const Unit& w,
                            int64_t i0, int64_t rows, const Scratch& s) {
  const size_t N = hn::Lanes(df);
  const size_t T = 2 * N;
  const int64_t heads = w.h_end - w.h_begin;
  const int64_t dv_pad = PaddedDv(df, p.dim_v);
  const float qscale = p.scale * kLog2e;

  // Pack queries: Qt[d][r], zero rows past the end of the sequence.
  for (int64_t g = 0; g < heads; ++g) {
    float* qt = s.qt + g * p.dim * T;
    for (int64_t r = 0; r < static_cast<int64_t>(T); ++r) {
      const float* q = r < rows ? p.q.Row(w.b, i0 + r, w.h_begin + g) : nullptr;
      for (int64_t d = 0; d < p.dim; ++d) {
        qt[d * T + r] = q != nullptr ? q[d] * qscale : 0.0f;
      }
    }
    std::fill(s.o + g * T * dv_pad, s.o + (g + 1) * T * dv_pad, 0.0f);
    std::fill(s.m + g * T, s.m + (g + 1) * T,
              -std::numeric_limits<float>::infinity());
    std::fill(s.l + g * T, s.l + (g + 1) * T, 0.0f);
  }

  const int64_t p_first = p.Position(i0);
  const int64_t p_last = p.Position(i0 + rows - 1);
  const int64_t j_begin = p.KeyLo(p_first);
  const int64_t j_end = p.KeyHi(p_last) + 1;
  const bool pad_v = dv_pad != p.dim_v;
  for (int64_t j0 = j_begin; j0 < j_end; j0 += kKeyBlock) {
    const int64_t n = std::min(kKeyBlock, j_end - j0);
    // Interior blocks lie inside every row's window and need no mask.
    const bool edge = p.KeyLo(p_last) > j0 || p.KeyHi(p_first) < j0 + n - 1;
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t pos = p_first + r;
      s.lo[r] = std::max(p.KeyLo(pos), j0) - j0;
      s.hi[r] = std::min(p.KeyHi(pos), j0 + n - 1) - j0;
    }
    const float* k = p.k.Row(w.b, j0, w.kv_head);
    const float* v = p.v.Row(w.b, j0, w.kv_head);
    int64_t v_stride = p.v.stride_seq;
    if (pad_v) {
      // Dv is not a multiple of the vector length: copy the block into
      // zero-padded rows so that full-vector loads stay inside memory.
      for (int64_t j = 0; j < n; ++j) {
        float* dst = s.vpack + j * dv_pad;
        std::copy(v + j * p.v.stride_seq, v + j * p.v.stride_seq + p.dim_v, dst);
        std::fill(dst + p.dim_v, dst + dv_pad, 0.0f);
      }
      v = s.vpack;
      v_stride = dv_pad;
    }
    for (int64_t g = 0; g < heads; ++g) {
      QkBlock(df, s.qt + g * p.dim * T, p.dim, k, p.k.stride_seq, n, s.st);
      if (edge) {
        for (int64_t j = 0; j < n; ++j) MaskKey(df, p, p_first, j0 + j, s.st + j * T);
      }
      SoftmaxBlock(df, n, s.st, s.m + g * T, s.l + g * T, s.alpha);
      PvBlock(df, s.st, v, v_stride, dv_pad, rows, s.lo, s.hi, s.alpha,
              s.o + g * T * dv_pad);
    }
  }

  // out = O / l and lse = ln(2) * m + ln(l); an empty window gives 0, -inf.
  for (int64_t g = 0; g < heads; ++g) {
    const int64_t h = w.h_begin + g;
    for (int64_t r = 0; r < rows; ++r) {
      const float l = s.l[g * T + r];
      const float m = s.m[g * T + r];
      const float* o = s.o + (g * T + r) * dv_pad;
      float* out = p.out.Row(w.b, i0 + r, h);
      if (l == 0.0f) {
        std::fill(out, out + p.dim_v, 0.0f);
      } else {
        for (int64_t c = 0; c < p.dim_v; ++c) out[c] = o[c] / l;
      }
      if (p.lse != nullptr) {
        p.lse[(w.b * p.heads + h) * p.nq + i0 + r] = m * kLn2 + logf(l);
      }
    }
  }
}

HWY_INLINE int64_t QueryTile() {
  return static_cast<int64_t>(2 * hn::Lanes(DF()));
}

HWY_INLINE size_t ScratchFloats(const Problem& p, const Tiling& t) {
  const DF df;
  return Scratch::Floats(t.heads_per_unit, p.dim, PaddedDv(df, p.dim_v),
                         2 * hn::Lanes(df));
}

HWY_INLINE void RunUnit(const Problem& p, const Tiling& t, int64_t u,
                        float* scratch) {
  const DF df;
  const Unit w = UnitAt(p, t, u);
  const Scratch s(scratch, t.heads_per_unit, p.dim, PaddedDv(df, p.dim_v),
                  2 * hn::Lanes(df));
  const int64_t T = QueryTile();
  for (int64_t i0 = w.i_begin; i0 < w.i_end; i0 += T) {
    ForwardTile(df, p, w, i0, std::min(T, w.i_end - i0), s);
  }
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace swattn
HWY_AFTER_NAMESPACE();

#endif  // include guard
