// The runner without oneTBB: every unit runs on the calling thread.
#include "parallel/runner.h"

namespace swattn {

int RunnerSlots(int /*num_threads*/) { return 1; }

void RunUnits(int64_t num_units, int /*num_threads*/, UnitBody body,
              void* context) {
  if (num_units > 0) body(context, 0, num_units, 0);
}

}  // namespace swattn
