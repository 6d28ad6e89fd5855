// lib/kernels and lib/engine: every kernel through the kernel interface,
// against the scalar reference kernel, unit by unit.
#include <sys/mman.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "dispatch/targets.h"
#include "engine/engine.h"

namespace swattn {
namespace {

constexpr float kGuard = -12345.0f;

struct Data {
  std::vector<float> q, k, v, out, lse;
  Problem p;
};

// Contiguous [B, N, H, D] tensors with values in [-1, 1]; key j is then
// multiplied by 1 + ramp * j, so scores grow (or fall) along the sequence.
Data Make(int64_t nq, int64_t nk, int64_t heads, int64_t kv_heads,
          int64_t dim, int64_t dim_v, int64_t left, int64_t right,
          int64_t offset, unsigned seed, float ramp = 0.0f) {
  Data d;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const auto fill = [&](std::vector<float>& x, int64_t n) {
    x.resize(static_cast<size_t>(n));
    for (float& e : x) e = u(rng);
  };
  fill(d.q, nq * heads * dim);
  fill(d.k, nk * kv_heads * dim);
  for (int64_t j = 0; j < nk; ++j) {
    for (int64_t e = 0; e < kv_heads * dim; ++e) {
      d.k[static_cast<size_t>(j * kv_heads * dim + e)] *=
          1.0f + ramp * static_cast<float>(j);
    }
  }
  fill(d.v, nk * kv_heads * dim_v);
  d.out.assign(static_cast<size_t>(nq * heads * dim_v), kGuard);
  d.lse.assign(static_cast<size_t>(heads * nq), kGuard);
  Problem& p = d.p;
  p.batch = 1;
  p.nq = nq;
  p.nk = nk;
  p.heads = heads;
  p.kv_heads = kv_heads;
  p.dim = dim;
  p.dim_v = dim_v;
  p.q = {d.q.data(), nq * heads * dim, heads * dim, dim};
  p.k = {d.k.data(), nk * kv_heads * dim, kv_heads * dim, dim};
  p.v = {d.v.data(), nk * kv_heads * dim_v, kv_heads * dim_v, dim_v};
  p.out = {d.out.data(), nq * heads * dim_v, heads * dim_v, dim_v};
  p.lse = d.lse.data();
  p.left = left < 0 ? kUnboundedRadius : left;
  p.right = right < 0 ? kUnboundedRadius : right;
  p.query_offset = offset;
  p.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(dim)));
  return d;
}

// Runs every unit of `kernel`, split as for `threads` threads, with exactly
// the scratch it asks for, followed by a guard region that must stay
// untouched: forward as one chunk (each unit fetches the next one's first
// rows), or in reverse one unit a call.
void RunUnitsInOrder(const ForwardKernel& kernel, const Problem& p,
                     bool reverse, int threads = 1, bool stream_out = false) {
  Tiling t = PlanTiling(p, kernel, threads);
  t.stream_out |= stream_out;
  REQUIRE(t.block_q % kernel.query_tile() == 0);
  // Decode steps over many keys leave each part's state for the merge.
  const int64_t pairs = p.batch * p.heads * p.nq;
  std::vector<float> partials(
      t.key_splits > 1
          ? static_cast<size_t>(pairs * t.key_splits * PartialFloats(p))
          : 0,
      kGuard);
  t.partials = t.key_splits > 1 ? partials.data() : nullptr;
  const size_t floats = kernel.scratch_floats(p, t);
  const size_t guard = 256;
  const size_t bytes = ((floats + guard) * sizeof(float) + 63) / 64 * 64;
  float* scratch = static_cast<float*>(std::aligned_alloc(64, bytes));
  REQUIRE(scratch != nullptr);
  std::fill(scratch + floats, scratch + floats + guard, kGuard);
  if (reverse) {
    for (int64_t u = t.units - 1; u >= 0; --u) {
      kernel.run_units(p, t, u, u + 1, scratch);
    }
  } else {
    kernel.run_units(p, t, 0, t.units, scratch);
  }
  if (t.key_splits > 1) {
    // Every part of every pair was written.
    CHECK(std::count(partials.begin(), partials.end(), kGuard) == 0);
    MergeSplits(p, t, 0, pairs);
  }
  bool intact = true;
  for (size_t i = floats; i < floats + guard; ++i) intact &= scratch[i] == kGuard;
  std::free(scratch);
  CHECK(intact);
}

