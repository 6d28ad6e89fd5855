// hello.cc: swattn from C++, over the C ABI.
//
// Grouped-query attention (8 query heads sharing 2 key/value heads) with a
// symmetric sliding window over a [batch, seq, heads, dim] layout, the
// log-sum-exp output, and the target list: which SIMD targets this CPU can
// run, and which one computed the call.
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "swattn/swattn.h"

namespace {

// Throws with swattn's message when a call fails.
void Check(swattn_status status) {
  if (status != SWATTN_OK) {
    throw std::runtime_error(std::string(swattn_status_string(status)) + ": " +
                             swattn_last_error());
  }
}

// A contiguous [batch, seq, heads, dim] view.
swattn_tensor View(std::vector<float>& data, int64_t batch, int64_t seq,
                   int64_t heads, int64_t dim) {
  swattn_tensor t{};
  t.data = data.data();
  t.dtype = SWATTN_DTYPE_F32;
  t.batch = batch;
  t.seq = seq;
  t.heads = heads;
  t.dim = dim;
  t.stride_head = dim;
  t.stride_seq = heads * dim;
  t.stride_batch = seq * heads * dim;
  return t;
}

}  // namespace

int main() {
  constexpr int64_t kBatch = 2, kSeq = 256, kHeads = 8, kKvHeads = 2, kDim = 32,
                    kWindow = 16;
  std::vector<float> q(kBatch * kSeq * kHeads * kDim);
  std::vector<float> k(kBatch * kSeq * kKvHeads * kDim);
  std::vector<float> v(k.size());
  std::vector<float> out(q.size());
  std::vector<float> lse(kBatch * kHeads * kSeq);
  for (size_t i = 0; i < q.size(); ++i) q[i] = float(i % 7) * 0.1f - 0.3f;
  for (size_t i = 0; i < k.size(); ++i) k[i] = float(i % 5) * 0.1f - 0.2f;
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(i % 3) - 1.0f;

  std::printf("swattn %s; targets:", swattn_version_string());
  for (int i = 0; i < swattn_target_count(); ++i) {
    std::printf(" %s", swattn_target_name(i));
  }
  std::printf("\n");

  try {
    swattn_options options;
    swattn_options_init(&options);
    options.window_left = kWindow;  // symmetric: 2 * kWindow + 1 keys
    options.window_right = kWindow;
    options.num_threads = 0;  // all threads
    const swattn_tensor tq = View(q, kBatch, kSeq, kHeads, kDim);
    const swattn_tensor tk = View(k, kBatch, kSeq, kKvHeads, kDim);
    const swattn_tensor tv = View(v, kBatch, kSeq, kKvHeads, kDim);
    swattn_tensor tout = View(out, kBatch, kSeq, kHeads, kDim);
    Check(swattn_forward(&options, &tq, &tk, &tv, &tout, lse.data()));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "swattn_forward failed: %s\n", e.what());
    return 1;
  }
  std::printf(
      "computed by %s: out[0][0][0][0..3] = %.4f %.4f %.4f %.4f, "
      "lse[0][0][0] = %.4f\n",
      swattn_last_forward_target(), out[0], out[1], out[2], out[3], lse[0]);
  return 0;
}
