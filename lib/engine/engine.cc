#include "engine/engine.h"

#include <math.h>
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
// A decode step over more keys than this splits them into parts, each its
// own units, so that a step with one kv head (MQA) or few spreads over
// threads (MQA 8/1, 32768 keys, 2 threads: 1.3-1.4x). On one thread the
// parts measured even with MHA and 0-8% slower with GQA 32/8.
constexpr int64_t kSplitKeys = 512;
// At most this much partial state for the parts of one call; more pairs
// take fewer parts (they have the units to spread without).
constexpr double kMaxPartialBytes = 4 << 20;
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

struct Merge {
  const Problem* problem;
  const Tiling* tiling;
};

void MergeChunk(void* context, int64_t begin, int64_t end, int) {
  const Merge& m = *static_cast<const Merge*>(context);
  MergeSplits(*m.problem, *m.tiling, begin, end);
}

}  // namespace

void MergeSplits(const Problem& p, const Tiling& t, int64_t begin,
                 int64_t end) {
  for (int64_t pair = begin; pair < end; ++pair) {
    const int64_t i = pair % p.nq;
    const int64_t h = pair / p.nq % p.heads;
    const int64_t b = pair / p.nq / p.heads;
    float top = PartialRow(p, t, b, h, i, 0)[0];
    for (int64_t s = 1; s < t.key_splits; ++s) {
      top = std::max(top, PartialRow(p, t, b, h, i, s)[0]);
    }
    // Each part's state scaled to the common max; a part that saw no key
    // (m = lowest float, l = 0) weighs 0, or 1 if no part saw one.
    float* out = p.out.Row(b, i, h);
    std::fill(out, out + p.dim_v, 0.0f);
    float l = 0.0f;
    for (int64_t s = 0; s < t.key_splits; ++s) {
      const float* part = PartialRow(p, t, b, h, i, s);
      const float weight = std::exp2(part[0] - top);
      l += weight * part[1];
      for (int64_t c = 0; c < p.dim_v; ++c) out[c] += weight * part[2 + c];
    }
    const float inv_l = InverseSum(l);
    for (int64_t c = 0; c < p.dim_v; ++c) out[c] *= inv_l;
    if (p.lse != nullptr) p.lse[pair] = Lse(top, l);
  }
}

Tiling PlanTiling(const Problem& p, const ForwardKernel& kernel, int threads) {
  const int64_t tile = kernel.query_tile();
  const int64_t heads = std::min(p.Group(), kMaxHeadsPerUnit);
  const int64_t rows =
      std::min(kRowsPerUnit, kRowsPerWindowKey * p.WindowKeys());
  const int64_t queries = std::max(rows / heads, tile);
  Tiling t;
  if (p.nq <= kernel.decode_rows()) {
    // A decode step on one thread: one unit per batch entry over all kv
    // heads reads each key position's rows in address order (1.2-1.7x
    // faster; see ForwardFewRows). On 2 threads, units of half the kv
    // heads each ran 1.3-1.5x slower than units of one kv head.
    t = MakeTiling(p, tile, heads, threads == 1 ? p.kv_heads : 1);
    // Parts of the keys, chosen by the problem alone so that no result
    // depends on the thread count.
    const int64_t keys = p.KeysSeen();
    const double pair_bytes = 4.0 * static_cast<double>(p.batch * p.heads) *
                              static_cast<double>(p.nq * PartialFloats(p));
    const int64_t most = static_cast<int64_t>(
        std::max(1.0, std::floor(kMaxPartialBytes / pair_bytes)));
    const int64_t parts = std::min((keys + kSplitKeys - 1) / kSplitKeys, most);
    if (parts > 1) SplitKeys(p, (keys + parts - 1) / parts, &t);
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
  Tiling tiling = PlanTiling(p, target.kernel, slots);
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
  // Parts of split keys leave their state after the threads' slots, in the
  // same buffer, which the thread keeps for its next call (a buffer of its
  // own would take page faults on every call).
  const int64_t pairs = p.batch * p.heads * p.nq;
  const size_t partial_bytes =
      tiling.key_splits > 1
          ? static_cast<size_t>(pairs) *
                static_cast<size_t>(tiling.key_splits) *
                static_cast<size_t>(PartialFloats(p)) * sizeof(float)
          : 0;
  const size_t bytes =
      per_slot_bytes * static_cast<size_t>(slots) + partial_bytes;
  const CallScratch scratch(bytes);
  if (scratch.data() == nullptr) {
    *error = "could not allocate " + std::to_string(bytes) +
             " bytes of scratch for " + std::to_string(slots) + " threads";
    return SWATTN_ERROR_OUT_OF_MEMORY;
  }
  if (tiling.key_splits > 1) {
    tiling.partials = scratch.data() + per_slot_bytes / sizeof(float) *
                                           static_cast<size_t>(slots);
  }
  Work work{&p, &tiling, &target.kernel, scratch.data(),
            per_slot_bytes / sizeof(float)};
  RunUnits(tiling.units, num_threads, &RunChunk, &work);
  if (tiling.key_splits > 1) {
    Merge merge{&p, &tiling};
    RunUnits(pairs, num_threads, &MergeChunk, &merge);
  }
  return SWATTN_OK;
}

}  // namespace swattn
