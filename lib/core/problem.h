// Plain data and index math shared by every layer: the checked problem, the
// window geometry and the split into work units. Depends on nothing.
#ifndef SWATTN_CORE_PROBLEM_H_
#define SWATTN_CORE_PROBLEM_H_

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include <algorithm>

namespace swattn {

// Sizes and |query_offset| are at most kMaxExtent (checked by the C ABI) and
// radii at most kUnboundedRadius, which stands for "unbounded". Then every
// sum of a position, a key index and two radii stays inside int64.
inline constexpr int64_t kMaxExtent = int64_t{1} << 59;
inline constexpr int64_t kUnboundedRadius = int64_t{1} << 60;

// The SIMD kernels work in base 2: queries are scaled by scale * kLog2e, in
// float32, so the C ABI accepts only scales for which that stays finite.
inline constexpr float kLog2e = 1.44269504088896340736f;

// One [batch, seq, heads, dim] tensor: element strides, dim stride 1.
template <typename T>
struct View {
  T* data;
  int64_t stride_batch, stride_seq, stride_head;

  T* Row(int64_t b, int64_t s, int64_t h) const {
    return data + b * stride_batch + s * stride_seq + h * stride_head;
  }
};

// A forward call after the C ABI has checked it: every index below is valid.
struct Problem {
  int64_t batch, nq, nk, heads, kv_heads, dim, dim_v;
  View<const float> q, k, v;
  View<float> out;
  float* lse;            // nullptr, or contiguous [batch, heads, nq]
  int64_t left, right;   // radii in [0, kUnboundedRadius]
  int64_t query_offset;  // key position of query 0
  float scale;           // multiplies q.k

