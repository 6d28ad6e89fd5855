#include "engine/engine.h"

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "parallel/runner.h"

namespace swattn {
namespace {

// Queries per unit: large enough to amortise packing the queries and walking
// the band's edges, small enough to give every thread work at N = 4096.
constexpr int64_t kBlockQueries = 64;
// Query heads of one GQA group per unit: they share every K/V block while it
// is in L1. More would only grow the per-thread scratch.
constexpr int64_t kMaxHeadsPerUnit = 8;
constexpr size_t kScratchAlign = 64;

struct FreeDeleter {
  void operator()(float* p) const { std::free(p); }
};

struct Work {
  const Problem* problem;
  const Tiling* tiling;
  const ForwardKernel* kernel;
  float* scratch;
  size_t scratch_stride;  // floats per slot
};

void RunChunk(void* context, int64_t begin, int64_t end, int slot) {
  const Work& w = *static_cast<const Work*>(context);
  float* scratch = w.scratch + static_cast<size_t>(slot) * w.scratch_stride;
  for (int64_t u = begin; u < end; ++u) {
    w.kernel->run_unit(*w.problem, *w.tiling, u, scratch);
  }
}

}  // namespace

Tiling PlanTiling(const Problem& p, const ForwardKernel& kernel) {
  const int64_t tile = kernel.query_tile();
  const int64_t block_q = (std::max(kBlockQueries, tile) + tile - 1) / tile * tile;
  return MakeTiling(p, block_q, kMaxHeadsPerUnit);
}

swattn_status RunForward(const Problem& p, int num_threads,
                         const Target& target, std::string* error) {
  const Tiling tiling = PlanTiling(p, target.kernel);
  const int slots = RunnerSlots(num_threads);
  const size_t per_slot_bytes =
      (target.kernel.scratch_floats(p, tiling) * sizeof(float) +
       kScratchAlign - 1) / kScratchAlign * kScratchAlign;
  const size_t bytes = per_slot_bytes * static_cast<size_t>(slots);
  std::unique_ptr<float, FreeDeleter> scratch(
      static_cast<float*>(std::aligned_alloc(kScratchAlign, std::max(bytes, kScratchAlign))));
  if (!scratch) {
    *error = "could not allocate " + std::to_string(bytes) +
             " bytes of scratch for " + std::to_string(slots) + " threads";
    return SWATTN_ERROR_OUT_OF_MEMORY;
  }
  Work work{&p, &tiling, &target.kernel, scratch.get(),
            per_slot_bytes / sizeof(float)};
  RunUnits(tiling.units, num_threads, &RunChunk, &work);
  return SWATTN_OK;
}

}  // namespace swattn
