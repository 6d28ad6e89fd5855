// lib/dispatch: the target table and forcing by name.
#include <cstring>
#include <set>
#include <string>

#include <catch2/catch.hpp>

#include "dispatch/targets.h"

namespace swattn {
namespace {

TEST_CASE("Targets are unique, compiled and end with scalar", "[dispatch]") {
  const auto& targets = AvailableTargets();
  REQUIRE(!targets.empty());
  CHECK(std::string(targets.back().name) == "scalar");
  std::set<std::string> names;
  for (const Target& t : targets) {
    CHECK(names.insert(t.name).second);
    CHECK(t.kernel.query_tile != nullptr);
    CHECK(t.kernel.scratch_floats != nullptr);
    CHECK(t.kernel.run_units != nullptr);
  }
  // Every SIMD kernel the CPU runs is listed, in the compiled (best first)
  // order.
  size_t count = 0;
  const SimdKernel* compiled = CompiledSimdKernels(&count);
  CHECK(targets.size() <= count + 1);
  for (size_t i = 0; i + 1 < targets.size(); ++i) {
    bool found = false;
    for (size_t c = 0; c < count; ++c) {
      found |= std::strcmp(compiled[c].name, targets[i].name) == 0;
    }
    CHECK(found);
  }
}

TEST_CASE("SetActiveTarget forces known targets and rejects others",
          "[dispatch]") {
  std::string error;
  for (const Target& t : AvailableTargets()) {
    REQUIRE(SetActiveTarget(t.name, &error));
    const Target* active = ActiveTarget(&error);
    REQUIRE(active != nullptr);
    CHECK(std::string(active->name) == t.name);
  }
  const Target* before = ActiveTarget(&error);
  CHECK_FALSE(SetActiveTarget("avx9000", &error));
  CHECK(error.find("avx9000") != std::string::npos);
  CHECK(ActiveTarget(&error) == before);
  REQUIRE(SetActiveTarget(nullptr, &error));
  CHECK(ActiveTarget(&error) == &AvailableTargets().front());
}

}  // namespace
}  // namespace swattn
