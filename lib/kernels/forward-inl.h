// The f32 forward kernel, compiled once per SIMD target (Highway
// foreach_target); see forward_f32.cc.
//
// Layout. A tile is T = 2 vectors of consecutive query rows, kept in lanes:
// row r of the tile is lane r. A unit (see core/problem.h) holds several
// tiles and heads; their queries are packed once, transposed and pre-scaled,
// as Qt[d][r] = q[r][d] * scale * log2(e). The unit walks the union of its
// windows in key blocks of kKeyBlock; each block is packed contiguously once
// (when enough tiles reuse it; otherwise each tile walks its own keys in
// place) and then, for every tile and head it reaches, kQkKeys keys at a
// time:
//   S[j][r] = sum_d Qt[d][r] * k[j][d]   broadcast k, FMA two vectors of rows
//   masking  only on keys at the window's edges, from the bounds
//   softmax  in the same registers, lane-parallel: P = 2^(S - m) into a small
//            tile, l += sum P; the max m is raised only when a score passes
//            it by more than kMaxGrowth (then the block so far is rescaled)
//   O[r][:]  = O[r][:] * alpha[r] + sum_j P[j][r] * v[j][:]   per block
// so the online softmax needs no horizontal reductions, scores never go
// through memory, and the rescale of the accumulators rides on their load.
// A tile's last block stores O / l straight into the output rows, with
// non-temporal stores when the engine asks for them and the rows are whole
// aligned lines (then the line queue does not fetch them).
//
// Units of at most kFewRows queries (decode steps) put keys in the lanes
// instead; see ForwardFewRows.
//
// NaN locality: the edge masks select -inf rather than add it, so a NaN key
// outside a row's window cannot reach that row's scores; the P.V update walks
// each row's own key range, so 0 * NaN never happens for a value outside it.
// A row's max moves on its own scores only, so its result does not depend on
// its neighbours' data.

#if defined(SWATTN_KERNELS_FORWARD_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SWATTN_KERNELS_FORWARD_INL_H_
#undef SWATTN_KERNELS_FORWARD_INL_H_
#else
#define SWATTN_KERNELS_FORWARD_INL_H_
#endif

#include <math.h>
#include <stdint.h>

#include <algorithm>
#include <limits>
#include <type_traits>

#include "core/problem.h"
#include "hwy/cache_control.h"
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
// two Qt vectors and one broadcast. PV: kPvRows / 2 rows x 4 vectors of O
// (kPvRows x 2 or x 1 for the last columns), plus the V vectors and one
// broadcast: 4 x 4 loads 8 vectors per 16 FMAs where 8 x 2 loads 10, and
// leaves 3 rather than 7 ragged keys at each window edge (+2-18%, most at
// small windows). 32-register ISAs take 16 accumulators;
// AVX2 has 16 registers and takes 12.
#if HWY_TARGET == HWY_AVX2
constexpr int kQkKeys = 6;
constexpr int kPvRows = 6;
#else
constexpr int kQkKeys = 8;
constexpr int kPvRows = 8;
#endif

// The running max m (log2 units) is stale: it is raised only when a score
// passes it by more than this, so most key groups go straight from scores to
// probabilities, each at most 2^8.
constexpr float kMaxGrowth = 8.0f;

// Below 2^kExp2Floor, Exp2 gives 0. A probability that small (the largest
// of a row is at least 1) is far below float32 resolution in the row's sum,
// and letting it reach P.V would be costly: FMAs that meet a subnormal
// product take a microcode assist on Intel cores, ~70 times slower, and
// with a peaked softmax most products would (bench peaked/).
constexpr float kExp2Floor = -64.0f;

// c0 + c1 f + ... + c5 f^5 by Horner's rule: the 2^f of both Exp2 below.
HWY_INLINE VF Poly5(DF df, VF f, float c0, float c1, float c2, float c3,
                    float c4, float c5) {
  VF poly = hn::Set(df, c5);
  poly = hn::MulAdd(poly, f, hn::Set(df, c4));
  poly = hn::MulAdd(poly, f, hn::Set(df, c3));
  poly = hn::MulAdd(poly, f, hn::Set(df, c2));
  poly = hn::MulAdd(poly, f, hn::Set(df, c1));
  return hn::MulAdd(poly, f, hn::Set(df, c0));
}

// 2^x for x <= kMaxGrowth (the only inputs: scores minus their stale max).
// Masked scores (-inf) give exactly 0, and NaN stays NaN.
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
// AVX-512: x = n + f with n = floor(x) and f in [0, 1) (vreduceps), 2^f a
// degree-5 polynomial fitted for relative error on [0, 1] (1.2 ulp in
// float32, exactly 1 at f = 0), and vscalefps multiplies it by 2^floor(x),
// zeroing the lanes below the floor (not NaN: the compare is unordered).
// 8 instructions where the portable version below takes 12: at D = 64 the
// softmax takes ~11 instructions instead of ~15 per 64 Q.K FMAs (+1-3%).
HWY_INLINE VF Exp2(DF df, VF x) {
  const __mmask16 keep = _mm512_cmp_ps_mask(
      x.raw, _mm512_set1_ps(kExp2Floor), _CMP_NLT_UQ);
  const VF f{
      _mm512_reduce_ps(x.raw, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC)};
  const VF poly = Poly5(df, f, 1.0f, 6.931512951850891e-1f,
                        2.4016444385051727e-1f, 5.579991638660431e-2f,
                        9.017025120556355e-3f, 1.8671323778107762e-3f);
  return VF{_mm512_maskz_scalef_ps(keep, poly.raw, x.raw)};
}
#else
// Adding 1.5 * 2^23 + 127 rounds x to the nearest integer n and leaves
// n + 127, the biased exponent of 2^n, in the low bits (two adds instead of
// a round and a conversion, which take three uops on Intel's port 0; exact
// for |x| < 2^22, which the clamp below and x <= kMaxGrowth ensure). Then
// x = n + f, |f| <= 1/2, and 2^f is a degree-5 polynomial fitted for
// relative error on [-1/2, 1/2] (1.5 ulp in float32, exactly 1 at f = 0).
// x below the floor becomes -127, where the exponent bits are 0 and the
// result is 0. That is a compare and select, not Max, because Max drops NaN
// on Arm (maxnm) and NaN must stay NaN.
HWY_INLINE VF Exp2(DF df, VF x) {
  const hn::RebindToSigned<DF> di;
  x = hn::IfThenElse(hn::Lt(x, hn::Set(df, kExp2Floor)),
                     hn::Set(df, -127.0f), x);
  const VF magic = hn::Set(df, 12582912.0f + 127.0f);
  const VF biased = hn::Add(x, magic);
  const VF f = hn::Sub(x, hn::Sub(biased, magic));
  const VF poly = Poly5(df, f, 1.0f, 6.931470036506653e-1f,
                        2.4022242426872253e-1f, 5.550733581185341e-2f,
                        9.671508334577084e-3f, 1.326470635831356e-3f);
  const auto bits = hn::ShiftLeft<23>(hn::BitCast(di, biased));
  return hn::Mul(poly, hn::BitCast(df, bits));
}
#endif

// Rows to bring into the cache: row r starts at base + r * stride bytes and
// spans `lines` cache lines.
struct RowSet {
  const char* base;
  int64_t stride, rows, lines;
};

// Rows [s_begin, s_end) of head h of batch entry b, `floats` wide.
template <typename T>
HWY_INLINE RowSet RowsOf(const View<T>& t, int64_t b, int64_t s_begin,
                         int64_t s_end, int64_t h, int64_t floats) {
  const char* base = reinterpret_cast<const char*>(t.Row(b, s_begin, h));
  const int64_t stride = t.stride_seq * 4;
  // A row that does not start on a line boundary touches one line more.
  const bool aligned =
      ((reinterpret_cast<uintptr_t>(base) | static_cast<uintptr_t>(stride)) &
       63) == 0;
  return RowSet{base, stride, std::max<int64_t>(s_end - s_begin, 0),
                (floats * 4 + 63) / 64 + (aligned ? 0 : 1)};
}

// Lines to prefetch, asked for a few at a time so that the requests spread
// over the work before the rows are read: the kernel's loops call Next()
// once per Q.K group and once per P.V register tile. A burst stalls on the
// L1 fill buffers (each prefetch holds one until its line arrives): at
// D = 64, W = 128, bursts of a block's K and V rows cost ~6% of the time.
class LineQueue {
 public:
  // K and V, and the query and output rows of up to four heads (the
  // engine's units hold at most four; a fifth head's rows would go without
  // prefetches).
  static constexpr int kMaxSets = 10;

  // Queues the rows of `set` after those queued so far.
  void Add(const RowSet& set) {
    if (set.rows > 0 && set.lines > 0 && sets_ < kMaxSets) {
      if (left_ == 0) StartRow(set.base, set.lines);
      set_[sets_++] = set;
      left_ += set.rows * set.lines;
    }
  }

  // Spreads what is queued over about `calls` calls of Next().
  void Spread(int64_t calls) {
    per_call_ = (left_ + calls - 1) / std::max<int64_t>(calls, 1);
  }

  // Asks for the next few lines, into L2 (locality 2).
  void Next() { Ask(per_call_); }

  // Asks for every line not asked for yet.
  void Rest() { Ask(left_); }

 private:
  // One prefetch, one add and one compare per line: at D = 64 the queue
  // asks for a line every ~160 FMAs, so its bookkeeping shows (computing
  // each line's address from its row and line index cost 1-4% more).
  void Ask(int64_t lines) {
    for (lines = std::min(lines, left_), left_ -= lines; lines > 0; --lines) {
      __builtin_prefetch(line_, 0, 2);
      line_ += 64;
      if (line_ == row_end_) NextRow();
    }
  }

  void NextRow() {
    const RowSet* s = &set_[at_];
    if (++row_ == s->rows) {
      row_ = 0;
      if (++at_ == sets_) return;
      s = &set_[at_];
    }
    StartRow(s->base + row_ * s->stride, s->lines);
  }

  void StartRow(const char* row, int64_t lines) {
    line_ = row;
    row_end_ = row + lines * 64;
  }

  RowSet set_[kMaxSets];
  int sets_ = 0, at_ = 0;
  int64_t left_ = 0, per_call_ = 0, row_ = 0;
  const char* line_ = nullptr;     // the next line to ask for
  const char* row_end_ = nullptr;  // past the last line of its row
};

// The online-softmax state of one tile while it walks a key block, [T]
// each. (In memory, not registers: SVE vectors cannot be struct members, and
// a few L1 loads per kQkKeys x dim FMAs cost little.)
struct BlockSoftmax {
  float* m;      // running max (log2 units); see kNoMax
  float* sum;    // sum of this block's probabilities
  float* alpha;  // rescale of the state from before this block
};

// The max of a row that has seen no key: finite, so that masked scores
// (-inf) minus it give P = 0 rather than NaN (and scores need no check for
// it); any larger score raises it, as kNoMax + kMaxGrowth rounds to kNoMax.
constexpr float kNoMax = std::numeric_limits<float>::lowest();

// Where the tile's windows cut the block: st entries [full_a, full_b] are
// inside every row's window; the others are masked per row. Entry jj of st
// is key j_first + jj; row r of the tile is at position p0 + r, and rows
// from `rows` on are padding past the end of the unit.
struct TileEdges {
  const Problem* p;
  int64_t p0, rows, j_first, full_a, full_b;
};

