// Exact count of visible (query, key) pairs; see useful_flops.h.
#include "useful_flops.h"

#include <algorithm>

namespace swattn_bench {
namespace {

// Sum of p over [a, b] (0 if empty).
int64_t SumRange(int64_t a, int64_t b) {
  if (b < a) return 0;
  return (a + b) * (b - a + 1) / 2;
}

// Sum over p in [a, b] of min(c, p + r).
int64_t SumMin(int64_t a, int64_t b, int64_t c, int64_t r) {
  if (b < a) return 0;
  const int64_t split = std::min(b, c - r);  // p <= split: p + r <= c.
  const int64_t low = split < a ? 0 : SumRange(a, split) + r * (split - a + 1);
  const int64_t first_high = std::max(a, split + 1);
  const int64_t high = b < first_high ? 0 : c * (b - first_high + 1);
  return low + high;
}

// Sum over p in [a, b] of max(0, p - l).
int64_t SumMaxZero(int64_t a, int64_t b, int64_t l) {
  const int64_t first = std::max(a, l + 1);  // p > l contributes p - l.
  if (b < first) return 0;
  return SumRange(first, b) - l * (b - first + 1);
}

}  // namespace

int64_t VisibleKeys(int64_t nq, int64_t nk, int64_t left, int64_t right,
                    int64_t query_offset) {
  if (nq <= 0 || nk <= 0) return 0;
  // An unbounded radius behaves like one that reaches past every key.
  const int64_t reach =
      nk + nq + (query_offset < 0 ? -query_offset : query_offset);
  const int64_t l = left < 0 ? reach : left;
  const int64_t r = right < 0 ? reach : right;
  // Query positions p whose window [max(0, p - l), min(nk - 1, p + r)] is not
  // empty: p + r >= 0 and p - l <= nk - 1.
  const int64_t p_lo = std::max(query_offset, -r);
  const int64_t p_hi = std::min(query_offset + nq - 1, nk - 1 + l);
  if (p_hi < p_lo) return 0;
  // Each such p sees min(nk - 1, p + r) - max(0, p - l) + 1 keys.
  return SumMin(p_lo, p_hi, nk - 1, r) - SumMaxZero(p_lo, p_hi, l) +
         (p_hi - p_lo + 1);
}

int64_t VisibleKeys(int64_t nq, int64_t nk, int64_t left, int64_t right) {
  return VisibleKeys(nq, nk, left, right, nk - nq);
}

double UsefulFlops(int64_t batch, int64_t heads, int64_t nq, int64_t nk,
                   int64_t dim, int64_t dim_v, int64_t left, int64_t right) {
  return static_cast<double>(batch) * static_cast<double>(heads) *
         static_cast<double>(VisibleKeys(nq, nk, left, right)) *
         (2.0 * static_cast<double>(dim) + 2.0 * static_cast<double>(dim_v));
}

}  // namespace swattn_bench
