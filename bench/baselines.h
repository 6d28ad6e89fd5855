// The implementations a user would write without swattn, to compare against.
//
// Both are single-threaded, straightforward loops over contiguous float32
// tensors q [B, N, H, D], k and v [B, N, Hkv, D], out [B, N, H, D] (queries
// and keys of the same length N; query head h reads key/value head
// h / (H / Hkv)), with swattn's window rule: query i sees keys
// max(0, i - left) <= j <= min(N - 1, i + right), -1 = unbounded. scale = 0
// means 1/sqrt(D). bench/CMakeLists.txt compiles them with -O3 -march=native
// when the compiler supports it and the build is not a cross-build.
#ifndef SWATTN_BENCH_BASELINES_H_
#define SWATTN_BENCH_BASELINES_H_

#include <cstdint>

namespace swattn_bench {

struct BaselineShape {
  int64_t batch = 1;
  int64_t seq = 0;       // N, for queries and keys
  int64_t heads = 1;     // H
  int64_t kv_heads = 1;  // Hkv, divides H
  int64_t dim = 0;       // D, for q, k and v
  int64_t left = -1;     // window radii; -1 = unbounded
  int64_t right = -1;
  float scale = 0.0f;  // 0 = 1/sqrt(D)
};

// The reference problem's algorithm, one query at a time: scores over the
// window, their max, exp, sum, then the weighted sum of V. O(N * W * D) work,
// no blocking, no SIMD beyond what the compiler finds.
void NaiveWindowAttention(const BaselineShape& shape, const float* q,
                          const float* k, const float* v, float* out);

// Dense masked attention per (batch, head): the full N x N score matrix
// S = scale * Q K^T, -inf outside the window, row softmax, out = P V.
// O(N^2 * D) work and an N x N float matrix (64 MiB at N = 4096) whatever
// the window. Throws std::bad_alloc if that matrix cannot be allocated.
void DenseMaskedAttention(const BaselineShape& shape, const float* q,
                          const float* k, const float* v, float* out);

}  // namespace swattn_bench

#endif  // SWATTN_BENCH_BASELINES_H_