// Sets the scores of key j to -inf in the lanes (rows) whose window misses
// it: rows r with j - right <= p0 + r <= j + left see it. Selecting -inf
// rather than adding it keeps a NaN outside the window out of the row.
HWY_INLINE void MaskKey(DF df, const TileEdges& e, int64_t j, VF& s0,
                        VF& s1) {
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  const int64_t r_begin = std::clamp<int64_t>(j - e.p->right - e.p0, 0, 2 * N);
  const int64_t r_end = std::clamp<int64_t>(j + e.p->left - e.p0 + 1, 0, 2 * N);
  const VF neg_inf = hn::Set(df, -std::numeric_limits<float>::infinity());
  const auto visible = [&](int64_t half) {
    const size_t b = static_cast<size_t>(std::clamp<int64_t>(r_begin - half, 0, N));
    const size_t en = static_cast<size_t>(std::clamp<int64_t>(r_end - half, 0, N));
    return hn::AndNot(hn::FirstN(df, b), hn::FirstN(df, en));
  };
  s0 = hn::IfThenElse(visible(0), s0, neg_inf);
  s1 = hn::IfThenElse(visible(N), s1, neg_inf);
}

// Raises the max to the group max g in the lanes up0/up1 (where g passes it
// by more than kMaxGrowth) and rescales what the block has accumulated in
// them so far: its `done` stored probabilities and its sum. Other lanes are
// left bit for bit, so a row's result never depends on its neighbours'.
HWY_INLINE void RaiseMax(DF df, VF g0, VF g1, hn::Mask<DF> up0,
                         hn::Mask<DF> up1, int64_t done,
                         float* HWY_RESTRICT st, const BlockSoftmax& s) {
  const size_t N = hn::Lanes(df);
  const VF one = hn::Set(df, 1.0f);
  const VF m0 = hn::Load(df, s.m);
  const VF m1 = hn::Load(df, s.m + N);
  // 2^(m - g) is 0 for rows that had seen no key (m = kNoMax).
  const VF c0 = hn::IfThenElse(up0, Exp2(df, hn::Sub(m0, g0)), one);
  const VF c1 = hn::IfThenElse(up1, Exp2(df, hn::Sub(m1, g1)), one);
  for (int64_t j = 0; j < done; ++j) {
    float* HWY_RESTRICT sj = st + j * 2 * N;
    hn::Store(hn::Mul(hn::Load(df, sj), c0), df, sj);
    hn::Store(hn::Mul(hn::Load(df, sj + N), c1), df, sj + N);
  }
  hn::Store(hn::Mul(hn::Load(df, s.sum), c0), df, s.sum);
  hn::Store(hn::Mul(hn::Load(df, s.sum + N), c1), df, s.sum + N);
  hn::Store(hn::Mul(hn::Load(df, s.alpha), c0), df, s.alpha);
  hn::Store(hn::Mul(hn::Load(df, s.alpha + N), c1), df, s.alpha + N);
  hn::Store(hn::IfThenElse(up0, g0, m0), df, s.m);
  hn::Store(hn::IfThenElse(up1, g1, m1), df, s.m + N);
}

