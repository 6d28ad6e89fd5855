// A forward problem with random inputs, shared by the benchmark and the demo:
// contiguous float32 q [B, N, H, D], k and v [B, N, Hkv, D], out [B, N, H, D].
#ifndef SWATTN_BENCH_PROBLEM_H_
#define SWATTN_BENCH_PROBLEM_H_

#include <cstdint>
#include <vector>

#include "baselines.h"
#include "swattn/swattn.h"

namespace swattn_bench {

class Problem {
 public:
  // Allocates and fills q, k, v with uniform values in [-1, 1) from a
  // deterministic generator seeded with `seed`; out starts at zero.
  explicit Problem(const BaselineShape& shape, uint64_t seed = 1);

  const BaselineShape& shape() const { return shape_; }

  // swattn_forward on this problem's window with `threads` threads
  // (0 = all), writing out(). Returns the status.
  swattn_status Forward(int threads);

  // The baselines, writing out().
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

  std::vector<float>& out() { return out_; }
  const std::vector<float>& out() const { return out_; }

 private:
  BaselineShape shape_;
  std::vector<float> q_, k_, v_, out_;
};

// Largest |a[i] - b[i]| (NaN if either holds a NaN, or sizes differ).
double MaxAbsDiff(const std::vector<float>& a, const std::vector<float>& b);

}  // namespace swattn_bench

#endif  // SWATTN_BENCH_PROBLEM_H_
