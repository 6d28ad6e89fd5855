// The useful work of a sliding-window attention call, counted exactly.
//
// "Useful" flops are those of the band only: per query head and visible key,
// 2 * D for the score q.k and 2 * Dv for the weighted sum of V (4 * D when
// Dv == D). Exps, max and normalisation are not counted; neither is any work
// on masked positions, so a dense implementation earns no credit for them.
#ifndef SWATTN_BENCH_USEFUL_FLOPS_H_
#define SWATTN_BENCH_USEFUL_FLOPS_H_

#include <cstdint>

namespace swattn_bench {

// Number of (query, key) pairs visible under swattn's window rule for one
// (batch, head): query i sits at key position p = i + query_offset and sees
// max(0, p - left) <= j <= min(nk - 1, p + right); a radius of -1 is
// unbounded. query_offset < 0 is allowed (queries before the keys).
// Exact, computed from the geometry in O(1).
int64_t VisibleKeys(int64_t nq, int64_t nk, int64_t left, int64_t right,
                    int64_t query_offset);

// VisibleKeys with the default offset nk - nq.
int64_t VisibleKeys(int64_t nq, int64_t nk, int64_t left, int64_t right);

// Useful flops of a forward call: batch * heads * visible keys *
// (2 * dim + 2 * dim_v), with the default query offset nk - nq.
double UsefulFlops(int64_t batch, int64_t heads, int64_t nq, int64_t nk,
                   int64_t dim, int64_t dim_v, int64_t left, int64_t right);

}  // namespace swattn_bench

#endif  // SWATTN_BENCH_USEFUL_FLOPS_H_
