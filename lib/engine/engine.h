// The engine: turns a checked problem into work. It picks the tiling, sizes
// the per-thread scratch once per call and runs the units of one target's
// kernel through the runner.
#ifndef SWATTN_ENGINE_ENGINE_H_
#define SWATTN_ENGINE_ENGINE_H_

#include <string>

#include "core/problem.h"
#include "dispatch/targets.h"
#include "swattn/swattn.h"

namespace swattn {

// The split of `p` into units for a kernel on `threads` threads. Only how
// decode steps group kv heads into units depends on the thread count, and
// that changes no result: results stay bitwise identical for any number of
// threads.
Tiling PlanTiling(const Problem& p, const ForwardKernel& kernel, int threads);

// Merges the parts of a split decode step for pairs [begin, end) (pair =
// (b * heads + h) * nq + i): writes their output rows and lse.
void MergeSplits(const Problem& p, const Tiling& t, int64_t begin, int64_t end);

// Computes `p` on `target` with up to num_threads threads (0 = all).
// Returns SWATTN_OK, or SWATTN_ERROR_OUT_OF_MEMORY with *error set before any
// output is written.
swattn_status RunForward(const Problem& p, int num_threads,
                         const Target& target, std::string* error);

}  // namespace swattn

#endif  // SWATTN_ENGINE_ENGINE_H_
