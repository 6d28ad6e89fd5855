// The runner: spreads independent work units over threads. The only layer
// that knows about oneTBB (runner_tbb.cc); embedded builds link
// runner_serial.cc instead (SWATTN_WITH_TBB=OFF).
#ifndef SWATTN_PARALLEL_RUNNER_H_
#define SWATTN_PARALLEL_RUNNER_H_

#include <stdint.h>

namespace swattn {

// Threads a call asking for `num_threads` (0 = all available) will use:
// at least 1, at most the number available to the process. Per-thread scratch is indexed by slot in [0, RunnerSlots()).
int RunnerSlots(int num_threads);

// Calls body(context, begin, end, slot) for disjoint chunks that cover units
// [0, num_units). Chunks running at the same time have distinct slots. The
// body must not throw. Returns when every unit has run.
using UnitBody = void (*)(void* context, int64_t begin, int64_t end,
                          int slot);
void RunUnits(int64_t num_units, int num_threads, UnitBody body,
              void* context);

}  // namespace swattn

#endif  // SWATTN_PARALLEL_RUNNER_H_