TEST_CASE("Every kernel matches the scalar kernel, in any unit order",
          "[kernels]") {
  struct Case {
    int64_t nq, nk, heads, kv_heads, dim, dim_v, left, right, offset;
    float ramp;
  };
  const Case cases[] = {
      {100, 100, 1, 1, 17, 17, 5, 5, 0},
      {300, 300, 4, 2, 64, 64, 16, 16, 0},
      {257, 257, 2, 1, 33, 20, -1, -1, 0},
      {129, 129, 3, 3, 128, 128, 40, 0, 0},
      {1, 50, 4, 1, 64, 64, 10, 0, 49},
      {70, 90, 2, 2, 8, 24, 3, 7, -5},
      {600, 600, 8, 2, 32, 48, 200, 200, 0},
      {40, 40, 1, 1, 5, 5, 2, 2, 60},
      {700, 700, 1, 1, 16, 16, 0, 0, 0},
      {90, 90, 12, 1, 9, 3, 31, 1, 0},
      // Dv over 4, 2 and 1 vectors of P.V columns, the last one cut short.
      {150, 150, 4, 2, 40, 100, 9, 3, 0},
      {120, 130, 2, 2, 16, 50, 6, 6, 10},
      // Scores that climb by ~0.5 (log2) per key raise the running max many
      // times inside a key block, for rows whose q.k is positive.
      {300, 300, 2, 1, 64, 64, -1, -1, 0, 1.0f},
      {200, 200, 1, 1, 32, 32, 100, 0, 0, 2.0f},
      // Packed key blocks, and a unit whose last tiles see no key (positions
      // past the keys): no block reaches them, yet their state is reset.
      {600, 450, 1, 1, 16, 16, 100, 100, 0},
      // Key rows back to back (one kv head), a window that strided rows
      // would pack on avx2: read in place there.
      {300, 300, 1, 1, 32, 32, 20, 20, 0},
      // Units of at most 4 queries (decode steps on every target: keys in
      // lanes): GQA over several key chunks (batches of a query's heads),
      // one query of one head (key by key), queries of one head in batches
      // (different windows), D of 1, 5, 17 and 20, Dv apart from D, rising
      // scores, every row's window empty (before and past the keys), and a
      // call whose last unit has 2 rows after full tiles.
      {1, 300, 8, 2, 128, 128, -1, 0, 299},
      {1, 200, 3, 3, 20, 36, -1, 0, 199},
      {4, 200, 8, 2, 64, 64, -1, 0, 196},
      {3, 150, 2, 2, 5, 40, 20, 0, 147},
      {2, 200, 4, 1, 17, 5, -1, 0, 198},
      {2, 150, 2, 2, 5, 40, 20, 0, 148},
      {2, 64, 4, 4, 1, 1, 10, 3, 62},
      // Groups of 5 query heads: units of 4 heads and of 1 on 2 threads,
      // batches of 4 and 1; groups of 3.
      {1, 200, 10, 2, 16, 16, -1, 0, 199},
      {1, 100, 6, 2, 24, 24, -1, 0, 99},
      // Decode steps over more than 512 keys: keys split into parts that
      // the engine merges (MHA key by key, MQA and GQA in batches, a sliding
      // window of 4 queries, keys on both sides with rising scores).
      {1, 1500, 4, 4, 16, 16, -1, 0, 1499},
      {1, 1300, 6, 1, 24, 40, -1, 0, 1299},
      {4, 2100, 8, 2, 20, 36, 700, 0, 2096},
      {2, 1100, 2, 2, 8, 8, -1, 5, 1090, 1.0f},
      {2, 100, 2, 1, 64, 64, -1, -1, 30},
      {2, 200, 2, 1, 32, 32, -1, 0, 198, 1.0f},
      {2, 20, 1, 1, 8, 8, 2, 2, 30},
      {4, 64, 4, 4, 1, 1, 10, 3, 60},
      {2, 10, 1, 1, 8, 8, 2, 2, -10},
      {34, 40, 2, 1, 16, 16, 3, 3, 0},
      // 5 and 8 queries: decode steps on AVX-512, the tiles elsewhere.
      {5, 150, 2, 2, 5, 40, 20, 0, 145},
      {5, 64, 4, 4, 1, 1, 10, 3, 59},
      {8, 300, 8, 2, 64, 64, -1, 0, 292},
      {8, 100, 2, 2, 20, 36, 30, 0, 92},
      // 9 queries: the tiles everywhere.
      {9, 150, 2, 2, 5, 40, 20, 0, 141},
      {9, 300, 8, 2, 64, 64, -1, 0, 291}};
  const Target& scalar = AvailableTargets().back();
  unsigned seed = 1;
  for (const Case& c : cases) {
    Data want = Make(c.nq, c.nk, c.heads, c.kv_heads, c.dim, c.dim_v, c.left,
                     c.right, c.offset, seed, c.ramp);
    RunUnitsInOrder(scalar.kernel, want.p, false);
    for (const Target& target : AvailableTargets()) {
      INFO("target " << target.name << " nq " << c.nq << " D " << c.dim
                     << " Dv " << c.dim_v << " window (" << c.left << ", "
                     << c.right << ") offset " << c.offset);
      Data fwd = Make(c.nq, c.nk, c.heads, c.kv_heads, c.dim, c.dim_v, c.left,
                      c.right, c.offset, seed, c.ramp);
      Data rev = fwd;
      rev.p.q.data = rev.q.data();
      rev.p.k.data = rev.k.data();
      rev.p.v.data = rev.v.data();
      rev.p.out.data = rev.out.data();
      rev.p.lse = rev.lse.data();
      // Forward, split for one thread (a decode step's unit spans every kv
      // head), and in reverse, split for two (one kv head per unit).
      RunUnitsInOrder(target.kernel, fwd.p, false, 1);
      RunUnitsInOrder(target.kernel, rev.p, true, 2);
      // Neither the schedule nor the split changes a bit.
      CHECK(std::memcmp(fwd.out.data(), rev.out.data(),
                        fwd.out.size() * sizeof(float)) == 0);
      CHECK(std::memcmp(fwd.lse.data(), rev.lse.data(),
                        fwd.lse.size() * sizeof(float)) == 0);
      double worst = 0.0;
      for (size_t i = 0; i < want.out.size(); ++i) {
        REQUIRE(fwd.out[i] != kGuard);  // every output was written
        worst = std::max(worst, std::fabs(double{fwd.out[i]} - want.out[i]));
      }
      for (size_t i = 0; i < want.lse.size(); ++i) {
        if (std::isinf(want.lse[i])) {
          CHECK(fwd.lse[i] == want.lse[i]);
        } else {
          // lse grows with the scores: compare it relative to its size.
          worst = std::max(worst, std::fabs(double{fwd.lse[i]} - want.lse[i]) /
                                      std::max(1.0, std::fabs(double{want.lse[i]})));
        }
      }
      // Scores of size S carry float32 rounding of S * 2^-24 into P, so the
      // ramps (scores up to ~100) get a proportionally wider tolerance.
      CHECK(worst < 5e-6 * (1.0 + c.ramp * static_cast<double>(c.nk)));
    }
    ++seed;
  }
}

