#include "mem_bandwidth.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace swattn_bench {

StridedReader::StridedReader(size_t bytes, size_t chunk, size_t stride)
    : bytes_(bytes / stride * stride), chunk_(chunk), stride_(stride) {
  data_ = static_cast<float*>(std::aligned_alloc(4096, bytes_));
  if (data_ == nullptr) throw std::bad_alloc();
  std::memset(data_, 0, bytes_);  // commit the pages before any timing
}

StridedReader::~StridedReader() { std::free(data_); }

float StridedReader::ReadAll() const {
  // One load per 64-byte line: what a line costs is bringing it in, and
  // more loads per line would only fill the load buffer and cut the number
  // of lines in flight. 8 independent sums, so that the adds never wait.
  constexpr size_t kLine = 64 / sizeof(float);
  float sum[8] = {};
  const size_t floats = chunk_ / sizeof(float);
  const size_t step = stride_ / sizeof(float);
  const size_t total = bytes_ / sizeof(float);
  for (size_t offset = 0; offset < step; offset += floats) {
    for (size_t row = offset; row < total; row += step) {
      const float* p = data_ + row;
      for (size_t i = 0; i < floats; i += 8 * kLine) {
        for (size_t k = 0; k < 8; ++k) sum[k] += p[i + k * kLine];
      }
    }
  }
  float s = 0.0f;
  for (float x : sum) s += x;
  return s;
}

}  // namespace swattn_bench
