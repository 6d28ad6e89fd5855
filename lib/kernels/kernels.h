// The kernel interface: what dispatch hands the engine for one target.
#ifndef SWATTN_KERNELS_KERNELS_H_
#define SWATTN_KERNELS_KERNELS_H_

#include <stddef.h>
#include <stdint.h>

#include "core/problem.h"

namespace swattn {

// One target's f32 forward kernel. A kernel computes whole work units; the
// engine calls it from many threads at once, each with its own scratch.
struct ForwardKernel {
  // Query rows the kernel processes together; the engine makes block_q a
  // multiple of it so that results never depend on how units are scheduled.
  int64_t (*query_tile)();
  // Units of at most this many queries run as decode steps (0: none). Only
  // when every unit is one may a tiling give units several kv heads
  // (Tiling::kv_per_unit > 1); a pair's result is the same either way.
  int64_t (*decode_rows)();
  // Floats of scratch (64-byte aligned) one thread needs for this problem;
  // SIZE_MAX when that count does not fit in size_t.
  size_t (*scratch_floats)(const Problem& p, const Tiling& t);
  // Computes units [begin, end) in order: writes their rows of out and, if
  // requested, of lse, or for parts of split keys (Tiling::key_splits > 1)
  // their pairs' partial state. Knowing the next unit lets a kernel fetch
  // its first rows during the current one.
  void (*run_units)(const Problem& p, const Tiling& t, int64_t begin,
                    int64_t end, float* scratch);
};

// A Highway-compiled kernel, with the Highway target bit it needs.
struct SimdKernel {
  int64_t hwy_target;
  const char* name;
  ForwardKernel kernel;
  // The softmax's 2^x, element by element, for tests (its edge cases differ
  // by target).
  void (*exp2)(const float* x, size_t n, float* out);
};

// The SIMD kernels this binary was compiled with, best first
// (kernels/forward_f32.cc). The CPU may not run all of them.
const SimdKernel* CompiledSimdKernels(size_t* count);

// The plain C++ reference kernel (kernels/scalar_forward.cc): runs anywhere.
const ForwardKernel& ScalarKernel();

}  // namespace swattn

#endif  // SWATTN_KERNELS_KERNELS_H_