// The softmax's 2^x on every SIMD target this CPU runs: its inputs are
// scores minus a running max, so x <= 8, and -inf for masked keys.
TEST_CASE("Each SIMD kernel's exp2: accurate to 2^-64, 0 below, NaN kept",
          "[kernels]") {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x;
  for (int i = -64 * 1024; i <= 8 * 1024; ++i) x.push_back(i / 1024.0f);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-64.0f, 8.0f);
  for (int i = 0; i < 20000; ++i) x.push_back(u(rng));
  const std::vector<float> zero = {-64.0001f, -65.0f, -100.5f, -126.5f,
                                   -127.0f,   -149.0f, -150.0f, -1e30f,
                                   std::numeric_limits<float>::lowest(), -inf};
  const std::vector<float> nan = {std::numeric_limits<float>::quiet_NaN(),
                                  -std::numeric_limits<float>::quiet_NaN()};
  std::vector<float> in = x;
  in.insert(in.end(), zero.begin(), zero.end());
  in.insert(in.end(), nan.begin(), nan.end());
  size_t count = 0;
  const SimdKernel* compiled = CompiledSimdKernels(&count);
  int tested = 0;
  for (const Target& target : AvailableTargets()) {
    for (size_t c = 0; c < count; ++c) {
      if (std::strcmp(compiled[c].name, target.name) != 0) continue;
      INFO("target " << target.name);
      ++tested;
      std::vector<float> out(in.size(), -1.0f);
      compiled[c].exp2(in.data(), in.size(), out.data());
      double worst = 0.0;  // relative error
      for (size_t i = 0; i < x.size(); ++i) {
        const double want = std::exp2(static_cast<double>(x[i]));
        worst = std::max(worst, std::fabs(out[i] - want) / want);
      }
      CHECK(worst < 2.5e-7);  // 2.1 ulp of 2^-23
      CHECK(out[64 * 1024] == 1.0f);  // 2^0: the row's max gives exactly 1
      for (size_t i = 0; i < zero.size(); ++i) {
        INFO("x = " << zero[i]);
        const float y = out[x.size() + i];
        CHECK(y == 0.0f);
        CHECK_FALSE(std::signbit(y));
      }
      for (size_t i = 0; i < nan.size(); ++i) {
        CHECK(std::isnan(out[x.size() + zero.size() + i]));
      }
    }
  }
  // Every SIMD target but the scalar one (always listed) was checked.
  CHECK(tested + 1 == static_cast<int>(AvailableTargets().size()));
}

