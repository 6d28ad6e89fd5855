// Numerical robustness on every target: large logits stay finite, and NaN
// or Inf in an input reaches only the rows whose window contains it.
#include <swattn/swattn.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "oracle.h"

namespace swattn_test {
namespace {

void RequireAllFinite(const Problem& p, const Result& r) {
  int64_t bad = 0;
  for (int64_t b = 0; b < p.batch; ++b) {
    for (int64_t i = 0; i < p.nq; ++i) {
      for (int64_t h = 0; h < p.heads; ++h) {
        for (int64_t d = 0; d < p.vdim; ++d) {
          if (!std::isfinite(r.out.view().at(b, i, h, d))) ++bad;
        }
      }
    }
  }
  CHECK(bad == 0);
  int64_t bad_lse = 0;
  for (float x : r.lse) {
    if (!std::isfinite(x)) ++bad_lse;
  }
  CHECK(bad_lse == 0);
}

TEST_CASE("logits of magnitude 1e4 stay finite and accurate", "[numerics]") {
  struct Config {
    float amp, scale;
    int64_t dim, left, right;
  };
  const Config configs[] = {
      {1.0f, 3000.0f, 32, -1, -1},  // |logits| up to ~3e4 via the scale
      {1.0f, 3000.0f, 32, 9, 0},
      {150.0f, 0.0f, 8, 5, 5},      // inputs ~100, default scale
      {200.0f, 0.0f, 3, -1, 0},
      {50.0f, 1.0f, 17, 12, 3},
  };
  for (const Config& cfg : configs) {
    Problem p;
    p.batch = 2;
    p.nq = p.nk = 70;
    p.heads = 2;
    p.kv_heads = 1;
    p.dim = cfg.dim;
    p.vdim = 6;
    p.left = cfg.left;
    p.right = cfg.right;
    p.scale = cfg.scale;
    Case c(p, 4000 + static_cast<uint64_t>(cfg.dim), cfg.amp);
    // v stays in [-1, 1]: only the scores are large.
    Rng rng(17);
    c.v.Randomize(rng, 1.0f);
    const Expected want = Oracle(p, c.q.view(), c.k.view(), c.v.view());
    double max_logit = 0.0;
    for (double m : want.logit_mag) max_logit = std::max(max_logit, m);
    INFO(p.Describe() << " amp " << cfg.amp << " max |logit| bound "
                      << max_logit);
    CHECK(max_logit > 1e4);  // the case really has huge logits
    CheckAllTargets(c);
    ForEachTarget([&](const std::string& name) {
      RequireAllFinite(p, RunOn(name, c));
    });
  }
}

TEST_CASE("equal huge logits give the window mean", "[numerics]") {
  // q = k = 100 everywhere: every score is 0.5 * 4 * 1e4 = 2e4 exactly, so
  // the softmax is uniform over the window and lse = 2e4 + log(count).
  Problem p;
  p.nq = p.nk = 40;
  p.dim = 4;
  p.vdim = 3;
  p.left = 3;
  p.right = 2;
  Case c(p, 1);
  for (float& x : c.q.storage()) x = 100.0f;
  for (float& x : c.k.storage()) x = 100.0f;
  ForEachTarget([&](const std::string& name) {
    Result r = RunOn(name, c);
    for (int64_t i = 0; i < p.nq; ++i) {
      int64_t lo, hi;
      REQUIRE(p.Visible(i, &lo, &hi));
      INFO("row " << i);
      const double count = static_cast<double>(hi - lo + 1);
      // One ulp of 2e4 is ~0.002.
      CHECK(std::fabs(r.lse[static_cast<size_t>(i)] -
                      (2e4 + std::log(count))) <= 4e-3);
      for (int64_t d = 0; d < p.vdim; ++d) {
        double mean = 0.0;
        for (int64_t j = lo; j <= hi; ++j) mean += c.v.view().at(0, j, 0, d);
        mean /= count;
        CHECK(std::fabs(r.out.view().at(0, i, 0, d) - mean) <= 1e-5);
      }
    }
  });
}

enum class Poison { kKeyNaN, kValueNaN, kKeyInf, kValueInf };

const char* PoisonName(Poison what) {
  switch (what) {
    case Poison::kKeyNaN:
      return "NaN in k";
    case Poison::kValueNaN:
      return "NaN in v";
    case Poison::kKeyInf:
      return "+Inf in k";
    case Poison::kValueInf:
      return "+Inf in v";
  }
  return "?";
}

// Poisons key j of batch 1 and checks that every row whose window does not
// contain j is bitwise the clean result, and that rows containing it are
// non-finite where the math says so.
void CheckPoisonLocality(const Problem& p, Case& clean, const Result& base,
                         const std::string& name, Poison what, int64_t j) {
  INFO(PoisonName(what) << " at key " << j);
  Case dirty = clean;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const View k = dirty.k.view(), v = dirty.v.view();
  for (int64_t g = 0; g < p.kv_heads; ++g) {  // every head sees key j
    switch (what) {
      case Poison::kKeyNaN:
        k.at(1, j, g, p.dim / 2) = nan;  // one element poisons the score
        break;
      case Poison::kValueNaN:
        for (int64_t d = 0; d < p.vdim; ++d) v.at(1, j, g, d) = nan;
        break;
      case Poison::kKeyInf:
        for (int64_t d = 0; d < p.dim; ++d) k.at(1, j, g, d) = inf;
        break;
      case Poison::kValueInf:
        for (int64_t d = 0; d < p.vdim; ++d) v.at(1, j, g, d) = inf;
        break;
    }
  }
  Result got = RunOn(name, dirty);
  const View go = got.out.view(), bo = base.out.view();
  int64_t leaked = 0, clean_rows = 0, missing = 0, poisoned_rows = 0;
  for (int64_t b = 0; b < p.batch; ++b) {
    for (int64_t i = 0; i < p.nq; ++i) {
      int64_t lo, hi;
      const bool contains = b == 1 && p.Visible(i, &lo, &hi) && lo <= j &&
                            j <= hi;
      for (int64_t h = 0; h < p.heads; ++h) {
        const size_t l = static_cast<size_t>((b * p.heads + h) * p.nq + i);
        const bool same_out =
            std::memcmp(&go.at(b, i, h, 0), &bo.at(b, i, h, 0),
                        sizeof(float) * static_cast<size_t>(p.vdim)) == 0;
        const bool same_lse =
            std::memcmp(&got.lse[l], &base.lse[l], sizeof(float)) == 0;
        if (!contains) {
          ++clean_rows;
          if ((!same_out || !same_lse) && ++leaked <= 3) {
            UNSCOPED_INFO("row b=" << b << " i=" << i << " h=" << h
                                   << " changed though its window excludes "
                                   << j << ": out[0] " << go.at(b, i, h, 0)
                                   << " was " << bo.at(b, i, h, 0));
          }
          continue;
        }
        ++poisoned_rows;
        bool all_nonfinite = true;
        for (int64_t d = 0; d < p.vdim; ++d) {
          all_nonfinite = all_nonfinite && !std::isfinite(go.at(b, i, h, d));
        }
        bool as_expected = true;
        switch (what) {
          case Poison::kKeyNaN:
            as_expected = all_nonfinite && std::isnan(got.lse[l]);
            break;
          case Poison::kValueNaN:
          case Poison::kValueInf:
            // v does not enter the denominator: lse keeps its clean bits.
            as_expected = all_nonfinite && same_lse;
            break;
          case Poison::kKeyInf:
            // q . (+Inf, ...) is +-Inf or NaN depending on the signs of q;
            // a -Inf score legitimately gets weight 0. Only locality holds.
            break;
        }
        if (!as_expected && ++missing <= 3) {
          UNSCOPED_INFO("row b=" << b << " i=" << i << " h=" << h
                                 << " sees key " << j << " but out[0] = "
                                 << go.at(b, i, h, 0) << ", lse = "
                                 << got.lse[l] << " (clean lse "
                                 << base.lse[l] << ")");
        }
      }
    }
  }
  CHECK(clean_rows > 0);
  CHECK(poisoned_rows > 0);
  CHECK(leaked == 0);
  CHECK(missing == 0);
}

// Decode steps (queries, kv heads) of 2 heads, one per way the kernels
// batch (head, query) pairs: the heads of each query share its key rows
// (4, 1), queries with different windows share them (4, 2), and one pair per
// kv head sums key by key (1, 2).
constexpr int64_t kDecodeShapes[][2] = {{4, 1}, {4, 2}, {1, 2}};

// The last nq of nk positions query, 2 batch entries of 2 heads; each key in
// `keys` is poisoned in turn, every way in `poisons`, on every target.
void CheckLocalityOnTargets(int64_t nq, int64_t kv_heads, int64_t nk,
                            const int64_t window[2],
                            const std::vector<int64_t>& keys,
                            const std::vector<Poison>& poisons, uint64_t seed) {
  Problem p;
  p.batch = 2;
  p.nq = nq;
  p.nk = nk;
  p.heads = 2;
  p.kv_heads = kv_heads;
  p.dim = 16;
  p.vdim = 8;
  p.left = window[0];
  p.right = window[1];
  INFO(p.Describe());
  Case clean(p, seed);
  ForEachTarget([&](const std::string& name) {
    const Result base = RunOn(name, clean);
    for (int64_t j : keys) {
      for (Poison what : poisons) {
        CheckPoisonLocality(p, clean, base, name, what, j);
      }
    }
  });
}

TEST_CASE("NaN and Inf stay inside the windows that contain them",
          "[numerics]") {
  const int64_t windows[][2] = {{3, 5}, {0, 7}, {16, 0}, {-1, 0}, {5, -1}};
  const std::vector<Poison> poisons = {Poison::kKeyNaN, Poison::kValueNaN,
                                       Poison::kKeyInf, Poison::kValueInf};
  for (const auto& w : windows) {
    CheckLocalityOnTargets(100, 1, 100, w, {0, 32, 63, 99}, poisons, 31337);
    // Decode steps at the last positions.
    for (const auto& shape : kDecodeShapes) {
      const std::vector<int64_t> keys = shape[0] == 4
                                            ? std::vector<int64_t>{96, 98, 99}
                                            : std::vector<int64_t>{99};
      CheckLocalityOnTargets(shape[0], shape[1], 100, w, keys, poisons, 31337);
    }
  }
}

TEST_CASE("NaN and Inf stay inside the windows of split decode steps",
          "[numerics]") {
  // Decode steps over more than 512 keys split them into parts that the
  // engine merges: a poisoned key reaches only the rows that see it,
  // whichever part holds it. With (700, 0) the first query alone sees the
  // first key of the first part.
  const int64_t nk = 1100;
  const int64_t windows[][2] = {{-1, 0}, {700, 0}};
  for (const auto& shape : kDecodeShapes) {
    const int64_t nq = shape[0];
    for (const auto& w : windows) {
      const std::vector<int64_t> keys =
          w[0] < 0 ? std::vector<int64_t>{10, 600, nk - 1}
                   : std::vector<int64_t>{nk - nq - w[0], nk - 1};
      CheckLocalityOnTargets(nq, shape[1], nk, w, keys,
                             {Poison::kKeyNaN, Poison::kValueInf}, 4242);
    }
  }
}

TEST_CASE("NaN in a query row stays in that row", "[numerics]") {
  // 60 queries, and decode steps (kDecodeShapes).
  std::vector<std::array<int64_t, 2>> shapes = {{60, 1}};
  for (const auto& shape : kDecodeShapes)
    shapes.push_back({shape[0], shape[1]});
  for (const auto& shape : shapes) {
    const int64_t nq = shape[0];
    Problem p;
    p.nq = nq;
    p.nk = 60;
    p.heads = 2;
    p.kv_heads = shape[1];
    p.dim = 12;
    p.vdim = 5;
    p.left = 4;
    p.right = 4;
    INFO(p.Describe());
    Case clean(p, 2718);
    Case dirty = clean;
    const int64_t row = nq == 60 ? 33 : nq / 2;
    dirty.q.view().at(0, row, 1, 3) = std::numeric_limits<float>::quiet_NaN();
    ForEachTarget([&](const std::string& name) {
      Result a = RunOn(name, clean);
      Result b = RunOn(name, dirty);
      for (int64_t i = 0; i < p.nq; ++i) {
        for (int64_t h = 0; h < p.heads; ++h) {
          INFO("row " << i << " head " << h);
          const bool poisoned = i == row && h == 1;
          for (int64_t d = 0; d < p.vdim; ++d) {
            const float x = b.out.view().at(0, i, h, d);
            const float y = a.out.view().at(0, i, h, d);
            if (poisoned) {
              CHECK(std::isnan(x));
            } else {
              CHECK(std::memcmp(&x, &y, sizeof(float)) == 0);
            }
          }
        }
      }
    });
  }
}

}  // namespace
}  // namespace swattn_test
