// The test runner: Catch2's session, plus an optional report of how close
// each target came to its tolerance (SWATTN_TEST_STATS=1), which is how the
// bounds in oracle.h were tuned.
#define CATCH_CONFIG_RUNNER
#include <cstdlib>

#include <catch2/catch.hpp>

#include "oracle.h"

int main(int argc, char* argv[]) {
  const int failed = Catch::Session().run(argc, argv);
  const char* stats = std::getenv("SWATTN_TEST_STATS");
  if (stats != nullptr && stats[0] == '1') swattn_test::PrintErrorStats();
  return failed;
}
