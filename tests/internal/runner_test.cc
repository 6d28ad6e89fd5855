// lib/parallel: every unit runs once, and concurrent chunks have distinct
// slots (so per-thread scratch is never shared).
#include <atomic>
#include <mutex>
#include <vector>

#include <catch2/catch.hpp>

#include "parallel/runner.h"

namespace swattn {
namespace {

struct Record {
  std::vector<std::atomic<int>> runs;
  std::vector<std::atomic<int>> busy;  // per slot: chunks running now
  std::atomic<bool> slot_shared{false};
  std::atomic<bool> slot_out_of_range{false};
  int slots;
  Record(int64_t n, int s) : runs(static_cast<size_t>(n)), busy(static_cast<size_t>(s)), slots(s) {}
};

void Body(void* context, int64_t begin, int64_t end, int slot) {
  Record& r = *static_cast<Record*>(context);
  if (slot < 0 || slot >= r.slots) {
    r.slot_out_of_range = true;
    return;
  }
  if (r.busy[static_cast<size_t>(slot)].fetch_add(1) != 0) r.slot_shared = true;
  for (int64_t u = begin; u < end; ++u) r.runs[static_cast<size_t>(u)]++;
  r.busy[static_cast<size_t>(slot)].fetch_sub(1);
}

TEST_CASE("RunUnits runs each unit once on valid, unshared slots", "[runner]") {
  for (int threads : {0, 1, 2, 7}) {
    for (int64_t n : {0, 1, 5, 1000}) {
      const int slots = RunnerSlots(threads);
      REQUIRE(slots >= 1);
      Record r(n, slots);
      RunUnits(n, threads, &Body, &r);
      INFO("threads " << threads << " units " << n);
      CHECK_FALSE(r.slot_out_of_range);
      CHECK_FALSE(r.slot_shared);
      for (auto& x : r.runs) REQUIRE(x == 1);
    }
  }
}

TEST_CASE("RunnerSlots never exceeds what is available", "[runner]") {
  const int all = RunnerSlots(0);
  CHECK(RunnerSlots(1) == 1);
  CHECK(RunnerSlots(1 << 30) == all);
  CHECK(RunnerSlots(all) == all);
}

}  // namespace
}  // namespace swattn
