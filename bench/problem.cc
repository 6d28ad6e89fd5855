#include "problem.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>

#include "useful_flops.h"

namespace swattn_bench {
namespace {

// SplitMix64: fast, deterministic, good enough for test data.
uint64_t Next(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void Fill(Floats* values, size_t count, uint64_t seed) {
  values->resize(count);
  uint64_t state = seed;
  for (size_t i = 0; i < count; ++i) {
    // 24 random bits -> [-1, 1).
    (*values)[i] =
        static_cast<float>(Next(&state) >> 40) * (2.0f / 16777216.0f) - 1.0f;
  }
}

swattn_tensor View(const Floats& data, const BaselineShape& s, int64_t seq,
                   int64_t heads, bool heads_major) {
  swattn_tensor t;
  t.data = const_cast<float*>(data.data());
  t.dtype = SWATTN_DTYPE_F32;
  t.batch = s.batch;
  t.seq = seq;
  t.heads = heads;
  t.dim = s.dim;
  t.stride_head = heads_major ? seq * s.dim : s.dim;
  t.stride_seq = heads_major ? s.dim : heads * s.dim;
  t.stride_batch = seq * heads * s.dim;
  return t;
}

}  // namespace

Problem::Problem(const BaselineShape& shape, uint64_t seed, int64_t queries)
    : shape_(shape), queries_(queries > 0 ? queries : shape.seq) {
  const size_t rows = static_cast<size_t>(shape.batch * shape.seq);
  const size_t q_count = static_cast<size_t>(shape.batch * queries_) *
                         static_cast<size_t>(shape.heads * shape.dim);
  const size_t kv_count =
      rows * static_cast<size_t>(shape.kv_heads * shape.dim);
  Fill(&q_, q_count, seed * 3 + 0);
  Fill(&k_, kv_count, seed * 3 + 1);
  Fill(&v_, kv_count, seed * 3 + 2);
  out_.assign(q_count, 0.0f);
}

swattn_status Problem::Forward(int threads, bool heads_major) {
  swattn_options options;
  swattn_options_init(&options);
  options.window_left = shape_.left;
  options.window_right = shape_.right;
  options.scale = shape_.scale;
  options.num_threads = threads;
  const bool hm = heads_major;
  const swattn_tensor q = View(q_, shape_, queries_, shape_.heads, hm);
  const swattn_tensor k = View(k_, shape_, shape_.seq, shape_.kv_heads, hm);
  const swattn_tensor v = View(v_, shape_, shape_.seq, shape_.kv_heads, hm);
  swattn_tensor out = View(out_, shape_, queries_, shape_.heads, hm);
  return swattn_forward(&options, &q, &k, &v, &out, nullptr);
}

double Problem::UsefulFlops() const {
  return swattn_bench::UsefulFlops(shape_.batch, shape_.heads, queries_,
                                   shape_.seq, shape_.dim, shape_.dim,
                                   shape_.left, shape_.right);
}

double Problem::VisibleKvBytes() const {
  // Queries sit at the last positions, so the union of their windows runs
  // from the first query's lowest key to the last key it may see.
  const int64_t first = shape_.seq - queries_;
  const int64_t lo =
      shape_.left < 0 ? 0 : std::max<int64_t>(0, first - shape_.left);
  const int64_t hi = shape_.seq - 1;
  return 2.0 * static_cast<double>(shape_.batch * (hi - lo + 1)) *
         static_cast<double>(shape_.kv_heads * shape_.dim) * sizeof(float);
}

double Problem::TensorBytes() const {
  return static_cast<double>(q_.size() + k_.size() + v_.size() + out_.size()) *
         sizeof(float);
}

double MaxAbsDiff(const Floats& a, const Floats& b) {
  if (a.size() != b.size()) return std::numeric_limits<double>::quiet_NaN();
  double worst = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double diff = std::fabs(static_cast<double>(a[i]) - b[i]);
    if (std::isnan(diff)) return diff;
    if (diff > worst) worst = diff;
  }
  return worst;
}

}  // namespace swattn_bench