TEST_CASE("Query rows too far apart for gather indices", "[kernels]") {
  // Rows 2^28 floats (1 GiB) apart: a tile's row offsets overflow the int32
  // gather index, so kernels that gather pack queries element by element
  // instead (x86 transposes rows in registers and needs no index).
  // The mapping is reserved, not committed: only the rows' pages are touched.
  const int64_t nq = 40, dim = 24;
  const int64_t stride = int64_t{1} << 28;
  const size_t bytes =
      static_cast<size_t>((nq - 1) * stride + dim) * sizeof(float);
  void* map = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  REQUIRE(map != MAP_FAILED);
  float* far_q = static_cast<float*>(map);
  Data want = Make(nq, nq, 1, 1, dim, dim, 5, 9, 0, 11);
  for (int64_t i = 0; i < nq; ++i) {
    std::copy(want.q.begin() + i * dim, want.q.begin() + (i + 1) * dim,
              far_q + i * stride);
  }
  RunUnitsInOrder(AvailableTargets().back().kernel, want.p, false);
  for (const Target& target : AvailableTargets()) {
    INFO("target " << target.name);
    Data near = Make(nq, nq, 1, 1, dim, dim, 5, 9, 0, 11);
    Data far = Make(nq, nq, 1, 1, dim, dim, 5, 9, 0, 11);
    far.p.q = {far_q, nq * stride, stride, dim};
    RunUnitsInOrder(target.kernel, near.p, false);
    RunUnitsInOrder(target.kernel, far.p, false);
    // Both packings compute the same products: the same bits come out.
    CHECK(std::memcmp(near.out.data(), far.out.data(),
                      near.out.size() * sizeof(float)) == 0);
    double worst = 0.0;
    for (size_t i = 0; i < want.out.size(); ++i) {
      worst = std::max(worst, std::fabs(double{far.out[i]} - want.out[i]));
    }
    CHECK(worst < 5e-6);
  }
  munmap(map, bytes);
}

TEST_CASE("Streamed outputs are the bits that stores give", "[kernels]") {
  // Outputs of whole aligned lines (Dv a multiple of 16) are streamed when
  // the tiling asks; others, and misaligned ones, fall back to stores.
  struct Case {
    int64_t nq, heads, kv_heads, dim, dim_v, left, right;
    size_t shift;  // floats past a 64-byte boundary where out starts
    bool lines;    // whether the output rows are then whole aligned lines
  };
  const Case cases[] = {{300, 4, 2, 64, 64, 16, 16, 0, true},
                        {200, 2, 2, 32, 128, 100, 0, 0, true},
                        {130, 3, 1, 24, 48, -1, -1, 0, true},
                        {100, 2, 1, 16, 64, 5, 5, 4, false},
                        {90, 2, 2, 16, 40, 7, 7, 0, false}};
  for (const Target& target : AvailableTargets()) {
    unsigned seed = 40;
    for (const Case& c : cases) {
      INFO("target " << target.name << " Dv " << c.dim_v << " shift "
                     << c.shift);
      Data stored = Make(c.nq, c.nq, c.heads, c.kv_heads, c.dim, c.dim_v,
                         c.left, c.right, 0, seed);
      Data streamed = Make(c.nq, c.nq, c.heads, c.kv_heads, c.dim, c.dim_v,
                           c.left, c.right, 0, seed++);
      const size_t count = streamed.out.size();
      const size_t bytes = ((count + c.shift) * sizeof(float) + 63) / 64 * 64;
      float* line = static_cast<float*>(std::aligned_alloc(64, bytes));
      REQUIRE(line != nullptr);
      float* out = line + c.shift;
      std::fill(out, out + count, kGuard);
      streamed.p.out.data = out;
      CHECK(OutputRowsAreLines(streamed.p) == c.lines);
      RunUnitsInOrder(target.kernel, stored.p, false);
      RunUnitsInOrder(target.kernel, streamed.p, false, 1, true);
      CHECK(std::memcmp(stored.out.data(), out, count * sizeof(float)) == 0);
      CHECK(std::memcmp(stored.lse.data(), streamed.lse.data(),
                        stored.lse.size() * sizeof(float)) == 0);
      int written = 0;
      for (size_t i = 0; i < count; ++i) written += out[i] != kGuard;
      CHECK(written == static_cast<int>(count));
      std::free(line);
    }
  }
}

