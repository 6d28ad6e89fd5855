#include "engine/scratch.h"

#include <stdint.h>

#include <algorithm>

namespace swattn {
namespace {

float* Allocate(size_t bytes) {
  if (bytes > SIZE_MAX - kScratchAlign) return nullptr;
  // aligned_alloc wants a multiple of the alignment.
  const size_t size =
      std::max((bytes + kScratchAlign - 1) / kScratchAlign * kScratchAlign,
               kScratchAlign);
  return static_cast<float*>(std::aligned_alloc(kScratchAlign, size));
}

struct Cache {
  std::unique_ptr<float, void (*)(void*)> buffer{nullptr, std::free};
  size_t bytes = 0;
  bool held = false;
};

thread_local Cache cache;

}  // namespace

CallScratch::CallScratch(size_t bytes) {
  Cache& c = cache;
  if (!c.held && bytes <= kCachedScratchBytes) {
    if (c.bytes < bytes) {
      c.buffer.reset();  // free the old buffer before asking for more
      c.buffer.reset(Allocate(bytes));
      c.bytes = c.buffer ? bytes : 0;
    }
    if (c.buffer) {
      c.held = true;
      held_ = &c.held;
      data_ = c.buffer.get();
      return;
    }
  }
  own_.reset(Allocate(bytes));
  data_ = own_.get();
}

CallScratch::~CallScratch() {
  if (held_ != nullptr) *held_ = false;
}

}  // namespace swattn
