// Scratch memory of one forward call, reused across the calls of a thread.
#ifndef SWATTN_ENGINE_SCRATCH_H_
#define SWATTN_ENGINE_SCRATCH_H_

#include <stddef.h>

#include <cstdlib>
#include <memory>

namespace swattn {

// Scratch up to this size stays with the calling thread for its next call
// (freed when the thread exits): a 16-query call spent ~12% of its
// microsecond in malloc and free.
inline constexpr size_t kCachedScratchBytes = size_t{16} << 20;

// Alignment of CallScratch::data(), in bytes: a cache line.
inline constexpr size_t kScratchAlign = 64;

// `bytes` of kScratchAlign-aligned scratch for one call: the calling thread's
// cached buffer (grown to fit) when the call needs at most
// kCachedScratchBytes and no other call on this thread holds it, else a
// buffer of its own. data() is null if the memory could not be allocated.
class CallScratch {
 public:
  explicit CallScratch(size_t bytes);
  ~CallScratch();
  CallScratch(const CallScratch&) = delete;
  CallScratch& operator=(const CallScratch&) = delete;

  float* data() const { return data_; }

 private:
  bool* held_ = nullptr;  // the cache's flag, if this holds the cache
  std::unique_ptr<float, void (*)(void*)> own_{nullptr, std::free};
  float* data_ = nullptr;
};

}  // namespace swattn

#endif  // SWATTN_ENGINE_SCRATCH_H_