TEST_CASE("The tiling depends on the problem; decode steps also on threads",
          "[engine]") {
  for (const Target& target : AvailableTargets()) {
    for (int64_t kv_heads : {1, 2, 8}) {
      Data d = Make(1000, 1000, 8, kv_heads, 64, 64, 10, 10, 0, 3);
      const Tiling t = PlanTiling(d.p, target.kernel, 1);
      INFO("target " << target.name << " kv_heads " << kv_heads);
      CHECK(t.block_q % target.kernel.query_tile() == 0);
      CHECK(t.heads_per_unit >= 1);
      CHECK(t.heads_per_unit <= d.p.Group());
      CHECK(t.kv_per_unit == 1);
      CHECK(t.units == t.q_blocks * t.head_chunks * kv_heads);
      CHECK_FALSE(t.stream_out);  // 2 MB of output stays in the caches
      const Tiling two = PlanTiling(d.p, target.kernel, 2);
      CHECK(two.block_q == t.block_q);
      CHECK(two.heads_per_unit == t.heads_per_unit);
      CHECK(two.units == t.units);
      // A decode step: on one thread, one unit over every kv head (kernels
      // with a decode path); on more, one kv head per unit as above.
      Data step = Make(3, 1000, 8, kv_heads, 64, 64, -1, 0, 997, 3);
      const Tiling one = PlanTiling(step.p, target.kernel, 1);
      const bool spans = target.kernel.decode_rows() >= 3;
      CHECK(one.kv_per_unit == (spans ? kv_heads : 1));
      // 1000 keys: two parts of 500 where the kernel has a decode path.
      CHECK(one.key_splits == (spans ? 2 : 1));
      CHECK(one.units ==
            one.key_splits *
                (one.kv_per_unit > 1 ? 1 : one.head_chunks * kv_heads));
      const Tiling two_step = PlanTiling(step.p, target.kernel, 2);
      CHECK(two_step.kv_per_unit == 1);
      // The parts depend on the problem only: their bits do not change.
      CHECK(two_step.key_splits == one.key_splits);
      CHECK(two_step.split_keys == one.split_keys);
      CHECK(two_step.split_first == one.split_first);
    }
    // 16 MiB of output is streamed (PlanTiling reads no data).
    Data d = Make(1, 1, 8, 8, 64, 64, 10, 10, 0, 3);
    d.p.nq = d.p.nk = int64_t{1} << 13;
    CHECK(PlanTiling(d.p, target.kernel, 1).stream_out);
  }
}

TEST_CASE("RunForward gives the same bits for 1, 2 and 7 threads",
          "[engine]") {
  for (const Target& target : AvailableTargets()) {
    Data one = Make(700, 700, 4, 2, 40, 40, 33, 12, 0, 9);
    std::string error;
    REQUIRE(RunForward(one.p, 1, target, &error) == SWATTN_OK);
    for (int threads : {2, 7}) {
      Data many = Make(700, 700, 4, 2, 40, 40, 33, 12, 0, 9);
      REQUIRE(RunForward(many.p, threads, target, &error) == SWATTN_OK);
      INFO("target " << target.name << " threads " << threads);
      CHECK(std::memcmp(one.out.data(), many.out.data(),
                        one.out.size() * sizeof(float)) == 0);
      CHECK(std::memcmp(one.lse.data(), many.lse.data(),
                        one.lse.size() * sizeof(float)) == 0);
    }
  }
}

TEST_CASE("Scratch left by an earlier call does not change a result",
          "[engine]") {
  // Calls on one thread share its scratch: a larger problem in between
  // leaves other values in it.
  for (const Target& target : AvailableTargets()) {
    INFO("target " << target.name);
    std::string error;
    Data first = Make(300, 300, 4, 2, 64, 64, 20, 5, 0, 21);
    REQUIRE(RunForward(first.p, 1, target, &error) == SWATTN_OK);
    Data between = Make(900, 900, 8, 1, 128, 128, 300, 300, 0, 22);
    REQUIRE(RunForward(between.p, 1, target, &error) == SWATTN_OK);
    Data again = Make(300, 300, 4, 2, 64, 64, 20, 5, 0, 21);
    REQUIRE(RunForward(again.p, 1, target, &error) == SWATTN_OK);
    CHECK(std::memcmp(first.out.data(), again.out.data(),
                      first.out.size() * sizeof(float)) == 0);
    CHECK(std::memcmp(first.lse.data(), again.lse.data(),
                      first.lse.size() * sizeof(float)) == 0);
    CHECK(first.out[0] != kGuard);
  }
}

}  // namespace
}  // namespace swattn
