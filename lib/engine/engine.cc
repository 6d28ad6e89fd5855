#include "engine/engine.h"

#include <stdint.h>

#include <algorithm>
#include <string>

#include "engine/scratch.h"
#include "parallel/runner.h"

namespace swattn {
namespace {

// Query rows per unit, over all its heads. A unit packs each K/V block of its
// band once and runs all its rows against it, so more rows means fewer
// refetches of the band (neighbouring units share most of it); 512 rows keep
// the per-thread state (queries and accumulators, 512 KiB at D = 128) in L2.
constexpr int64_t kRowsPerUnit = 512;
// Small windows have little band to share; there, fewer rows per unit let
// the units of one query block's heads, which run back to back, come back
// to the same pages of q, k, v and out sooner (TLB entries, cached lines):
// 2 rows per window key gave 7% (W = 16) to 12% (causal W = 16) over 512.
constexpr int64_t kRowsPerWindowKey = 2;
// Query heads of one GQA group per unit: they share every K/V block.
constexpr int64_t kMaxHeadsPerUnit = 4;
// Outputs from this size on are written with non-temporal stores: they
// leave the caches anyway, and a normal store first reads each line from
// memory, a quarter of the lines that small windows wait for (W = 16:
// +6-7%). Smaller outputs stay cached for whoever reads them next.
constexpr int64_t kStreamOutBytes = int64_t{8} << 20;
// Threads' scratch slots are at least this far apart: the next-line and
// adjacent-pair prefetchers would otherwise pull a neighbour's first lines
// into this core while that thread writes them. The scalar kernel's 256-byte
// slots ran up to 1.45x slower on 2 threads without it.
constexpr size_t kSlotGap = 128;
// More scratch than any machine can address: a bound that keeps the byte
// arithmetic below from wrapping.
constexpr size_t kMaxScratchBytes = SIZE_MAX / 4;

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
  w.kernel->run_units(*w.problem, *w.tiling, begin, end, scratch);
}

}  // namespace

Tiling PlanTiling(const Problem& p, const ForwardKernel& kernel, int threads) {
  const int64_t tile = kernel.query_tile();
  const int64_t heads = std::min(p.Group(), kMaxHeadsPerUnit);
  const int64_t rows =
      std::min(kRowsPerUnit, kRowsPerWindowKey * p.WindowKeys());
  const int64_t queries = std::max(rows / heads, tile);
  Tiling t;
  if (p.nq <= kernel.decode_rows() && threads == 1) {
    // A decode step on one thread: one unit per batch entry over all kv
    // heads reads each key position's rows in address order (1.2-1.7x
    // faster; see ForwardFewRows). On 2 threads, units of half the kv
    // heads each ran 1.3-1.5x slower than units of one kv head.
    t = MakeTiling(p, tile, heads, p.kv_heads);
  } else {
    t = MakeTiling(p, (queries + tile - 1) / tile * tile, heads);
  }
  // In double: the product of four checked extents may pass int64.
  t.stream_out = 4.0 * static_cast<double>(p.batch) *
                     static_cast<double>(p.nq) * static_cast<double>(p.heads) *
                     static_cast<double>(p.dim_v) >=
                 static_cast<double>(kStreamOutBytes);
  return t;
}

swattn_status RunForward(const Problem& p, int num_threads,
                         const Target& target, std::string* error) {
  const int slots = RunnerSlots(num_threads);
  const Tiling tiling = PlanTiling(p, target.kernel, slots);
  const size_t floats = target.kernel.scratch_floats(p, tiling);
  // Huge dims (a kernel says SIZE_MAX) would wrap the byte count below.
  if (floats > kMaxScratchBytes / sizeof(float) / static_cast<size_t>(slots)) {
    *error = "the scratch for dim " + std::to_string(p.dim) + ", v dim " +
             std::to_string(p.dim_v) + " on " + std::to_string(slots) +
             " threads exceeds the address space";
    return SWATTN_ERROR_OUT_OF_MEMORY;
  }
  const size_t per_slot_bytes = (floats * sizeof(float) + kScratchAlign - 1) /
                                    kScratchAlign * kScratchAlign +
                                kSlotGap;
  const size_t bytes = per_slot_bytes * static_cast<size_t>(slots);
  const CallScratch scratch(bytes);
  if (scratch.data() == nullptr) {
    *error = "could not allocate " + std::to_string(bytes) +
             " bytes of scratch for " + std::to_string(slots) + " threads";
    return SWATTN_ERROR_OUT_OF_MEMORY;
  }
  Work work{&p, &tiling, &target.kernel, scratch.data(),
            per_slot_bytes / sizeof(float)};
  RunUnits(tiling.units, num_threads, &RunChunk, &work);
  return SWATTN_OK;
}

}  // namespace swattn
