// lib/engine/scratch: the per-thread scratch that forward calls reuse.
#include <cstdint>
#include <thread>

#include <catch2/catch.hpp>

#include "engine/scratch.h"

namespace swattn {
namespace {

bool Aligned(const float* p) {
  return reinterpret_cast<uintptr_t>(p) % kScratchAlign == 0;
}

TEST_CASE("Calls on one thread reuse its scratch, grown to fit", "[engine]") {
  float* first = nullptr;
  {
    const CallScratch a(1000);
    REQUIRE(a.data() != nullptr);
    CHECK(Aligned(a.data()));
    first = a.data();
    a.data()[249] = 1.0f;  // the whole size is usable
  }
  {
    const CallScratch b(500);  // smaller: the same buffer
    CHECK(b.data() == first);
  }
  {
    const CallScratch c(kCachedScratchBytes);  // larger: grown
    REQUIRE(c.data() != nullptr);
    CHECK(Aligned(c.data()));
    c.data()[kCachedScratchBytes / sizeof(float) - 1] = 1.0f;
    const float* grown = c.data();
    {
      // Nested on the same thread while the cache is held: its own buffer.
      const CallScratch d(100);
      REQUIRE(d.data() != nullptr);
      CHECK(d.data() != grown);
    }
  }
  const CallScratch e(10);
  const float* cached = e.data();
  // Another thread has a cache of its own.
  const float* other = nullptr;
  std::thread([&] {
    const CallScratch f(10);
    other = f.data();
  }).join();
  CHECK(other != nullptr);
  CHECK(other != cached);
}

TEST_CASE("Scratch larger than the cache is the call's own", "[engine]") {
  const float* cached = nullptr;
  {
    const CallScratch a(64);
    cached = a.data();
  }
  {
    const CallScratch big(kCachedScratchBytes + 64);
    REQUIRE(big.data() != nullptr);
    CHECK(Aligned(big.data()));
    CHECK(big.data() != cached);
  }
  const CallScratch again(64);
  CHECK(again.data() == cached);  // the cache was left as it was
  // What cannot be allocated gives null, not a crash.
  const CallScratch none(SIZE_MAX / 2);
  CHECK(none.data() == nullptr);
  const CallScratch wraps(SIZE_MAX - 8);  // would wrap when rounded up
  CHECK(wraps.data() == nullptr);
}

}  // namespace
}  // namespace swattn