// For kKeys consecutive keys from k0 (st entries jj...): the scores
// Qt^T k, masked at the window edges, then P = 2^(score - m) into st and
// into the running sum. The scores never leave registers. kLive says which
// of the tile's two row vectors see these keys (bit 0: rows [0, N), bit 1:
// rows [N, 2N)); a vector that sees none of them is skipped, and its st
// entries are left as they are, since no row of it reads them.
template <int kKeys, int kLive>
HWY_INLINE void QkTile(DF df, const float* HWY_RESTRICT qt, int64_t dim,
                       const float* HWY_RESTRICT k0, int64_t k_stride,
                       int64_t jj, const TileEdges& e, float* HWY_RESTRICT st,
                       const BlockSoftmax& s) {
  constexpr bool kLo = (kLive & 1) != 0;
  constexpr bool kHi = (kLive & 2) != 0;
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
    const VF q0 = kLo ? hn::Load(df, qt + d * T) : hn::Zero(df);
    const VF q1 = kHi ? hn::Load(df, qt + d * T + N) : hn::Zero(df);
#define SWATTN_QK_KEY(i)                              \
  if constexpr (kKeys > i) {                          \
    const VF kb = hn::Set(df, k##i[d]);               \
    if constexpr (kLo) a##i = hn::MulAdd(kb, q0, a##i); \
    if constexpr (kHi) b##i = hn::MulAdd(kb, q1, b##i); \
  }
    SWATTN_QK_KEY(0) SWATTN_QK_KEY(1) SWATTN_QK_KEY(2) SWATTN_QK_KEY(3)
    SWATTN_QK_KEY(4) SWATTN_QK_KEY(5) SWATTN_QK_KEY(6) SWATTN_QK_KEY(7)
#undef SWATTN_QK_KEY
  }
  if (jj < e.full_a || jj + kKeys - 1 > e.full_b) {
#define SWATTN_QK_MASK(i)                                      \
  if constexpr (kKeys > i) {                                   \
    if (jj + i < e.full_a || jj + i > e.full_b) {              \
      MaskKey(df, e, e.j_first + jj + i, a##i, b##i);          \
    }                                                          \
  }
    SWATTN_QK_MASK(0) SWATTN_QK_MASK(1) SWATTN_QK_MASK(2) SWATTN_QK_MASK(3)
    SWATTN_QK_MASK(4) SWATTN_QK_MASK(5) SWATTN_QK_MASK(6) SWATTN_QK_MASK(7)
#undef SWATTN_QK_MASK
  }
  VF g0 = a0, g1 = b0;
#define SWATTN_QK_MAX(i)                          \
  if constexpr (kKeys > i) {                      \
    if constexpr (kLo) g0 = hn::Max(g0, a##i);    \
    if constexpr (kHi) g1 = hn::Max(g1, b##i);    \
  }
  SWATTN_QK_MAX(1) SWATTN_QK_MAX(2) SWATTN_QK_MAX(3) SWATTN_QK_MAX(4)
  SWATTN_QK_MAX(5) SWATTN_QK_MAX(6) SWATTN_QK_MAX(7)
#undef SWATTN_QK_MAX
  const VF growth = hn::Set(df, kMaxGrowth);
  const auto up0 = kLo ? hn::Gt(g0, hn::Add(hn::Load(df, s.m), growth))
                       : hn::FirstN(df, 0);
  const auto up1 = kHi ? hn::Gt(g1, hn::Add(hn::Load(df, s.m + N), growth))
                       : hn::FirstN(df, 0);
  if (!hn::AllFalse(df, up0) || !hn::AllFalse(df, up1)) {
    RaiseMax(df, g0, g1, up0, up1, jj, st, s);
  }
  const VF mu0 = hn::Load(df, s.m);
  const VF mu1 = hn::Load(df, s.m + N);
  VF sum0 = hn::Load(df, s.sum);
  VF sum1 = hn::Load(df, s.sum + N);
#define SWATTN_QK_EXP(i)                                        \
  if constexpr (kKeys > i) {                                    \
    if constexpr (kLo) {                                        \
      const VF p0 = Exp2(df, hn::Sub(a##i, mu0));               \
      hn::Store(p0, df, st + (jj + i) * T);                     \
      sum0 = hn::Add(sum0, p0);                                 \
    }                                                           \
    if constexpr (kHi) {                                        \
      const VF p1 = Exp2(df, hn::Sub(b##i, mu1));               \
      hn::Store(p1, df, st + (jj + i) * T + N);                 \
      sum1 = hn::Add(sum1, p1);                                 \
    }                                                           \
  }
  SWATTN_QK_EXP(0) SWATTN_QK_EXP(1) SWATTN_QK_EXP(2) SWATTN_QK_EXP(3)
  SWATTN_QK_EXP(4) SWATTN_QK_EXP(5) SWATTN_QK_EXP(6) SWATTN_QK_EXP(7)
#undef SWATTN_QK_EXP
  hn::Store(sum0, df, s.sum);
  hn::Store(sum1, df, s.sum + N);
}

// QkTile over st entries [j, end), all seen by the row vectors kLive, in
// groups of kQkKeys and one shorter group; pf asks for a few lines per group.
// Out of line, like PvColumns: inlined into one function with the rest, the
// Q.K loop ran out of general registers and reloaded key row pointers from
// the stack on every step.
template <int kLive>
HWY_NOINLINE void QkRange(DF df, const float* HWY_RESTRICT qt, int64_t dim,
                          const float* HWY_RESTRICT k, int64_t k_stride,
                          int64_t j, int64_t end, const TileEdges& e,
                          float* HWY_RESTRICT st, const BlockSoftmax& s,
                          LineQueue* pf) {
  for (; j + kQkKeys <= end; j += kQkKeys) {
    pf->Next();
    QkTile<kQkKeys, kLive>(df, qt, dim, k + j * k_stride, k_stride, j, e, st,
                           s);
  }
  const float* kj = k + j * k_stride;
  switch (end - j) {
#define SWATTN_QK_CASE(c)                                          \
  case c:                                                          \
    QkTile<c, kLive>(df, qt, dim, kj, k_stride, j, e, st, s);      \
    break;
    SWATTN_QK_CASE(7) SWATTN_QK_CASE(6) SWATTN_QK_CASE(5)
    SWATTN_QK_CASE(4) SWATTN_QK_CASE(3) SWATTN_QK_CASE(2)
    SWATTN_QK_CASE(1)
#undef SWATTN_QK_CASE
    default: break;
  }
}

// The online softmax of one tile over keys [0, n) of a block: P into st,
// the updated max m and denominator l, and in alpha the rescale of the
// output accumulators so far.
HWY_INLINE void QkSoftmaxBlock(DF df, const float* HWY_RESTRICT qt,
                               int64_t dim, const float* HWY_RESTRICT k,
                               int64_t k_stride, int64_t n,
                               const TileEdges& e, float* HWY_RESTRICT st,
                               float* HWY_RESTRICT m, float* HWY_RESTRICT l,
                               float* HWY_RESTRICT sum,
                               float* HWY_RESTRICT alpha, LineQueue* pf) {
  const size_t N = hn::Lanes(df);
  for (size_t r = 0; r < 2 * N; r += N) {
    hn::Store(hn::Zero(df), df, sum + r);
    hn::Store(hn::Set(df, 1.0f), df, alpha + r);
  }
  const BlockSoftmax s{m, sum, alpha};
  // Keys before the first one that rows [N, 2N) see are for rows [0, N)
  // only, keys after the last one those see for rows [N, 2N) only: small
  // windows skip up to half the work there.
  // Padding rows do not count, so a row's result does not depend on where
  // the unit ends.
  const Problem& p = *e.p;
  const int64_t half = static_cast<int64_t>(N);
  const int64_t hi_from =
      e.rows <= half
          ? n
          : std::clamp<int64_t>(p.KeyLo(e.p0 + half) - e.j_first, 0, n);
  const int64_t lo_to = std::clamp<int64_t>(
      p.KeyHi(e.p0 + half - 1) + 1 - e.j_first, hi_from, n);
  QkRange<1>(df, qt, dim, k, k_stride, 0, hi_from, e, st, s, pf);
  QkRange<3>(df, qt, dim, k, k_stride, hi_from, lo_to, e, st, s, pf);
  QkRange<2>(df, qt, dim, k, k_stride, lo_to, n, e, st, s, pf);
  for (size_t r = 0; r < 2 * N; r += N) {
    hn::Store(hn::MulAdd(hn::Load(df, l + r), hn::Load(df, alpha + r),
                         hn::Load(df, sum + r)),
              df, l + r);
  }
}

// Where a tile's P.V update starts and ends. On the tile's first key block
// the accumulators start at zero (nothing to load); on its last they are
// scaled by 1/l and stored straight into the output rows, so O makes no
// extra pass through memory and the output stores spread over the work.
struct PvEnds {
  bool first;
  const float* inv_l;  // [rows] 1/l on the tile's last block, else nullptr
  float* out;          // output row 0 at this column slice
  int64_t out_stride;  // floats between output rows
  int64_t cols;        // output columns from this slice on
  bool stream;         // rows are whole aligned lines: store non-temporally

  // The same for the rows from r on and the columns from c on.
  PvEnds At(int64_t r, int64_t c) const {
    return PvEnds{first, inv_l == nullptr ? nullptr : inv_l + r,
                  out + r * out_stride + c, out_stride, cols - c, stream};
  }
};

// Stores v to row[c, c + N), cut at column `cols`: non-temporally if
// `stream` (the row is then aligned). The row may be unaligned otherwise; a
// masked store could write past it on targets that emulate one.
HWY_INLINE void StoreOut(DF df, VF v, float* HWY_RESTRICT row, int64_t c,
                         int64_t cols, bool stream) {
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  if (stream && c + N <= cols) {
    hn::Stream(v, df, row + c);
  } else if (c + N <= cols) {
    hn::StoreU(v, df, row + c);
  } else if (c < cols) {
    HWY_ALIGN float lanes[hn::MaxLanes(df)];
    hn::Store(v, df, lanes);
    std::copy(lanes, lanes + (cols - c), row + c);
  }
}

// O[r][c, c + kCols * N) = O * alpha[r] + sum_j P[j][r] v[j][c..] for
// kRows rows, with j over each row's own range [lo[r], hi[r]] (block-relative,
// empty when lo > hi). Keys that every row sees go through the full register
// tile; the few at the ragged ends update only the rows that see them. Each
// row adds its keys in increasing j, so a row's sum does not depend on its
// neighbours' ranges.
template <int kRows, int kCols>
HWY_INLINE void PvTile(DF df, const float* HWY_RESTRICT pt,
                       const float* HWY_RESTRICT v, int64_t v_stride,
                       const int64_t* HWY_RESTRICT lo,
                       const int64_t* HWY_RESTRICT hi,
                       const float* HWY_RESTRICT alpha, float* HWY_RESTRICT o,
                       int64_t o_stride, const PvEnds& ends) {
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
  // Columns 2 and 3, for tiles of at most 4 rows (c4..d7 are never used;
  // they only let the 8-row macros below compile).
  VF c0 = hn::Zero(df), d0 = hn::Zero(df), c1 = hn::Zero(df);
  VF d1 = hn::Zero(df), c2 = hn::Zero(df), d2 = hn::Zero(df);
  VF c3 = hn::Zero(df), d3 = hn::Zero(df), c4 = c3, d4 = d3, c5 = c3;
  VF d5 = d3, c6 = c3, d6 = d3, c7 = c3, d7 = d3;
#define SWATTN_PV_LOAD(i)                                          \
  if constexpr (kRows > i) {                                       \
    const VF al = hn::Set(df, alpha[i]);                           \
    a##i = hn::Mul(hn::Load(df, o##i), al);                        \
    if constexpr (kCols > 1) b##i = hn::Mul(hn::Load(df, o##i + N), al); \
    if constexpr (kCols > 2) {                                     \
      c##i = hn::Mul(hn::Load(df, o##i + 2 * N), al);              \
      d##i = hn::Mul(hn::Load(df, o##i + 3 * N), al);              \
    }                                                              \
  }
  if (!ends.first) {
    SWATTN_PV_LOAD(0) SWATTN_PV_LOAD(1) SWATTN_PV_LOAD(2) SWATTN_PV_LOAD(3)
    SWATTN_PV_LOAD(4) SWATTN_PV_LOAD(5) SWATTN_PV_LOAD(6) SWATTN_PV_LOAD(7)
  }
#undef SWATTN_PV_LOAD
  // Loads key j's V slice into vj0..vj3 (as many as kCols; the rest alias
  // vj0 and are never read).
#define SWATTN_PV_V(j)                                         \
  const float* HWY_RESTRICT vj = v + (j) * v_stride;           \
  const VF vj0 = hn::LoadU(df, vj);                            \
  const VF vj1 = kCols > 1 ? hn::LoadU(df, vj + N) : vj0;      \
  const VF vj2 = kCols > 2 ? hn::LoadU(df, vj + 2 * N) : vj0;  \
  const VF vj3 = kCols > 2 ? hn::LoadU(df, vj + 3 * N) : vj0;
  // Row i += P[j][i] * v[j], for one key j whose V slice is in vj0..vj3.
#define SWATTN_PV_ROW(i, j)                                       \
  if constexpr (kRows > i) {                                      \
    const VF pb = hn::Set(df, pt[(j) * T + i]);                   \
    a##i = hn::MulAdd(pb, vj0, a##i);                             \
    if constexpr (kCols > 1) b##i = hn::MulAdd(pb, vj1, b##i);    \
    if constexpr (kCols > 2) {                                    \
      c##i = hn::MulAdd(pb, vj2, c##i);                           \
      d##i = hn::MulAdd(pb, vj3, d##i);                           \
    }                                                             \
  }
  if (common_lo <= common_hi) {
    // lo and hi do not decrease with the row, so a key before the common
    // range is seen by a prefix of the rows and one after it by a suffix:
    // each such key loads its V slice once for all the rows that see it.
    int64_t seen = 0;  // rows [0, seen) see key j
    for (int64_t j = lo[0]; j < common_lo; ++j) {
      while (lo[seen] <= j) ++seen;
      SWATTN_PV_V(j)
      switch (seen) {
#define SWATTN_PV_PREFIX(i) \
  case i + 1:               \
    SWATTN_PV_ROW(i, j)     \
    [[fallthrough]];
        SWATTN_PV_PREFIX(7) SWATTN_PV_PREFIX(6) SWATTN_PV_PREFIX(5)
        SWATTN_PV_PREFIX(4) SWATTN_PV_PREFIX(3) SWATTN_PV_PREFIX(2)
        SWATTN_PV_PREFIX(1) SWATTN_PV_PREFIX(0)
#undef SWATTN_PV_PREFIX
        default: break;
      }
    }
    // Every row sees [common_lo, common_hi].
    for (int64_t j = common_lo; j <= common_hi; ++j) {
      SWATTN_PV_V(j)
      SWATTN_PV_ROW(0, j) SWATTN_PV_ROW(1, j) SWATTN_PV_ROW(2, j)
      SWATTN_PV_ROW(3, j) SWATTN_PV_ROW(4, j) SWATTN_PV_ROW(5, j)
      SWATTN_PV_ROW(6, j) SWATTN_PV_ROW(7, j)
    }
    int64_t first = 0;  // rows [first, kRows) see key j
    for (int64_t j = common_hi + 1; j <= hi[kRows - 1]; ++j) {
      while (hi[first] < j) ++first;
      SWATTN_PV_V(j)
      switch (first) {
#define SWATTN_PV_SUFFIX(i) \
  case i:                   \
    SWATTN_PV_ROW(i, j)     \
    [[fallthrough]];
        SWATTN_PV_SUFFIX(0) SWATTN_PV_SUFFIX(1) SWATTN_PV_SUFFIX(2)
        SWATTN_PV_SUFFIX(3) SWATTN_PV_SUFFIX(4) SWATTN_PV_SUFFIX(5)
        SWATTN_PV_SUFFIX(6) SWATTN_PV_SUFFIX(7)
#undef SWATTN_PV_SUFFIX
        default: break;
      }
    }
  } else {
    // Windows narrower than the register tile: row by row.
#define SWATTN_PV_ALONE(i)                                       \
  if constexpr (kRows > i) {                                     \
    for (int64_t j = lo[i]; j <= hi[i]; ++j) {                   \
      SWATTN_PV_V(j)                                             \
      SWATTN_PV_ROW(i, j)                                        \
    }                                                            \
  }
    SWATTN_PV_ALONE(0) SWATTN_PV_ALONE(1) SWATTN_PV_ALONE(2)
    SWATTN_PV_ALONE(3) SWATTN_PV_ALONE(4) SWATTN_PV_ALONE(5)
    SWATTN_PV_ALONE(6) SWATTN_PV_ALONE(7)
#undef SWATTN_PV_ALONE
  }
#undef SWATTN_PV_ROW
#undef SWATTN_PV_V
#define SWATTN_PV_STORE(i)                                   \
  if constexpr (kRows > i) {                                 \
    hn::Store(a##i, df, o##i);                               \
    if constexpr (kCols > 1) hn::Store(b##i, df, o##i + N);  \
    if constexpr (kCols > 2) {                               \
      hn::Store(c##i, df, o##i + 2 * N);                     \
      hn::Store(d##i, df, o##i + 3 * N);                     \
    }                                                        \
  }
  // A row with l = 0 (an empty window, or only -inf scores) gives 0, not
  // 0 * O, which is NaN where v is not finite; l = NaN keeps the NaN.
#define SWATTN_PV_OUT(i)                                                  \
  if constexpr (kRows > i) {                                              \
    const VF f = hn::Set(df, ends.inv_l[i]);                              \
    const auto none = hn::Eq(f, hn::Zero(df));                            \
    float* HWY_RESTRICT row = ends.out + i * ends.out_stride;             \
    StoreOut(df, hn::IfThenZeroElse(none, hn::Mul(a##i, f)), row, 0,      \
             ends.cols, ends.stream);                                     \
    if constexpr (kCols > 1) {                                            \
      StoreOut(df, hn::IfThenZeroElse(none, hn::Mul(b##i, f)), row,       \
               static_cast<int64_t>(N), ends.cols, ends.stream);          \
    }                                                                     \
    if constexpr (kCols > 2) {                                            \
      StoreOut(df, hn::IfThenZeroElse(none, hn::Mul(c##i, f)), row,       \
               static_cast<int64_t>(2 * N), ends.cols, ends.stream);      \
      StoreOut(df, hn::IfThenZeroElse(none, hn::Mul(d##i, f)), row,       \
               static_cast<int64_t>(3 * N), ends.cols, ends.stream);      \
    }                                                                     \
  }
  if (ends.inv_l == nullptr) {
    SWATTN_PV_STORE(0) SWATTN_PV_STORE(1) SWATTN_PV_STORE(2) SWATTN_PV_STORE(3)
    SWATTN_PV_STORE(4) SWATTN_PV_STORE(5) SWATTN_PV_STORE(6) SWATTN_PV_STORE(7)
  } else {
    SWATTN_PV_OUT(0) SWATTN_PV_OUT(1) SWATTN_PV_OUT(2) SWATTN_PV_OUT(3)
    SWATTN_PV_OUT(4) SWATTN_PV_OUT(5) SWATTN_PV_OUT(6) SWATTN_PV_OUT(7)
  }
#undef SWATTN_PV_OUT
#undef SWATTN_PV_STORE
}

// PvTile over rows [0, rows), kTileRows at a time and one shorter tile; pf
// asks for a few lines per tile. Out of line for the reason given at QkRange.
template <int kCols>
HWY_NOINLINE void PvColumns(DF df, const float* HWY_RESTRICT pt,
                            const float* HWY_RESTRICT v, int64_t v_stride,
                            int64_t o_stride, int64_t rows,
                            const int64_t* HWY_RESTRICT lo,
                            const int64_t* HWY_RESTRICT hi,
                            const float* HWY_RESTRICT alpha,
                            float* HWY_RESTRICT o, const PvEnds& ends,
                            LineQueue* pf) {
  // The same number of accumulators for every column count.
  constexpr int kTileRows = kCols > 2 ? kPvRows / 2 : kPvRows;
  int64_t r = 0;
  for (; r + kTileRows <= rows; r += kTileRows) {
    pf->Next();
    PvTile<kTileRows, kCols>(df, pt + r, v, v_stride, lo + r, hi + r,
                             alpha + r, o + r * o_stride, o_stride,
                             ends.At(r, 0));
  }
  const float* pr = pt + r;
  float* orow = o + r * o_stride;
  switch (rows - r) {
#define SWATTN_PV_CASE(n)                                                  \
  case n:                                                                  \
    if constexpr (n < kTileRows) {                                         \
      PvTile<n, kCols>(df, pr, v, v_stride, lo + r, hi + r, alpha + r,     \
                       orow, o_stride, ends.At(r, 0));                     \
    }                                                                      \
    break;
    SWATTN_PV_CASE(7) SWATTN_PV_CASE(6) SWATTN_PV_CASE(5)
    SWATTN_PV_CASE(4) SWATTN_PV_CASE(3) SWATTN_PV_CASE(2)
    SWATTN_PV_CASE(1)
#undef SWATTN_PV_CASE
    default: break;
  }
}

// The P.V update for rows [0, rows) of a tile. Columns are the outer loop,
// so every row tile reads one 4-vector slice of the V block (16 KiB for 64
// keys on AVX-512) while it is in L1. Measured the same as rows outer at
// Dv = 128 on Sapphire Rapids; it bounds L1 traffic for wider Dv. Row r's
// accumulators start at o + r * o_stride. Slices are kWide vectors (4 or 2)
// where they fit.
template <int kWide = 4>
HWY_INLINE void PvBlock(DF df, const float* HWY_RESTRICT pt,
                        const float* HWY_RESTRICT v, int64_t v_stride,
                        int64_t dv_pad, int64_t o_stride, int64_t rows,
                        const int64_t* HWY_RESTRICT lo,
                        const int64_t* HWY_RESTRICT hi,
                        const float* HWY_RESTRICT alpha, float* HWY_RESTRICT o,
                        const PvEnds& ends, LineQueue* pf) {
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  int64_t c = 0;
  // The slice of kCols vectors from column c on.
  const auto slice = [&](auto cols) {
    constexpr int kCols = decltype(cols)::value;
    PvColumns<kCols>(df, pt, v + c, v_stride, o_stride, rows, lo, hi, alpha,
                     o + c, ends.At(0, c), pf);
    c += kCols * N;
  };
  while (c + kWide * N <= dv_pad) slice(std::integral_constant<int, kWide>());
  if (c + 2 * N <= dv_pad) slice(std::integral_constant<int, 2>());
  if (c < dv_pad) slice(std::integral_constant<int, 1>());
}

// Scratch of one thread, carved from one buffer (sizes in floats, each a
// multiple of the vector length so every piece stays aligned). A unit has
// `tiles` query tiles of T rows for each of its `heads` heads; a decode
// step's unit keeps one row per (head, query) pair instead.
struct Scratch {
  float* qt;     // [heads][tiles][dim][T]    packed, scaled queries
  float* o;      // [heads][tiles][T][dv_pad] output accumulators
  float* m;      // [heads][tiles][T]         running max (log2 units)
  float* l;      // [heads][tiles][T]         running denominator
  float* alpha;  // [T]                       rescale of the current block
  float* sum;    // [T]                       sum of the current block's P
  float* inv_l;  // [T]                       1/l on a tile's last block
  float* pairs;  // [2][T]                    a decode batch's scores, 4 x N
  float* st;     // [kKeyBlock][T]            probabilities of a block
  float* kpack;  // [kKeyBlock][dim]          the key block, contiguous
  float* vpack;  // [kKeyBlock][dv_pad]       the value block, zero-padded
  int64_t* lo;   // [T]                       block-relative key range per row
  int64_t* hi;   // [T]

  // SIZE_MAX when the count does not fit (dim near kMaxExtent): the engine
  // then fails the call instead of allocating a wrapped-around size.
  static size_t Floats(size_t rows, size_t dim, size_t dv_pad, size_t T) {
    // rows * (dim + dv_pad + 2) + kKeyBlock * (dim + dv_pad + T) + 10 * T;
    // the sums of two extents cannot wrap, the products can.
    size_t queries, keys, total;
    if (__builtin_mul_overflow(rows, dim + dv_pad + 2, &queries) ||
        __builtin_mul_overflow(size_t{kKeyBlock}, dim + dv_pad + T, &keys) ||
        __builtin_add_overflow(queries, keys, &total) ||
        __builtin_add_overflow(total, 10 * T, &total)) {
      return SIZE_MAX;
    }
    return total;
  }

  // rows: StateRows, a multiple of T.
  Scratch(float* base, size_t rows, size_t dim, size_t dv_pad, size_t T) {
    qt = base;
    o = qt + rows * dim;
    m = o + rows * dv_pad;
    l = m + rows;
    alpha = l + rows;
    sum = alpha + T;
    inv_l = sum + T;
    pairs = inv_l + T;
    st = pairs + 2 * T;
    kpack = st + kKeyBlock * T;
    // dim may be odd: round the key block up to whole vectors.
    vpack = kpack + (kKeyBlock * dim + T - 1) / T * T;
    lo = reinterpret_cast<int64_t*>(vpack + kKeyBlock * dv_pad);
    hi = lo + T;
  }
};

HWY_INLINE int64_t PaddedDv(DF df, int64_t dim_v) {
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  return (dim_v + N - 1) / N * N;
}

// Copies keys [j0, j0 + n) of one kv head into the contiguous blocks. With
// [seq, heads, dim] layouts one head's rows are heads * dim floats apart,
// often a whole page: they alias in the caches and defeat the hardware
// prefetcher, so tiles read the packed copy instead.
HWY_INLINE void PackBlock(const Problem& p, int64_t b, int64_t kv_head,
                          int64_t j0, int64_t n, bool pack_k, bool pack_v,
                          int64_t dv_pad, const Scratch& s) {
  for (int64_t j = 0; pack_k && j < n; ++j) {
    const float* k = p.k.Row(b, j0 + j, kv_head);
    std::copy(k, k + p.dim, s.kpack + j * p.dim);
  }
  for (int64_t j = 0; pack_v && j < n; ++j) {
    const float* v = p.v.Row(b, j0 + j, kv_head);
    float* vp = s.vpack + j * dv_pad;
    std::copy(v, v + p.dim_v, vp);
    std::fill(vp + p.dim_v, vp + dv_pad, 0.0f);
  }
}

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
// Transposes the N x N floats of r[0, N) in registers.
HWY_INLINE void TransposeSquare(VF* r) {
#if HWY_TARGET <= HWY_AVX3
  // Unpacks within 128-bit lanes, then 128-bit lane shuffles across the
  // groups of 4 rows: 64 shuffles per 256 floats.
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i].raw, r[i + 1].raw);
    t[i + 1] = _mm512_unpackhi_ps(r[i].raw, r[i + 1].raw);
  }
  // u[g + k]: in 128-bit lane L, column 4L + k of rows g..g+3.
  __m512 u[16];
  for (int g = 0; g < 16; g += 4) {
    const __m512d t0 = _mm512_castps_pd(t[g]), t1 = _mm512_castps_pd(t[g + 1]);
    const __m512d t2 = _mm512_castps_pd(t[g + 2]);
    const __m512d t3 = _mm512_castps_pd(t[g + 3]);
    u[g] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
    u[g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
    u[g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
    u[g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
  }
  for (int k = 0; k < 4; ++k) {
    const __m512 v0 = _mm512_shuffle_f32x4(u[k], u[4 + k], 0x88);
    const __m512 v1 = _mm512_shuffle_f32x4(u[k], u[4 + k], 0xdd);
    const __m512 v2 = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0x88);
    const __m512 v3 = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0xdd);
    r[k].raw = _mm512_shuffle_f32x4(v0, v2, 0x88);
    r[4 + k].raw = _mm512_shuffle_f32x4(v1, v3, 0x88);
    r[8 + k].raw = _mm512_shuffle_f32x4(v0, v2, 0xdd);
    r[12 + k].raw = _mm512_shuffle_f32x4(v1, v3, 0xdd);
  }
#else
  // Unpacks and shuffles within 128-bit lanes, then 128-bit lane swaps
  // between the two groups of 4 rows: 24 shuffles per 64 floats.
  __m256 t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i].raw, r[i + 1].raw);
    t[i + 1] = _mm256_unpackhi_ps(r[i].raw, r[i + 1].raw);
  }
  // u[g + k]: in 128-bit lane L, column 4L + k of rows g..g+3.
  for (int g = 0; g < 8; g += 4) {
    u[g] = _mm256_shuffle_ps(t[g], t[g + 2], 0x44);
    u[g + 1] = _mm256_shuffle_ps(t[g], t[g + 2], 0xee);
    u[g + 2] = _mm256_shuffle_ps(t[g + 1], t[g + 3], 0x44);
    u[g + 3] = _mm256_shuffle_ps(t[g + 1], t[g + 3], 0xee);
  }
  for (int k = 0; k < 4; ++k) {
    r[k].raw = _mm256_permute2f128_ps(u[k], u[4 + k], 0x20);
    r[4 + k].raw = _mm256_permute2f128_ps(u[k], u[4 + k], 0x31);
  }
#endif
}
#endif

// Qt[d][r] = q[r][d] * qscale for the tile's rows r < rows, and 0 for the
// rest; q's rows are q_stride floats apart. x86 transposes N x N blocks in
// registers: Zen 5 gathers 64-bit lanes at ~1 per 14 cycles, and at W = 16,
// D = 128 the gathers took a fifth of the time (transposing: +18% there).
// Other targets gather, two dimensions at a time where the target has 64-bit
// lanes (gathers were 7% faster than element by element at W = 16, D = 128
// from L2), unless the row offsets overflow the int32 gather index.
HWY_INLINE void PackQueries(DF df, const float* HWY_RESTRICT q,
                            int64_t q_stride, int64_t rows, int64_t dim,
                            float qscale, float* HWY_RESTRICT qt) {
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  const int64_t T = 2 * N;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
  const VF scale = hn::Set(df, qscale);
  for (int64_t h = 0; h < T; h += N) {
    const int64_t live = std::clamp<int64_t>(rows - h, 0, N);
    for (int64_t d0 = 0; d0 < dim; d0 += N) {
      const int64_t cols = std::min(dim - d0, N);
      const auto in = hn::FirstN(df, static_cast<size_t>(cols));
      VF r[hn::MaxLanes(df)];
      for (int64_t i = 0; i < N; ++i) {
        r[i] = i < live ? hn::MaskedLoad(in, df, q + (h + i) * q_stride + d0)
                        : hn::Zero(df);
      }
      TransposeSquare(r);
      for (int64_t c = 0; c < cols; ++c) {
        hn::Store(hn::Mul(r[c], scale), df, qt + (d0 + c) * T + h);
      }
    }
  }
#else
  if ((T - 1) * q_stride > std::numeric_limits<int32_t>::max()) {
    for (int64_t r = 0; r < T; ++r) {
      for (int64_t d = 0; d < dim; ++d) {
        qt[d * T + r] = r < rows ? q[r * q_stride + d] * qscale : 0.0f;
      }
    }
    return;
  }
  const hn::RebindToSigned<DF> di;
  const VF scale = hn::Set(df, qscale);
  for (int64_t h = 0; h < T; h += N) {
    const int64_t live = std::clamp<int64_t>(rows - h, 0, N);
    // Lanes past the rows read the last row (a valid address) and are zeroed.
    const int32_t last = static_cast<int32_t>(std::max<int64_t>(rows - 1, 0));
    const auto row = hn::Min(
        hn::Add(hn::Iota(di, 0), hn::Set(di, static_cast<int32_t>(h))),
        hn::Set(di, last));
    const auto offset =
        hn::Mul(row, hn::Set(di, static_cast<int32_t>(q_stride)));
    const auto keep = hn::FirstN(df, static_cast<size_t>(live));
    int64_t d = 0;
#if HWY_TARGET != HWY_SCALAR
    if (live > 0) {
      // Two dimensions per gather: each 64-bit lane holds (d, d + 1) of one
      // row, so two gathers of N / 2 rows and ConcatEven / ConcatOdd give Qt
      // for d and d + 1 (half the gathered elements; +3-5% at W = 16 from L2).
      const hn::Repartition<int64_t, DF> d64;
      // Byte offsets of rows from h + first on (the last row past the end).
      const auto offsets = [&](int64_t first) {
        HWY_ALIGN int64_t lanes[hn::MaxLanes(d64)];
        for (int64_t i = 0; i < N / 2; ++i) {
          lanes[i] = std::min(h + first + i, rows - 1) * q_stride * 4;
        }
        return hn::Load(d64, lanes);
      };
      const auto off_lo = offsets(0);
      const auto off_hi = offsets(N / 2);
      for (; d + 2 <= dim; d += 2) {
        const int64_t* base = reinterpret_cast<const int64_t*>(q + d);
        const VF lo = hn::BitCast(df, hn::GatherOffset(d64, base, off_lo));
        const VF hi = hn::BitCast(df, hn::GatherOffset(d64, base, off_hi));
        const VF even = hn::ConcatEven(df, hi, lo);
        const VF odd = hn::ConcatOdd(df, hi, lo);
        hn::Store(hn::IfThenElseZero(keep, hn::Mul(even, scale)), df,
                  qt + d * T + h);
        hn::Store(hn::IfThenElseZero(keep, hn::Mul(odd, scale)), df,
                  qt + (d + 1) * T + h);
      }
    }
#endif
    for (; d < dim; ++d) {
      const VF x =
          live == 0 ? hn::Zero(df) : hn::GatherIndex(df, q + d, offset);
      hn::Store(hn::IfThenElseZero(keep, hn::Mul(x, scale)), df,
                qt + d * T + h);
    }
  }
#endif
}

// What a unit reads and writes next, for the line queue: K and V rows of
// keys [j_begin, j_end), and for every head the query rows [q_begin, q_end)
// and the output rows [o_begin, o_end).
struct NextRows {
  int64_t j_begin, j_end, q_begin, q_end, o_begin, o_end;
};

// Queues, in place of what was queued, the rows `r` of unit w, to be asked
// for over about `calls` calls of Next(). Output rows are fetched too,
// unless they are streamed: a tile's last block stores its rows of out (128
// vectors at D = 64), and stores to lines not in the cache wait for them,
// most likely until the store buffer fills and stalls the core: +5-16% on
// the D = 64, W = 128 and W = 16 rows, causal or not.
HWY_INLINE void QueueRows(const Problem& p, const Unit& w, const NextRows& r,
                          bool stream, int64_t calls, LineQueue* pf) {
  *pf = LineQueue();
  pf->Add(RowsOf(p.k, w.b, r.j_begin, r.j_end, w.kv_head, p.dim));
  pf->Add(RowsOf(p.v, w.b, r.j_begin, r.j_end, w.kv_head, p.dim_v));
  for (int64_t h = w.h_begin; h < w.h_end; ++h) {
    pf->Add(RowsOf(p.q, w.b, r.q_begin, r.q_end, h, p.dim));
  }
  for (int64_t h = w.h_begin; h < w.h_end && !stream; ++h) {
    pf->Add(RowsOf(p.out, w.b, r.o_begin, r.o_end, h, p.dim_v));
  }
  pf->Spread(calls);
}

// The first query of tile t of unit w; for t = tiles, the unit's end.
HWY_INLINE int64_t TileBegin(const Unit& w, int64_t T, int64_t t) {
  return std::min(w.i_begin + t * T, w.i_end);
}

// The keys that tile t of unit w reaches: [TileLo, TileHi], the union of
// its rows' windows (empty when TileLo > TileHi).
HWY_INLINE int64_t TileLo(const Problem& p, const Unit& w, int64_t T,
                          int64_t t) {
  return p.KeyLo(p.Position(TileBegin(w, T, t)));
}
HWY_INLINE int64_t TileHi(const Problem& p, const Unit& w, int64_t T,
                          int64_t t) {
  return p.KeyHi(p.Position(TileBegin(w, T, t + 1) - 1));
}

// The first tile t from t_begin on with edge(t) >= j, or `tiles` if none;
// edge is TileLo or TileHi, which do not decrease with t.
template <class Edge>
HWY_INLINE int64_t FirstTileFrom(int64_t t_begin, int64_t tiles, int64_t j,
                                 const Edge& edge) {
  int64_t t = t_begin;
  while (t < tiles && edge(t) < j) ++t;
  return t;
}

// Whether unit w copies its K and V blocks. Packing a block pays off when
// many (tile, head) passes read it: about heads * (window + block) / T of
// them. Rows already back to back (one kv head, or [batch, heads, seq, dim])
// do not alias in the caches, so their copy needs twice the passes. avx2,
// one head, N = 131072: W = 16 (5 and 6 passes) ran 1.1-1.6x faster in place
// (three A/Bs), 6-9% in cache; from 12 passes on, in place ran -5% to +2%,
// and W = 512 10% slower. Small windows read K and V in place (V is still
// packed when Dv needs padding to whole vectors).
struct Packing {
  bool k, v;
};
HWY_INLINE Packing PackingOf(const Problem& p, const Unit& w, int64_t T,
                             int64_t dv_pad) {
  const bool back_to_back =
      p.k.stride_seq == p.dim && p.v.stride_seq == p.dim_v;
  const bool k = (w.h_end - w.h_begin) * (p.WindowKeys() + kKeyBlock) >=
                 (back_to_back ? 8 : 4) * T;
  return Packing{k, k || dv_pad != p.dim_v};
}

// What unit w reads before its first Q.K group. Walking packed blocks, it
// packs the first block and the queries of every tile that block reaches;
// otherwise it walks tile by tile, from the first tile's keys and queries.
// Either way the output rows are those it may write meanwhile.
HWY_INLINE NextRows FirstRows(const Problem& p, const Unit& w, int64_t T,
                              bool blocks) {
  const int64_t tiles = (w.i_end - w.i_begin + T - 1) / T;
  const int64_t j_begin = TileLo(p, w, T, 0);
  if (!blocks) {
    const int64_t i_end = TileBegin(w, T, 1);
    return {j_begin, TileHi(p, w, T, 0) + 1, w.i_begin, i_end, w.i_begin,
            i_end};
  }
  const int64_t j_end =
      std::min(TileHi(p, w, T, tiles - 1) + 1, j_begin + kKeyBlock);
  // Tiles [0, t_end) reach the block; tiles [0, o_end) end in it.
  const int64_t t_end = FirstTileFrom(
      0, tiles, j_end, [&](int64_t t) { return TileLo(p, w, T, t); });
  const int64_t o_end = FirstTileFrom(
      0, tiles, j_end, [&](int64_t t) { return TileHi(p, w, T, t); });
  return {j_begin,   j_end,
          w.i_begin, TileBegin(w, T, t_end),
          w.i_begin, TileBegin(w, T, o_end)};
}

// Computes one unit: every tile of T queries and every head of the unit
// against each key block of the unit's band, packing each block once. During
// its last key block it fetches what `next` (if not null), the unit this
// thread computes next, reads first. `stream`: see PvEnds.
HWY_INLINE void ForwardUnit(DF df, const Problem& p, const Unit& w,
                            const Unit* next, bool stream, const Scratch& s) {
  const int64_t T = static_cast<int64_t>(2 * hn::Lanes(df));
  const int64_t heads = w.h_end - w.h_begin;
  const int64_t tiles = (w.i_end - w.i_begin + T - 1) / T;
  const int64_t dv_pad = PaddedDv(df, p.dim_v);
  const float qscale = p.scale * kLog2e;
  const auto rows_of = [&](int64_t t) {
    return std::min(T, w.i_end - w.i_begin - t * T);
  };
  const auto state = [&](int64_t g, int64_t t) { return g * tiles + t; };

  // Packs tile t's queries for every head and resets its softmax state.
  // Tiles are packed when first reached, so that their query rows can come
  // in through the line queue during the work before.
  const auto pack_tile = [&](int64_t t) {
    for (int64_t g = 0; g < heads; ++g) {
      const int64_t x = state(g, t);
      PackQueries(df, p.q.Row(w.b, w.i_begin + t * T, w.h_begin + g),
                  p.q.stride_seq, rows_of(t), p.dim, qscale,
                  s.qt + x * p.dim * T);
      std::fill(s.m + x * T, s.m + (x + 1) * T, kNoMax);
      std::fill(s.l + x * T, s.l + (x + 1) * T, 0.0f);
    }
  };

  // Tile t against keys [j0, j0 + n), which kb / vb hold (packed or in
  // place), for every head.
  const auto run_tile = [&](int64_t t, int64_t j0, int64_t n,
                            const float* HWY_RESTRICT kb, int64_t k_stride,
                            const float* HWY_RESTRICT vb, int64_t v_stride,
                            LineQueue* pf) {
    const int64_t rows = rows_of(t);
    const int64_t p_first = p.Position(w.i_begin + t * T);
    const int64_t p_last = p_first + rows - 1;
    // The part of this block that the tile's windows reach.
    const int64_t a = std::max(p.KeyLo(p_first), j0) - j0;
    const int64_t b = std::min(p.KeyHi(p_last), j0 + n - 1) - j0;
    // Keys inside every row's window need no mask.
    const int64_t full_a = std::max(p.KeyLo(p_last), j0) - j0;
    const int64_t full_b = std::min(p.KeyHi(p_first), j0 + n - 1) - j0;
    const TileEdges edges{&p, p_first, rows, j0 + a, full_a - a, full_b - a};
    for (int64_t r = 0; r < rows; ++r) {
      s.lo[r] = std::max(p.KeyLo(p_first + r), j0) - j0 - a;
      s.hi[r] = std::min(p.KeyHi(p_first + r), j0 + n - 1) - j0 - a;
    }
    // The tile's first and last blocks (see PvEnds).
    const bool first = p.KeyLo(p_first) >= j0;
    const bool last = p.KeyHi(p_last) < j0 + n;
    for (int64_t g = 0; g < heads; ++g) {
      const int64_t x = state(g, t);
      float* l = s.l + x * T;
      QkSoftmaxBlock(df, s.qt + x * p.dim * T, p.dim, kb + a * k_stride,
                     k_stride, b - a + 1, edges, s.st, s.m + x * T, l, s.sum,
                     s.alpha, pf);
      for (int64_t r = 0; last && r < rows; ++r) {
        s.inv_l[r] = InverseSum(l[r]);  // one division a row
      }
      const PvEnds ends{first, last ? s.inv_l : nullptr,
                        p.out.Row(w.b, w.i_begin + t * T, w.h_begin + g),
                        p.out.stride_seq, p.dim_v, stream};
      PvBlock(df, s.st, vb + a * v_stride, v_stride, dv_pad, dv_pad, rows, s.lo,
              s.hi, s.alpha, s.o + x * T * dv_pad, ends, pf);
    }
  };
  const auto tile_lo = [&](int64_t t) { return TileLo(p, w, T, t); };
  const auto tile_hi = [&](int64_t t) { return TileHi(p, w, T, t); };
  // About how many prefetcher calls tile t makes on keys [j0, j0 + n): one
  // per Q.K group and one per P.V register tile, for every head.
  const int64_t pv_slices = (dv_pad + T - 1) / T;
  const auto tile_calls = [&](int64_t t, int64_t j0, int64_t n) {
    const int64_t keys = std::min(tile_hi(t), j0 + n - 1) -
                         std::max(tile_lo(t), j0) + 1;
    return heads * (std::max<int64_t>(keys, 0) / kQkKeys +
                    rows_of(t) / kPvRows * pv_slices);
  };

  LineQueue pf;
  // Queues the K and V rows of keys [j_begin, j_end), the query rows of
  // tiles [t_begin, t_end) and the output rows of tiles [o_begin, o_end),
  // to be asked for over the `calls` calls before they are read (spreading
  // them over the first half measured the same or up to 2% slower).
  const auto queue_next = [&](int64_t j_begin, int64_t j_end, int64_t t_begin,
                              int64_t t_end, int64_t o_begin, int64_t o_end,
                              int64_t calls) {
    const auto row = [&](int64_t t) { return TileBegin(w, T, t); };
    QueueRows(
        p, w,
        {j_begin, j_end, row(t_begin), row(t_end), row(o_begin), row(o_end)},
        stream, calls, &pf);
  };
  // The same for what the next unit reads first, which would otherwise
  // start on demand misses (K and V of the halo were read by its neighbour
  // long ago): +0-4%. All of it: a small window's unit is a block or two,
  // and fetching only its first tile's keys and queries left the rest to
  // the copy and the query packing (avx2, [seq, heads, dim], causal W = 16:
  // +10-26%).
  const auto queue_next_unit = [&](int64_t calls) {
    if (next == nullptr) {
      pf = LineQueue();  // nothing left to fetch
      return;
    }
    const Packing packs = PackingOf(p, *next, T, dv_pad);
    QueueRows(p, *next, FirstRows(p, *next, T, packs.k || packs.v), stream,
              calls, &pf);
  };

  const Packing packs = PackingOf(p, w, T, dv_pad);
  const bool pack_k = packs.k, pack_v = packs.v;
  if (!pack_k && !pack_v) {
    // Nothing to share: each tile walks its own keys from the first, in as
    // few blocks as they fit (one for small windows, where blocks of the
    // unit's band would cut most tiles in two).
    for (int64_t t = 0; t < tiles; ++t) {
      // Queries are packed tile by tile, so the next tile's query and output
      // rows come in with its new keys, over a whole tile's work.
      pack_tile(t);
      const int64_t calls =
          tile_calls(t, tile_lo(t), tile_hi(t) + 1 - tile_lo(t));
      if (t + 1 < tiles) {
        queue_next(std::max(tile_hi(t) + 1, tile_lo(t + 1)), tile_hi(t + 1) + 1,
                   t + 1, t + 2, t + 1, t + 2, calls);
      } else {
        queue_next_unit(calls);
      }
      for (int64_t j0 = tile_lo(t); j0 <= tile_hi(t); j0 += kKeyBlock) {
        run_tile(t, j0, std::min(kKeyBlock, tile_hi(t) + 1 - j0),
                 p.k.Row(w.b, j0, w.kv_head), p.k.stride_seq,
                 p.v.Row(w.b, j0, w.kv_head), p.v.stride_seq, &pf);
      }
      pf.Rest();
    }
  } else {
    int64_t packed = 0;  // tiles [0, packed) are packed
    const int64_t j_begin = tile_lo(0);
    const int64_t j_end = tile_hi(tiles - 1) + 1;
    for (int64_t j0 = j_begin; j0 < j_end; j0 += kKeyBlock) {
      const int64_t n = std::min(kKeyBlock, j_end - j0);
      const int64_t next_n = std::min(kKeyBlock, j_end - j0 - n);
      // The tiles whose windows reach this block.
      int64_t t_begin = tiles, t_end = 0;
      for (int64_t t = 0; t < tiles; ++t) {
        if (tile_lo(t) < j0 + n && tile_hi(t) >= j0) {
          t_begin = std::min(t_begin, t);
          t_end = t + 1;
        }
      }
      // Queries first: the packed block is then the latest in L1.
      for (; packed < t_end; ++packed) pack_tile(packed);
      PackBlock(p, w.b, w.kv_head, j0, n, pack_k, pack_v, dv_pad, s);
      // The next block, the query rows of the tiles it reaches first and the
      // output rows of those it is the last block of.
      const int64_t t_next =
          FirstTileFrom(t_end, tiles, j0 + n + next_n, tile_lo);
      int64_t calls = 0;
      for (int64_t t = t_begin; t < t_end; ++t) calls += tile_calls(t, j0, n);
      if (next_n > 0) {
        const int64_t o_begin = FirstTileFrom(t_begin, tiles, j0 + n, tile_hi);
        const int64_t o_end =
            FirstTileFrom(o_begin, tiles, j0 + n + next_n, tile_hi);
        queue_next(j0 + n, j0 + n + next_n, t_end, t_next, o_begin, o_end,
                   calls);
      } else {
        queue_next_unit(calls);
      }
      for (int64_t t = t_begin; t < t_end; ++t) {
        run_tile(t, j0, n, pack_k ? s.kpack : p.k.Row(w.b, j0, w.kv_head),
                 pack_k ? p.dim : p.k.stride_seq, s.vpack, dv_pad, &pf);
      }
      pf.Rest();
    }
    // Tiles that no block reaches still need their softmax state reset.
    for (; packed < tiles; ++packed) pack_tile(packed);
  }

  // Each tile's last block wrote its output. A tile that reaches no key
  // (every row's window is empty) gives 0; lse = ln(2) * m + ln(l), -inf
  // for an empty window.
  for (int64_t g = 0; g < heads; ++g) {
    const int64_t h = w.h_begin + g;
    for (int64_t t = 0; t < tiles; ++t) {
      const int64_t x = state(g, t);
      const bool no_keys = tile_lo(t) > tile_hi(t);
      for (int64_t r = 0; r < rows_of(t); ++r) {
        const int64_t i = w.i_begin + t * T + r;
        if (no_keys) {
          float* out = p.out.Row(w.b, i, h);
          std::fill(out, out + p.dim_v, 0.0f);
        }
        if (p.lse != nullptr) {
          p.lse[(w.b * p.heads + h) * p.nq + i] =
              Lse(s.m[x * T + r], s.l[x * T + r]);
        }
      }
    }
  }
}

// Units of at most kFewRows queries (decode steps) take their own path: with
// rows in the lanes, one query per head would leave all but one lane of each
// Q.K FMA idle. Here keys are in the lanes: each score is one query's dot
// product with one key row, and each (head, query) pair walks its own window
// N keys at a time with the same stale-max online softmax. Each pair
// computes its own scores, so the tiles win once there are enough queries.
// GQA 32/8, D = 128, N = 32768, against the tiles: avx512 1.3-1.7x faster at
// 5 to 8 queries (1.4x at 8 on 2 threads, even at 8 over 1024 keys); avx2
// (Zen 3, in-process A/B) 1.18x at 4 queries, 0.95x at 5, 0.71x at 6 and
// 0.64x at 8, so it keeps the tiles from 5 on (Arm, unmeasured, too).
// kFewRows <= T, so the pairs' state fits the scratch of one tile per head.
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
constexpr int64_t kFewRows = 8;
#else
constexpr int64_t kFewRows = 4;
#endif

// sum_d a[d] * b[d]; a and b need no alignment.
HWY_INLINE float Dot(DF df, const float* HWY_RESTRICT a,
                     const float* HWY_RESTRICT b, int64_t n) {
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  VF acc0 = hn::Zero(df), acc1 = hn::Zero(df);
  int64_t d = 0;
  for (; d + 2 * N <= n; d += 2 * N) {
    acc0 = hn::MulAdd(hn::LoadU(df, a + d), hn::LoadU(df, b + d), acc0);
    acc1 = hn::MulAdd(hn::LoadU(df, a + d + N), hn::LoadU(df, b + d + N), acc1);
  }
  if (d + N <= n) {
    acc0 = hn::MulAdd(hn::LoadU(df, a + d), hn::LoadU(df, b + d), acc0);
    d += N;
  }
  float sum = hn::GetLane(hn::SumOfLanes(df, hn::Add(acc0, acc1)));
  for (; d < n; ++d) sum += a[d] * b[d];
  return sum;
}

// Lanes [lo, hi]: the dot products of q (dim floats) with row(j), one key at
// a time; the other lanes -inf. scores holds N floats of scratch.
template <class RowOf>
HWY_INLINE VF ScoresByKey(DF df, const float* HWY_RESTRICT q, int64_t dim,
                          int64_t lo, int64_t hi, const RowOf& row,
                          float* HWY_RESTRICT scores) {
  hn::Store(hn::Set(df, -std::numeric_limits<float>::infinity()), df, scores);
  for (int64_t j = lo; j <= hi; ++j) scores[j] = Dot(df, q, row(j), dim);
  return hn::Load(df, scores);
}

// Query-key pairs per GroupScores batch, which takes kGroupKeys keys at a
// time: kGroupPairs x kGroupKeys accumulators, the key vectors and a query
// vector fit the registers (AVX2 has 16; 2 pairs x 4 keys there re-read each
// key row twice as often, and ran GQA decode steps of 4 queries 20% slower
// than the contiguous copy they replaced).
constexpr int64_t kGroupPairs = 4;
#if HWY_TARGET == HWY_AVX2
constexpr size_t kGroupKeys = 2;
#else
constexpr size_t kGroupKeys = 4;
#endif

// Scalable vectors cannot sit in an array (and HWY_SCALAR, compiled but never
// dispatched, has one lane and no ConcatEven).
#if !HWY_HAVE_SCALABLE && HWY_TARGET != HWY_SCALAR
// Lane i: the sum of v[i]'s lanes (kCount = Lanes). Each level adds the even
// and odd lanes of two vectors, halving the vectors and keeping lane order.
template <size_t kCount>
HWY_INLINE VF SumEach(DF df, VF* v) {
  if constexpr (kCount == 1) {
    return v[0];
  } else {
    for (size_t i = 0; i < kCount / 2; ++i) {
      v[i] = hn::Add(hn::ConcatEven(df, v[2 * i + 1], v[2 * i]),
                     hn::ConcatOdd(df, v[2 * i + 1], v[2 * i]));
    }
    return SumEach<kCount / 2>(df, v);
  }
}

// scores[x * N + j], x < kPairs: the dot product of q[x] (dim floats) with
// key row j of k (rows k_stride floats apart) for lanes j in [lo[x], hi[x]],
// -inf in the others. The pairs share every key load: kGroupKeys keys at a
// time, one accumulator per pair and key, all reduced at the end (the same
// sums, in the same order, for any kPairs). Only rows in the union of the
// ranges are read; a pair's lanes outside its own range are replaced, not added
// to, so a NaN key outside its window cannot reach it. tail: N floats of
// scratch.
template <int kPairs>
HWY_INLINE void GroupScores(DF df, const float* const* q, int64_t dim,
                            const int64_t* lo, const int64_t* hi,
                            const float* HWY_RESTRICT k, int64_t k_stride,
                            float* HWY_RESTRICT tail,
                            float* HWY_RESTRICT scores) {
  constexpr size_t kN = hn::MaxLanes(DF());
  static_assert(kN % kGroupKeys == 0, "whole groups of keys");
  const int64_t N = static_cast<int64_t>(kN);
  const int64_t full = dim / N * N;
  int64_t first = lo[0], end = hi[0];
  for (int x = 1; x < kPairs; ++x) {
    first = std::min(first, lo[x]);
    end = std::max(end, hi[x]);
  }
  const float* rows[kN];
  for (size_t j = 0; j < kN; ++j) {
    rows[j] = k + std::clamp(static_cast<int64_t>(j), first, end) * k_stride;
  }
  VF part[kPairs][kN / kGroupKeys];
  for (size_t j0 = 0; j0 < kN; j0 += kGroupKeys) {
    VF acc[kPairs][kGroupKeys];
    for (int x = 0; x < kPairs; ++x) {
      for (size_t i = 0; i < kGroupKeys; ++i) acc[x][i] = hn::Zero(df);
    }
    for (int64_t d = 0; d < full; d += N) {
      VF kv[kGroupKeys];
      for (size_t i = 0; i < kGroupKeys; ++i) {
        kv[i] = hn::LoadU(df, rows[j0 + i] + d);
      }
      for (int x = 0; x < kPairs; ++x) {
        const VF qx = hn::LoadU(df, q[x] + d);
        for (size_t i = 0; i < kGroupKeys; ++i) {
          acc[x][i] = hn::MulAdd(qx, kv[i], acc[x][i]);
        }
      }
    }
    // The first levels of SumEach<kN>, over these keys.
    for (int x = 0; x < kPairs; ++x) {
      part[x][j0 / kGroupKeys] = SumEach<kGroupKeys>(df, acc[x]);
    }
  }
  const VF lane = hn::Iota(df, 0.0f);
  const VF neg_inf = hn::Set(df, -std::numeric_limits<float>::infinity());
  for (int x = 0; x < kPairs; ++x) {
    VF sum = SumEach<kN / kGroupKeys>(df, part[x]);
    if (full < dim) {
      for (size_t j = 0; j < kN; ++j) {
        float t = 0.0f;
        for (int64_t c = full; c < dim; ++c) t += q[x][c] * rows[j][c];
        tail[j] = t;
      }
      sum = hn::Add(sum, hn::Load(df, tail));
    }
    const auto keep =
        hn::And(hn::Ge(lane, hn::Set(df, static_cast<float>(lo[x]))),
                hn::Le(lane, hn::Set(df, static_cast<float>(hi[x]))));
    hn::Store(hn::IfThenElse(keep, sum, neg_inf), df, scores + x * N);
  }
}
#else
// As above, one pair and one key at a time.
template <int kPairs>
HWY_INLINE void GroupScores(DF df, const float* const* q, int64_t dim,
                            const int64_t* lo, const int64_t* hi,
                            const float* HWY_RESTRICT k, int64_t k_stride,
                            float* HWY_RESTRICT /*tail*/,
                            float* HWY_RESTRICT scores) {
  const size_t N = hn::Lanes(df);
  for (int x = 0; x < kPairs; ++x) {
    float* out = scores + x * N;
    hn::Store(ScoresByKey(
                  df, q[x], dim, lo[x], hi[x],
                  [&](int64_t j) { return k + j * k_stride; }, out),
              df, out);
  }
}
#endif

// acc[0, Dv) += sum over i in [0, n) of probs[i] * v[i * stride, + Dv),
// adding in increasing i. Column slices of up to 4 vectors stay in registers
// across the keys (through memory, each key would wait for the store of the
// one before).
HWY_INLINE void PvFewRows(DF df, const float* HWY_RESTRICT v, int64_t stride,
                          int64_t n, int64_t dim_v,
                          const float* HWY_RESTRICT probs,
                          float* HWY_RESTRICT acc) {
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  const int64_t full = dim_v / N * N;
  int64_t c = 0;
  for (; c + 4 * N <= full; c += 4 * N) {
    VF o0 = hn::Load(df, acc + c), o1 = hn::Load(df, acc + c + N);
    VF o2 = hn::Load(df, acc + c + 2 * N), o3 = hn::Load(df, acc + c + 3 * N);
    for (int64_t i = 0; i < n; ++i) {
      const float* HWY_RESTRICT vi = v + i * stride + c;
      const VF pi = hn::Set(df, probs[i]);
      o0 = hn::MulAdd(pi, hn::LoadU(df, vi), o0);
      o1 = hn::MulAdd(pi, hn::LoadU(df, vi + N), o1);
      o2 = hn::MulAdd(pi, hn::LoadU(df, vi + 2 * N), o2);
      o3 = hn::MulAdd(pi, hn::LoadU(df, vi + 3 * N), o3);
    }
    hn::Store(o0, df, acc + c);
    hn::Store(o1, df, acc + c + N);
    hn::Store(o2, df, acc + c + 2 * N);
    hn::Store(o3, df, acc + c + 3 * N);
  }
  for (; c < full; c += N) {
    VF o0 = hn::Load(df, acc + c);
    for (int64_t i = 0; i < n; ++i) {
      o0 = hn::MulAdd(hn::Set(df, probs[i]), hn::LoadU(df, v + i * stride + c),
                      o0);
    }
    hn::Store(o0, df, acc + c);
  }
  for (; c < dim_v; ++c) {
    float o = acc[c];
    for (int64_t i = 0; i < n; ++i) o += probs[i] * v[i * stride + c];
    acc[c] = o;
  }
}

// The online softmax of pair x over one chunk's scores sv: raises the pair's
// max when a score passes it by more than kMaxGrowth, and then gives the
// rescale of its accumulators in *alpha (else 1); adds the chunk's
// probabilities to the pair's sum and returns them.
HWY_INLINE VF PairSoftmax(DF df, const Scratch& s, int64_t x, VF sv,
                          float* alpha) {
  const float gmax = hn::GetLane(hn::MaxOfLanes(df, sv));
  float m = s.m[x];
  *alpha = 1.0f;
  if (gmax > m + kMaxGrowth) {
    // 2^(m - gmax) is 0 while the pair has seen no key (m = kNoMax).
    *alpha = hn::GetLane(Exp2(df, hn::Set(df, m - gmax)));
    s.l[x] *= *alpha;
    m = s.m[x] = gmax;
  }
  const VF pv = Exp2(df, hn::Sub(sv, hn::Set(df, m)));
  s.l[x] += hn::GetLane(hn::SumOfLanes(df, pv));
  return pv;
}

// Pairs x0, x0 + step, ... (n of them, at most kGroupPairs, with ranges that
// do not decrease) that share a kv head, against the chunk of keys
// [j0, j0 + N) up to `last`, whose rows kb and vb hold (V with v_stride):
// scores, the online softmax and P.V, each key row and V slice loaded once
// for the batch.
HWY_INLINE void FewRowsBatch(DF df, const Problem& p, const Unit& w,
                             const Scratch& s, int64_t x0, int64_t step,
                             int64_t n, int64_t j0, int64_t last,
                             const float* HWY_RESTRICT kb,
                             const float* HWY_RESTRICT vb, int64_t v_stride,
                             LineQueue* pf) {
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  const int64_t T = 2 * N;
  const int64_t rows = w.i_end - w.i_begin;
  const int64_t dv_pad = PaddedDv(df, p.dim_v);
  const float* q[kGroupPairs];
  bool any = false;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t x = x0 + i * step;
    const int64_t pos = p.Position(w.i_begin + x % rows);
    s.lo[i] = std::max(p.KeyLo(pos), j0) - j0;
    s.hi[i] = std::min({p.KeyHi(pos), j0 + N - 1, last}) - j0;
    q[i] = s.qt + x * p.dim;
    any = any || s.lo[i] <= s.hi[i];
  }
  if (!any) return;
  // N <= kKeyBlock (64 floats fill the widest SVE vector), so pt fits st.
  float* HWY_RESTRICT scores = s.pairs;  // [kGroupPairs][N]
  float* HWY_RESTRICT pt = s.st;         // [N][T], as a tile's P
  const int64_t k_stride = p.k.stride_seq;
  static_assert(kGroupPairs == 4, "one case per batch size");
  switch (n) {
    case 1:
      GroupScores<1>(df, q, p.dim, s.lo, s.hi, kb, k_stride, s.inv_l, scores);
      break;
    case 2:
      GroupScores<2>(df, q, p.dim, s.lo, s.hi, kb, k_stride, s.inv_l, scores);
      break;
    case 3:
      GroupScores<3>(df, q, p.dim, s.lo, s.hi, kb, k_stride, s.inv_l, scores);
      break;
    default:
      GroupScores<4>(df, q, p.dim, s.lo, s.hi, kb, k_stride, s.inv_l, scores);
      break;
  }
  HWY_ALIGN float probs[hn::MaxLanes(DF())];
  for (int64_t i = 0; i < n; ++i) {
    s.alpha[i] = 1.0f;
    if (s.lo[i] > s.hi[i]) continue;
    // Lanes outside the pair's window score -inf (replaced, so a NaN key
    // there cannot reach it) and weigh 0.
    hn::Store(PairSoftmax(df, s, x0 + i * step, hn::Load(df, scores + i * N),
                          &s.alpha[i]),
              df, probs);
    for (int64_t j = s.lo[i]; j <= s.hi[i]; ++j) pt[j * T + i] = probs[j];
  }
  // The accumulators start at 0 and stay in memory between chunks: no
  // output here (inv_l is null).
  float* o = s.o + x0 * dv_pad;
  const PvEnds ends{false, nullptr, o, 0, p.dim_v, false};
  // A batch's pairs in one register tile: 4-vector slices take kPvRows / 2
  // rows, 3 on AVX2, where a 3 + 1 split ran the 1-row tile on four
  // dependent FMA chains. 2-vector slices take all 4: GQA 32/8 decode steps
  // ran 2-6% faster on Zen 3 (D = 64 and 128, 48 to 32768 keys).
  constexpr int kWide = kPvRows / 2 >= kGroupPairs ? 4 : 2;
  PvBlock<kWide>(df, pt, vb, v_stride, dv_pad, step * dv_pad, n, s.lo, s.hi,
                 s.alpha, o, ends, pf);
}

HWY_NOINLINE void ForwardFewRows(DF df, const Problem& p, const Tiling& t,
                                 const Unit& w, const Scratch& s) {
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  const int64_t rows = w.i_end - w.i_begin;
  const int64_t pairs = (w.h_end - w.h_begin) * rows;
  const int64_t dv_pad = PaddedDv(df, p.dim_v);
  const float qscale = p.scale * kLog2e;
  // Pair x is head w.h_begin + x / rows, query w.i_begin + x % rows: the
  // pairs of one kv head are consecutive.
  const auto head_of = [&](int64_t x) { return w.h_begin + x / rows; };
  const auto query_of = [&](int64_t x) { return w.i_begin + x % rows; };
  for (int64_t x = 0; x < pairs; ++x) {
    const float* q = p.q.Row(w.b, query_of(x), head_of(x));
    float* qs = s.qt + x * p.dim;
    for (int64_t d = 0; d < p.dim; ++d) qs[d] = q[d] * qscale;
    float* acc = s.o + x * dv_pad;
    for (int64_t c = 0; c < dv_pad; c += N)
      hn::Store(hn::Zero(df), df, acc + c);
    s.m[x] = kNoMax;
    s.l[x] = 0.0f;
  }
  const int64_t first = std::max(p.KeyLo(p.Position(w.i_begin)), w.j_begin);
  const int64_t last = std::min(p.KeyHi(p.Position(w.i_end - 1)), w.j_end - 1);
  const int64_t k_lines = (p.dim * 4 + 63) / 64;
  const int64_t v_lines = (p.dim_v * 4 + 63) / 64;
  // Several pairs per kv head (GQA, or more than one query) go through
  // GroupScores in batches, which load each key row once for the batch: a
  // head's rows are often a page apart, so the N rows of a chunk share L1
  // sets and came from L2 again for every pair when each pair read them
  // (1.5x slower than on a contiguous copy). The batches in place ran GQA
  // 32/8 steps 1.35x faster than the copy, which took a fifth of a step.
  // One pair per kv head (MHA) sums key by key: a reduction made it 5%
  // slower. The choice depends on the problem only, so no result depends on
  // how units split the heads.
  const int64_t group = p.Group();
  const bool several = group * rows > 1;
  // A unit over several kv heads reads the next chunk of all of them
  // before this one's work, position by position: with [seq, heads, dim]
  // layouts that is memory in address order, one load per line, and the
  // work then finds its rows in the caches. One thread, D = 128, N = 32768:
  // MHA 1.5-1.7x, GQA 32/8 1.2-1.4x faster than each head's rows fetched a
  // page apart; software prefetches of those lines, spread over the work,
  // ran slower than either.
  const bool span = w.kv_end - w.kv_head > 1;
  constexpr int64_t kLineFloats = 64 / sizeof(float);
  LineQueue pf;  // empty: the loads above bring the rows in
  for (int64_t j0 = first; j0 <= last; j0 += N) {
    if (span) {
      float touched = 0.0f;
      // The first chunk too: the keys of a split step start many times.
      const int64_t from = j0 == first ? j0 : j0 + N;
      for (int64_t j = from; j < std::min(j0 + 2 * N, last + 1); ++j) {
        for (int64_t g = w.kv_head; g < w.kv_end; ++g) {
          const float* kr = p.k.Row(w.b, j, g);
          for (int64_t i = 0; i < p.dim; i += kLineFloats) touched += kr[i];
        }
        for (int64_t g = w.kv_head; g < w.kv_end; ++g) {
          const float* vr = p.v.Row(w.b, j, g);
          for (int64_t i = 0; i < p.dim_v; i += kLineFloats) touched += vr[i];
        }
      }
      // Keeps the loads. An input, so the sum stays in a register: as an
      // output in memory, every row's sum went through a store and a load,
      // and decode steps over 128-1024 keys ran 10-18% slower (no change
      // over 32768).
      asm volatile("" : : "g"(touched));
    } else {
      // The rows two chunks ahead: the pairs' work on this chunk covers the
      // memory latency, and their strided rows would wait for it otherwise.
      // Row by row, K then V: a LineQueue (all K rows, then all V rows) ran
      // MHA decode 25% slower.
      for (int64_t j = j0 + 2 * N; j < std::min(j0 + 3 * N, last + 1); ++j) {
        const char* kr =
            reinterpret_cast<const char*>(p.k.Row(w.b, j, w.kv_head));
        const char* vr =
            reinterpret_cast<const char*>(p.v.Row(w.b, j, w.kv_head));
        for (int64_t i = 0; i < k_lines; ++i)
          __builtin_prefetch(kr + 64 * i, 0, 2);
        for (int64_t i = 0; i < v_lines; ++i)
          __builtin_prefetch(vr + 64 * i, 0, 2);
      }
    }
    for (int64_t g = w.kv_head; g < w.kv_end; ++g) {
      // The pairs [x_begin, x_end) that read kv head g.
      const int64_t x_begin =
          (std::max(w.h_begin, g * group) - w.h_begin) * rows;
      const int64_t x_end =
          (std::min(w.h_end, (g + 1) * group) - w.h_begin) * rows;
      const float* kb = p.k.Row(w.b, j0, g);
      const float* vb = p.v.Row(w.b, j0, g);
      if (!several) {
        // One pair: key by key, and its own P.V loop (through PvBlock, MHA
        // decode steps ran 5-20% slower).
        const int64_t x = x_begin;
        const int64_t pos = p.Position(query_of(x));
        const int64_t a = std::max(p.KeyLo(pos), j0) - j0;
        const int64_t e = std::min({p.KeyHi(pos), j0 + N - 1, last}) - j0;
        if (a > e) continue;
        // Only the pair's own keys are read, so a NaN outside its window
        // cannot reach it; the other lanes score -inf and weigh 0.
        const VF sv = ScoresByKey(
            df, s.qt + x * p.dim, p.dim, a, e,
            [&](int64_t j) { return kb + j * p.k.stride_seq; }, s.st);
        // The probabilities apart from the scores: in their place, MHA
        // steps on 2 threads ran 5% slower (with rows 4 KiB apart, likely
        // false store-to-load dependencies on the low address bits).
        float alpha;
        hn::Store(PairSoftmax(df, s, x, sv, &alpha), df, s.st + N);
        float* acc = s.o + x * dv_pad;
        for (int64_t c = 0; alpha != 1.0f && c < dv_pad; c += N) {
          hn::Store(hn::Mul(hn::Load(df, acc + c), hn::Set(df, alpha)), df,
                    acc + c);
        }
        PvFewRows(df, vb + a * p.v.stride_seq, p.v.stride_seq, e - a + 1,
                  p.dim_v, s.st + N + a, acc);
        continue;
      }
      int64_t v_stride = p.v.stride_seq;
      if (dv_pad != p.dim_v) {
        // PvBlock reads whole vectors.
        PackBlock(p, w.b, g, j0, std::min(N, last + 1 - j0), false, true,
                  dv_pad, s);
        vb = s.vpack;
        v_stride = dv_pad;
      }
      // Batches of pairs whose ranges do not decrease (PvTile): the heads
      // of one query, which share its window, or with one head here, the
      // queries in order: `lines` lines of `count` pairs, `step` apart.
      const int64_t heads_g = (x_end - x_begin) / rows;
      const bool by_head = heads_g > 1;
      const int64_t step = by_head ? rows : 1;
      const int64_t count = by_head ? heads_g : rows;
      const int64_t lines = by_head ? rows : 1;
      for (int64_t line = 0; line < lines; ++line) {
        for (int64_t b0 = 0; b0 < count; b0 += kGroupPairs) {
          FewRowsBatch(df, p, w, s, x_begin + line + b0 * step, step,
                       std::min(kGroupPairs, count - b0), j0, last, kb, vb,
                       v_stride, &pf);
        }
      }
    }
  }
  if (t.key_splits > 1) {
    // One part of the keys: the engine merges the parts' states.
    for (int64_t x = 0; x < pairs; ++x) {
      float* part = PartialRow(p, t, w.b, head_of(x), query_of(x), w.split);
      part[0] = s.m[x];
      part[1] = s.l[x];
      std::copy(s.o + x * dv_pad, s.o + x * dv_pad + p.dim_v, part + 2);
    }
    return;
  }
  for (int64_t x = 0; x < pairs; ++x) {
    const VF inv_l = hn::Set(df, InverseSum(s.l[x]));
    const float* acc = s.o + x * dv_pad;
    float* out = p.out.Row(w.b, query_of(x), head_of(x));
    for (int64_t c = 0; c < p.dim_v; c += N) {
      StoreOut(df, hn::Mul(hn::Load(df, acc + c), inv_l), out, c, p.dim_v,
               /*stream=*/false);
    }
    if (p.lse != nullptr) {
      p.lse[(w.b * p.heads + head_of(x)) * p.nq + query_of(x)] =
          Lse(s.m[x], s.l[x]);
    }
  }
}

HWY_INLINE int64_t QueryTile() {
  return static_cast<int64_t>(2 * hn::Lanes(DF()));
}

// Query rows of state per unit: every row of its tiles, or only its pairs
// (rounded up to T, which keeps Scratch's pieces aligned) when every unit is
// a decode step: one unit over 32 heads would otherwise take 32 tiles' rows.
HWY_INLINE size_t StateRows(const Problem& p, const Tiling& t) {
  const int64_t T = 2 * static_cast<int64_t>(hn::Lanes(DF()));
  const int64_t rows =
      p.nq <= kFewRows ? t.heads_per_unit * p.nq : t.heads_per_unit * t.block_q;
  return static_cast<size_t>((rows + T - 1) / T * T);
}

HWY_INLINE size_t ScratchFloats(const Problem& p, const Tiling& t) {
  const DF df;
  return Scratch::Floats(StateRows(p, t), static_cast<size_t>(p.dim),
                         static_cast<size_t>(PaddedDv(df, p.dim_v)),
                         2 * hn::Lanes(df));
}

HWY_INLINE void RunUnits(const Problem& p, const Tiling& t, int64_t begin,
                         int64_t end, float* scratch) {
  const DF df;
  const Scratch s(scratch, StateRows(p, t), static_cast<size_t>(p.dim),
                  static_cast<size_t>(PaddedDv(df, p.dim_v)),
                  2 * hn::Lanes(df));
  const bool stream = t.stream_out && OutputRowsAreLines(p);
  Unit unit = begin < end ? UnitAt(p, t, begin) : Unit{};
  for (int64_t u = begin; u < end; ++u) {
    const bool last = u + 1 == end;
    const Unit next = last ? Unit{} : UnitAt(p, t, u + 1);
    if (unit.i_end - unit.i_begin <= kFewRows) {
      ForwardFewRows(df, p, t, unit, s);
    } else {
      ForwardUnit(df, p, unit, last ? nullptr : &next, stream, s);
    }
    unit = next;
  }
  // Non-temporal stores are weakly ordered: drain them before the runner
  // tells other threads that these units are done.
  if (stream) hwy::FlushStream();
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace swattn
HWY_AFTER_NAMESPACE();

#endif  // include guard
