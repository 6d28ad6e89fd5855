// A forward problem with random inputs, shared by the benchmark and the demo:
// contiguous float32 q [B, Nq, H, D], k and v [B, N, Hkv, D], out
// [B, Nq, H, D], where Nq = N unless the problem asks for fewer queries (the
// last positions, as in a decode step).
#ifndef SWATTN_BENCH_PROBLEM_H_
#define SWATTN_BENCH_PROBLEM_H_

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <vector>

#include "baselines.h"
#include "swattn/swattn.h"

namespace swattn_bench {

// Allocates on 64-byte boundaries, as inference engines allocate tensors:
// rows of a multiple of 16 floats are then whole cache lines. (malloc's
// 16-byte alignment spreads each row over one line more and rules out
// streaming the output: ~11% together at W = 16.)
template <typename T>
struct LineAllocator {
  using value_type = T;
  LineAllocator() = default;
  template <typename U>
  LineAllocator(const LineAllocator<U>&) {}  // NOLINT: rebinding
  T* allocate(size_t n) {
    const size_t bytes = (n * sizeof(T) + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, bytes == 0 ? 64 : bytes);
    if (p == nullptr) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t) { std::free(p); }
  template <typename U>
  bool operator==(const LineAllocator<U>&) const {
    return true;
  }
  template <typename U>
  bool operator!=(const LineAllocator<U>&) const {
    return false;
  }
};

using Floats = std::vector<float, LineAllocator<float>>;

class Problem {
 public:
  // Allocates and fills q, k, v with uniform values in [-1, 1) from a
  // deterministic generator seeded with `seed`; out starts at zero.
  // `queries` > 0 keeps only the last `queries` positions' queries (swattn
  // only: the baselines take Nq = N).
  explicit Problem(const BaselineShape& shape, uint64_t seed = 1,
                   int64_t queries = 0);

  const BaselineShape& shape() const { return shape_; }
  int64_t queries() const { return queries_; }  // Nq

  // swattn_forward on this problem's window with `threads` threads
  // (0 = all), writing out(). Returns the status. `heads_major` reads the
  // same buffers as [B, H, N, D] (PyTorch's default) instead of [B, N, H, D]:
  // other inputs, the same work.
  swattn_status Forward(int threads, bool heads_major = false);

  // The baselines, writing out(). Only for Nq = N.
  void Naive() {
    NaiveWindowAttention(shape_, q_.data(), k_.data(), v_.data(), out_.data());
  }
  void Dense() {
    DenseMaskedAttention(shape_, q_.data(), k_.data(), v_.data(), out_.data());
  }

  // Useful flops of one forward call (useful_flops.h).
  double UsefulFlops() const;

  // Bytes of q, k, v and out together.
  double TensorBytes() const;

  // Bytes of the K and V rows that at least one query sees.
  double VisibleKvBytes() const;

  Floats& out() { return out_; }
  const Floats& out() const { return out_; }

 private:
  BaselineShape shape_;
  int64_t queries_;
  Floats q_, k_, v_, out_;
};

// Largest |a[i] - b[i]| (NaN if either holds a NaN, or sizes differ).
double MaxAbsDiff(const Floats& a, const Floats& b);

}  // namespace swattn_bench

#endif  // SWATTN_BENCH_PROBLEM_H_