  int64_t Group() const { return heads / kv_heads; }
  int64_t Position(int64_t query) const { return query + query_offset; }
  // The keys visible from position p are [KeyLo(p), KeyHi(p)], empty when
  // KeyLo(p) > KeyHi(p). Both are non-decreasing in p, so the union over
  // consecutive positions pa..pb is [KeyLo(pa), KeyHi(pb)].
  int64_t KeyLo(int64_t p) const { return std::max<int64_t>(0, p - left); }
  int64_t KeyHi(int64_t p) const { return std::min(nk - 1, p + right); }
  // An upper bound on the keys one position sees. Radii past the sequence
  // count as nk - 1, so all spellings of a dense window give the same.
  int64_t WindowKeys() const {
    const int64_t most = std::max<int64_t>(nk - 1, 0);
    return std::min(left, most) + std::min(right, most) + 1;
  }
  // The keys that queries [0, nq) see together, from KeyLo(Position(0)):
  // 0 or less when every window is empty.
  int64_t KeysSeen() const {
    return KeyHi(Position(nq - 1)) - KeyLo(Position(0)) + 1;
  }
};

// A row's online-softmax state is a running max m (log2 units) and a sum l;
// the kernels and the merge of split decode steps finish it the same way.
// 1 / l, or 0 for a row that saw no key (its output is then 0, not NaN).
inline float InverseSum(float l) { return l == 0.0f ? 0.0f : 1.0f / l; }

// A row's log-sum-exp from its running max m (log2 units) and sum l.
inline float Lse(float m, float l) {
  constexpr float kLn2 = 0.693147180559945309417f;
  return m * kLn2 + logf(l);
}

// How a call is split into independent work units. A unit owns the output
// rows of `heads_per_unit` query heads that share one key/value head, for
// `block_q` consecutive queries, so no two units write the same memory.
// Decode steps may instead give a unit every query head of `kv_per_unit`
// consecutive kv heads: it then reads whole spans of each key position's
// rows, in address order, rather than one head's rows a page apart.
struct Tiling {
  int64_t block_q;
  int64_t heads_per_unit;
  int64_t kv_per_unit;  // 1, or several kv heads with all their query heads
  int64_t q_blocks;     // ceil(nq / block_q)
  int64_t head_chunks;  // ceil(Group() / heads_per_unit), 1 if kv_per_unit > 1
  int64_t kv_chunks;    // ceil(kv_heads / kv_per_unit)
  int64_t units;  // batch * key_splits * kv_chunks * head_chunks * q_blocks
  // Write the output with non-temporal stores where its rows are whole,
  // aligned cache lines (see OutputRowsAreLines).
  bool stream_out = false;
  // Decode steps over long key ranges may also split the keys: part s holds
  // keys [split_first + s * split_keys, + split_keys), and its units leave
  // each (head, query) pair's softmax state in `partials` for the engine to
  // merge (see PartialRow), so that a step spreads over threads.
  int64_t key_splits = 1;
  int64_t split_first = 0, split_keys = 0;
  float* partials = nullptr;  // set by the engine when key_splits > 1
};

inline Tiling MakeTiling(const Problem& p, int64_t block_q,
                         int64_t heads_per_unit, int64_t kv_per_unit = 1) {
  Tiling t;
  t.block_q = block_q;
  t.kv_per_unit = std::clamp<int64_t>(kv_per_unit, 1, p.kv_heads);
  t.heads_per_unit = t.kv_per_unit > 1 ? p.Group() * t.kv_per_unit
                                       : std::min(heads_per_unit, p.Group());
  t.q_blocks = (p.nq + block_q - 1) / block_q;
  t.head_chunks = t.kv_per_unit > 1
                      ? 1
                      : (p.Group() + t.heads_per_unit - 1) / t.heads_per_unit;
  t.kv_chunks = (p.kv_heads + t.kv_per_unit - 1) / t.kv_per_unit;
  t.units = p.batch * t.kv_chunks * t.head_chunks * t.q_blocks;
  return t;
}

// Splits the keys that queries [0, nq) see into parts of split_keys keys.
inline void SplitKeys(const Problem& p, int64_t split_keys, Tiling* t) {
  const int64_t keys = p.KeysSeen();
  t->split_first = p.KeyLo(p.Position(0));
  t->split_keys = split_keys;
  t->key_splits = keys > split_keys ? (keys + split_keys - 1) / split_keys : 1;
  t->units =
      p.batch * t->key_splits * t->kv_chunks * t->head_chunks * t->q_blocks;
}

// Floats per (pair, part) in Tiling::partials: the running max m (log2
// units), the sum l, then dim_v floats of unnormalised output.
inline int64_t PartialFloats(const Problem& p) { return p.dim_v + 2; }

// The partial state of query i of head h, batch entry b, from part s.
inline float* PartialRow(const Problem& p, const Tiling& t, int64_t b,
                         int64_t h, int64_t i, int64_t s) {
  const int64_t pair = (b * p.heads + h) * p.nq + i;
  return t.partials + (pair * t.key_splits + s) * PartialFloats(p);
}

// Whether every output row starts on a 64-byte boundary and fills whole
// cache lines, so that non-temporal stores write full lines only.
inline bool OutputRowsAreLines(const Problem& p) {
  constexpr int64_t kLineFloats = 16;
  const auto whole = [](int64_t floats) { return floats % kLineFloats == 0; };
  return reinterpret_cast<uintptr_t>(p.out.data) % 64 == 0 && whole(p.dim_v) &&
         whole(p.out.stride_seq) && whole(p.out.stride_head) &&
         whole(p.out.stride_batch);
}

// One unit's share: query heads [h_begin, h_end) of kv heads
// [kv_head, kv_end) (head h reads kv head h / Group()) and queries
// [i_begin, i_end) of batch entry b, against keys [j_begin, j_end): all of
// them, or part `split` of a split key range.
struct Unit {
  int64_t b, kv_head, kv_end, h_begin, h_end, i_begin, i_end;
  int64_t split, j_begin, j_end;
};

// Heads vary fastest: with [seq, heads, dim] layouts the heads of one query
// block share pages, so consecutive units touch the same pages (TLB entries,
// DRAM rows) instead of one fresh page per row: 5% (W = 512) to 35%
// (W = 16) faster than query blocks fastest at N = 16384, H = 8.
inline Unit UnitAt(const Problem& p, const Tiling& t, int64_t u) {
  Unit w;
  const int64_t chunk = u % t.head_chunks;
  u /= t.head_chunks;
  w.kv_head = u % t.kv_chunks * t.kv_per_unit;
  u /= t.kv_chunks;
  const int64_t qb = u % t.q_blocks;
  u /= t.q_blocks;
  // Parts of the keys vary slowest within a batch entry: threads that take
  // consecutive units read separate stretches of K and V.
  w.split = u % t.key_splits;
  w.b = u / t.key_splits;
  if (t.key_splits > 1) {
    w.j_begin = t.split_first + w.split * t.split_keys;
    w.j_end = std::min(w.j_begin + t.split_keys, p.nk);
  } else {
    w.j_begin = 0;
    w.j_end = p.nk;
  }
  w.kv_end = std::min(w.kv_head + t.kv_per_unit, p.kv_heads);
  w.h_begin = w.kv_head * p.Group() + chunk * t.heads_per_unit;
  w.h_end = std::min(w.h_begin + t.heads_per_unit, w.kv_end * p.Group());
  w.i_begin = qb * t.block_q;
  w.i_end = std::min(w.i_begin + t.block_q, p.nq);
  return w;
}

}  // namespace swattn

#endif  // SWATTN_CORE_PROBLEM_H_
