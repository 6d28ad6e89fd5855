// One thread's read bandwidth from memory, for the rows of the performance
// table that wait on memory (small windows): how fast one head of a
// [seq, heads, dim] tensor can be read at all, measured in the same run.
#ifndef SWATTN_BENCH_MEM_BANDWIDTH_H_
#define SWATTN_BENCH_MEM_BANDWIDTH_H_

#include <cstddef>

namespace swattn_bench {

// A buffer larger than the caches, read `chunk` bytes out of every `stride`:
// the chunks at offset 0 of every stride first, then those at offset chunk,
// and so on, as a kernel that walks one head at a time reads the tensor.
// chunk == stride reads the buffer in order. chunk is a multiple of 512
// bytes and divides stride.
class StridedReader {
 public:
  StridedReader(size_t bytes, size_t chunk, size_t stride);
  ~StridedReader();
  StridedReader(const StridedReader&) = delete;
  StridedReader& operator=(const StridedReader&) = delete;

  // Reads every byte once in the pattern; returns a sum so that the reads
  // cannot be optimised away.
  float ReadAll() const;
  size_t bytes() const { return bytes_; }

 private:
  float* data_;
  size_t bytes_, chunk_, stride_;
};

}  // namespace swattn_bench

#endif  // SWATTN_BENCH_MEM_BANDWIDTH_H_
