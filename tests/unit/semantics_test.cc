// The attention contract (DESIGN.md "Semantics") on every target, against
// the float64 oracle and against the scalar target.
#include <swattn/swattn.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "oracle.h"

namespace swattn_test {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

// A problem with the sizes, window radii and query offset of a test's
// configuration row (the other fields keep their defaults).
template <class Config>
Problem WindowProblem(const Config& cfg) {
  Problem p;
  p.nq = cfg.nq;
  p.nk = cfg.nk;
  p.left = cfg.left;
  p.right = cfg.right;
  p.offset = cfg.offset;
  return p;
}

template <class T>
T Pick(Rng& rng, const std::vector<T>& options) {
  return options[static_cast<size_t>(
      rng.Int(0, static_cast<int64_t>(options.size()) - 1))];
}

TEST_CASE("random shapes match the oracle", "[semantics]") {
  Rng rng(20240611);
  const std::vector<int64_t> dims = {1,  2,  3,  4,  5,  7,  8,   15,  16,
                                     17, 31, 32, 33, 63, 64, 100, 128, 256};
  const std::vector<int64_t> radii = {-1, 0, 1, 2, 3, 5, 8, 16, 31, 33, 64};
  for (int t = 0; t < 30; ++t) {
    Problem p;
    p.dim = Pick(rng, dims);
    p.vdim = rng.Int(0, 1) ? p.dim : Pick(rng, dims);
    // Long rows only with small heads keep the suite fast under emulation.
    const int64_t max_n = std::max(p.dim, p.vdim) > 64 ? 40 : 130;
    p.nk = rng.Int(1, max_n);
    p.nq = rng.Int(0, 2) == 0 ? rng.Int(1, p.nk) : p.nk;
    p.kv_heads = rng.Int(1, 2);
    p.heads = p.kv_heads * rng.Int(1, 3);
    p.batch = rng.Int(1, 2);
    p.left = Pick(rng, radii);
    p.right = Pick(rng, radii);
    INFO("random case " << t);
    Case c(p, 1000 + static_cast<uint64_t>(t));
    CheckAllTargets(c);
  }
}

TEST_CASE("head dims that are not vector multiples, odd sequence lengths",
          "[semantics]") {
  for (int64_t d : {1, 3, 17, 33, 100, 256}) {
    for (int64_t n : {1, 5, 33, 65, 130}) {
      if (d >= 100 && n > 33) continue;  // keeps emulated runs short
      for (int64_t w : {int64_t{-1}, int64_t{7}}) {
        Problem p;
        p.nq = p.nk = n;
        p.dim = d;
        p.vdim = d;
        p.left = p.right = w;
        Case c(p, static_cast<uint64_t>(d * 1000 + n));
        CheckAllTargets(c);
      }
    }
  }
}

TEST_CASE("value dim differs from the key dim", "[semantics]") {
  const int64_t pairs[][2] = {{4, 1}, {1, 9}, {17, 64}, {64, 17},
                              {33, 100}, {256, 3}, {8, 256}};
  for (const auto& dv : pairs) {
    Problem p;
    p.nq = p.nk = dv[0] >= 256 || dv[1] >= 256 ? 21 : 70;
    p.dim = dv[0];
    p.vdim = dv[1];
    p.left = 6;
    p.right = 3;
    p.heads = 2;
    p.kv_heads = 2;
    Case c(p, 77 + static_cast<uint64_t>(dv[0] * 300 + dv[1]));
    CheckAllTargets(c);
  }
}

TEST_CASE("head dims far beyond the vector length", "[semantics]") {
  const int64_t dims[][2] = {{1000, 600}, {513, 1}, {1, 777}};
  for (const auto& d : dims) {
    Problem p;
    p.nq = p.nk = 9;
    p.heads = 2;
    p.kv_heads = 1;
    p.dim = d[0];
    p.vdim = d[1];
    p.left = 2;
    p.right = 3;
    Case c(p, 31 + static_cast<uint64_t>(d[0] + d[1]));
    CheckAllTargets(c);
  }
}

TEST_CASE("a window at least as wide as the sequence equals dense",
          "[semantics]") {
  for (int64_t n : {1, 9, 70}) {
    Problem dense;
    dense.nq = dense.nk = n;
    dense.dim = dense.vdim = 20;
    dense.heads = 2;
    Case c(dense, 31 + static_cast<uint64_t>(n));
    CheckAllTargets(c);
    for (int64_t w : {n - 1, n, 2 * n + 5, kMax}) {
      Problem wide = dense;
      wide.left = wide.right = w;
      INFO(wide.Describe());
      ForEachTarget([&](const std::string& name) {
        Result want = RunOn(name, c);
        Case cw = c;
        cw.p = wide;
        Result got = RunOn(name, cw);
        const Tolerance tight{1e-6, 1e-6, 0.0};
        const std::string diff =
            CompareResults(wide, got.out.view(), got.lse.data(),
                           want.out.view(), want.lse.data(), tight);
        INFO(diff);
        CHECK(diff.empty());
      });
    }
  }
}

TEST_CASE("radius 0 returns V", "[semantics]") {
  for (int64_t heads : {1, 4}) {
    Problem p;
    p.batch = 2;
    p.nq = p.nk = 37;
    p.heads = heads;
    p.kv_heads = heads == 4 ? 2 : 1;
    p.dim = 13;
    p.vdim = 19;
    p.left = p.right = 0;
    Case c(p, 5 + static_cast<uint64_t>(heads));
    CheckAllTargets(c);
    const int64_t group = p.heads / p.kv_heads;
    ForEachTarget([&](const std::string& name) {
      Result r = RunOn(name, c);
      const View out = r.out.view(), v = c.v.view();
      int64_t bad = 0;
      for (int64_t b = 0; b < p.batch; ++b) {
        for (int64_t i = 0; i < p.nq; ++i) {
          for (int64_t h = 0; h < p.heads; ++h) {
            for (int64_t d = 0; d < p.vdim; ++d) {
              // softmax over one key is exactly 1: out is v up to rounding.
              const float want = v.at(b, i, h / group, d);
              if (std::fabs(out.at(b, i, h, d) - want) >
                  1e-6f * std::fabs(want) + 1e-7f) {
                ++bad;
              }
            }
          }
        }
      }
      CHECK(bad == 0);
    });
  }
}

TEST_CASE("keys outside a row's window cannot change it", "[semantics]") {
  struct Config {
    int64_t left, right, nq, nk, offset;
  };
  const Config configs[] = {{3, 5, 100, 100, SWATTN_QUERY_OFFSET_DEFAULT},
                            {0, 7, 100, 100, SWATTN_QUERY_OFFSET_DEFAULT},
                            {16, 0, 90, 130, SWATTN_QUERY_OFFSET_DEFAULT},
                            {33, 2, 80, 80, -9},
                            {-1, 4, 70, 70, SWATTN_QUERY_OFFSET_DEFAULT},
                            {5, -1, 70, 70, SWATTN_QUERY_OFFSET_DEFAULT}};
  for (const Config& cfg : configs) {
    Problem p = WindowProblem(cfg);
    p.heads = 2;
    p.kv_heads = 1;
    p.dim = 24;
    p.vdim = 10;
    INFO(p.Describe());
    Case clean(p, 900 + static_cast<uint64_t>(cfg.left * 7 + cfg.right));
    ForEachTarget([&](const std::string& name) {
      Result base = RunOn(name, clean);
      for (int64_t row : {int64_t{0}, int64_t{1}, int64_t{15}, int64_t{16},
                          int64_t{31}, int64_t{32}, int64_t{50},
                          p.nq - 1}) {
        INFO("row " << row);
        int64_t lo, hi;
        if (!p.Visible(row, &lo, &hi)) continue;
        // Large values outside the window: a masked score or a masked value
        // leaking in would change the row.
        Case dirty = clean;
        Rng rng(static_cast<uint64_t>(row) + 3);
        const View k = dirty.k.view(), v = dirty.v.view();
        for (int64_t j = 0; j < p.nk; ++j) {
          if (j >= lo && j <= hi) continue;
          for (int64_t d = 0; d < p.dim; ++d) k.at(0, j, 0, d) = 60.0f;
          for (int64_t d = 0; d < p.vdim; ++d) {
            v.at(0, j, 0, d) = rng.Uniform(-1e4f, 1e4f);
          }
        }
        Result got = RunOn(name, dirty);
        const View go = got.out.view(), bo = base.out.view();
        for (int64_t h = 0; h < p.heads; ++h) {
          INFO("head " << h);
          CHECK(std::memcmp(&go.at(0, row, h, 0), &bo.at(0, row, h, 0),
                            sizeof(float) * static_cast<size_t>(p.vdim)) ==
                0);
          const size_t l = static_cast<size_t>(h * p.nq + row);
          CHECK(std::memcmp(&got.lse[l], &base.lse[l], sizeof(float)) == 0);
        }
      }
    });
  }
}

TEST_CASE("lse is optional and does not change out", "[semantics]") {
  Problem p;
  p.batch = 2;
  p.nq = p.nk = 45;
  p.heads = 3;
  p.dim = p.vdim = 12;
  p.left = 4;
  p.right = 9;
  Case c(p, 4242);
  ForEachTarget([&](const std::string& name) {
    Result with = RunOn(name, c, true);
    Result without = RunOn(name, c, false);
    const std::string diff = CompareBitwise(p, without.out.view(), nullptr,
                                            with.out.view(), nullptr);
    INFO(diff);
    CHECK(diff.empty());
    for (float x : without.lse) CHECK(x == kSentinel);
  });
}

TEST_CASE("grouped and multi-query attention", "[semantics]") {
  struct Heads {
    int64_t h, hkv;
  };
  // Groups wider than 8 heads split one kv head's queries across units.
  for (Heads hh : {Heads{4, 1}, Heads{4, 2}, Heads{8, 2}, Heads{6, 3},
                   Heads{5, 1}, Heads{3, 3}, Heads{12, 1}, Heads{20, 2}}) {
    for (int64_t w : {int64_t{-1}, int64_t{5}}) {
      Problem p;
      p.batch = 2;
      p.nq = p.nk = 40;
      p.heads = hh.h;
      p.kv_heads = hh.hkv;
      p.dim = 16;
      p.vdim = 8;
      p.left = w;
      p.right = w == -1 ? 0 : 2;
      Case c(p, 300 + static_cast<uint64_t>(hh.h * 10 + hh.hkv + w));
      CheckAllTargets(c);
    }
  }
}

TEST_CASE("causal and asymmetric windows", "[semantics]") {
  const int64_t windows[][2] = {{4, 0},  {-1, 0}, {0, -1}, {5, 2},
                                {0, 7},  {7, 0},  {2, 5},  {63, 1},
                                {1, 64}, {0, 0},  {-1, 3}, {31, -1}};
  for (const auto& w : windows) {
    for (int64_t n : {1, 13, 131}) {
      Problem p;
      p.nq = p.nk = n;
      p.heads = 2;
      p.dim = 9;
      p.vdim = 11;
      p.left = w[0];
      p.right = w[1];
      Case c(p, 500 + static_cast<uint64_t>(n * 100 + w[0] * 3 + w[1]));
      CheckAllTargets(c);
    }
  }
}

TEST_CASE("query offsets and Nq != Nk", "[semantics]") {
  struct Config {
    int64_t nq, nk, left, right, offset;
  };
  const int64_t kDefault = SWATTN_QUERY_OFFSET_DEFAULT;
  const Config configs[] = {
      {20, 50, 4, 0, kDefault},   // default offset Nk - Nq = 30
      {20, 50, 4, 0, 30},         // the same, given explicitly
      {20, 50, 3, 3, 0},          // explicit 0 with Nq != Nk
      {50, 20, 2, 2, 0},          // more queries than keys
      {50, 20, 5, 0, kDefault},   // default offset negative: Nk - Nq = -30
      {33, 33, 2, 6, 7},          // positive offset
      {33, 33, 6, 2, -5},         // negative offset
      {33, 33, -1, 0, 11},        // causal with offset
      {1, 77, 16, 0, kDefault},   // decode: one query at the end
      {1, 77, -1, 0, kDefault},   // decode, dense causal
      {1, 1, 3, 3, kDefault},     // one query, one key
      {1, 64, 8, 8, 10},          // one query in the middle
      {65, 129, 10, 10, kDefault},
      {129, 65, 10, 10, -20},
  };
  for (const Config& cfg : configs) {
    Problem p = WindowProblem(cfg);
    p.heads = 2;
    p.kv_heads = 1;
    p.dim = 16;
    p.vdim = 5;
    Case c(p, 600 + static_cast<uint64_t>(cfg.nq * 7 + cfg.nk));
    CheckAllTargets(c);
  }
}

TEST_CASE("explicit default offset equals the default", "[semantics]") {
  Problem p;
  p.nq = 9;
  p.nk = 40;
  p.left = 6;
  p.right = 1;
  p.dim = p.vdim = 8;
  Case c(p, 61);
  Case explicit_offset = c;
  explicit_offset.p.offset = p.nk - p.nq;
  ForEachTarget([&](const std::string& name) {
    Result a = RunOn(name, c);
    Result b = RunOn(name, explicit_offset);
    const std::string diff = CompareBitwise(p, a.out.view(), a.lse.data(),
                                            b.out.view(), b.lse.data());
    INFO(diff);
    CHECK(diff.empty());
  });
}

// Every row with an empty window has out exactly 0 and lse = -inf, and
// nothing is NaN.
void CheckEmptyRows(Case& c) {
  const Problem& p = c.p;
  CheckAllTargets(c);
  ForEachTarget([&](const std::string& name) {
    Result r = RunOn(name, c);
    int64_t empty = 0;
    for (int64_t i = 0; i < p.nq; ++i) {
      int64_t lo, hi;
      const bool visible = p.Visible(i, &lo, &hi);
      for (int64_t b = 0; b < p.batch; ++b) {
        for (int64_t h = 0; h < p.heads; ++h) {
          INFO("b " << b << " row " << i << " head " << h);
          const float l = r.lse[static_cast<size_t>((b * p.heads + h) * p.nq +
                                                    i)];
          for (int64_t d = 0; d < p.vdim; ++d) {
            const float o = r.out.view().at(b, i, h, d);
            REQUIRE(std::isfinite(o));
            if (!visible) REQUIRE(o == 0.0f);
          }
          if (!visible) {
            ++empty;
            REQUIRE(IsNegInf(l));
          } else {
            REQUIRE(std::isfinite(l));
          }
        }
      }
    }
    CHECK(empty > 0);  // the configuration really had empty rows
  });
}

TEST_CASE("rows with an empty window give 0 and lse = -inf", "[semantics]") {
  struct Config {
    int64_t nq, nk, left, right, offset;
  };
  const int64_t kDefault = SWATTN_QUERY_OFFSET_DEFAULT;
  const Config configs[] = {
      {8, 8, 2, 2, -5},          // rows 0..2 end before key 0
      {8, 8, 2, 2, 9},           // rows start after the last key
      {40, 40, 3, 0, -20},       // causal, first half empty
      {40, 40, -1, 0, -20},      // dense causal, first half empty
      {40, 40, 0, 4, 30},        // look-ahead past the end
      {50, 20, 4, 0, kDefault},  // default offset -30: 30 empty rows
      {6, 6, 1, 1, -100},        // every row empty
      {6, 6, 1, 1, 100},         // every row empty
      {17, 70, 0, 0, 60},        // radius 0 past the end
  };
  for (const Config& cfg : configs) {
    Problem p = WindowProblem(cfg);
    p.batch = 2;
    p.heads = 2;
    p.kv_heads = 2;
    p.dim = 7;
    p.vdim = 6;
    INFO(p.Describe());
    Case c(p, 700 + static_cast<uint64_t>(cfg.nq + cfg.offset));
    CheckEmptyRows(c);
  }
}

TEST_CASE("extreme offsets and radii do not overflow", "[semantics]") {
  // p = i + offset and p +- radius leave int64 here. The oracle's windows
  // use 128-bit arithmetic; the library must compute the same windows, or
  // reject an offset this far out (a radius alone is always valid).
  struct Config {
    int64_t left, right, offset;
  };
  const int64_t kMin = std::numeric_limits<int64_t>::min();
  const Config configs[] = {
      {2, 2, kMax - 3},           {2, 2, kMin + 1},
      {kMax, kMax, 0},            {kMax, 0, kMax - 3},
      {0, kMax, kMin + 1},        {-1, -1, kMax - 3},
      {kMax, kMax, kMin + 1},     {3, 3, int64_t{1} << 40},
      {3, 3, -(int64_t{1} << 40)}, {kMax, 1, -4},
  };
  for (const Config& cfg : configs) {
    Problem p;
    p.nq = p.nk = 10;
    p.dim = p.vdim = 4;
    p.left = cfg.left;
    p.right = cfg.right;
    p.offset = cfg.offset;
    INFO(p.Describe());
    Case c(p, 808);
    const Expected want = Oracle(p, c.q.view(), c.k.view(), c.v.view());
    const bool extreme_offset = cfg.offset > (int64_t{1} << 62) ||
                                cfg.offset < -(int64_t{1} << 62);
    ForEachTarget([&](const std::string& name) {
      Result r(p);
      const swattn_status st =
          Forward(name, p.Options(), c.q.view(), c.k.view(), c.v.view(),
                  r.out.view(), r.lse.data());
      INFO("last error: " << swattn_last_error());
      if (extreme_offset && st == SWATTN_ERROR_INVALID_ARGUMENT) {
        for (float x : r.out.storage()) CHECK(x == kSentinel);
        for (float x : r.lse) CHECK(x == kSentinel);
        return;
      }
      REQUIRE(st == SWATTN_OK);
      const std::string diff =
          CompareToOracle(p, r.out.view(), r.lse.data(), want);
      INFO(diff);
      CHECK(diff.empty());
      for (int64_t i = 0; i < p.nq; ++i) {
        int64_t lo, hi;
        if (p.Visible(i, &lo, &hi)) continue;
        INFO("empty row " << i);
        CHECK(IsNegInf(r.lse[static_cast<size_t>(i)]));
        for (int64_t d = 0; d < p.vdim; ++d) {
          CHECK(r.out.view().at(0, i, 0, d) == 0.0f);
        }
      }
    });
  }
}

TEST_CASE("batches are independent", "[semantics]") {
  Problem p;
  p.batch = 3;
  p.nq = 29;
  p.nk = 35;
  p.heads = 4;
  p.kv_heads = 2;
  p.dim = 20;
  p.vdim = 12;
  p.left = 5;
  p.right = 1;
  Case c(p, 9090);
  CheckAllTargets(c);
  // Batch 1 computed alone equals batch 1 of the batched call.
  Problem one = p;
  one.batch = 1;
  Case single(one, 1);
  const int64_t qn = p.nq * p.heads * p.dim, kn = p.nk * p.kv_heads * p.dim,
                vn = p.nk * p.kv_heads * p.vdim;
  std::copy(c.q.storage().begin() + qn, c.q.storage().begin() + 2 * qn,
            single.q.storage().begin());
  std::copy(c.k.storage().begin() + kn, c.k.storage().begin() + 2 * kn,
            single.k.storage().begin());
  std::copy(c.v.storage().begin() + vn, c.v.storage().begin() + 2 * vn,
            single.v.storage().begin());
  ForEachTarget([&](const std::string& name) {
    Result all = RunOn(name, c);
    Result alone = RunOn(name, single);
    const View a = all.out.view(), s = alone.out.view();
    for (int64_t i = 0; i < p.nq; ++i) {
      for (int64_t h = 0; h < p.heads; ++h) {
        for (int64_t d = 0; d < p.vdim; ++d) {
          CHECK(a.at(1, i, h, d) == s.at(0, i, h, d));
        }
      }
    }
    for (int64_t r = 0; r < p.heads * p.nq; ++r) {
      CHECK(all.lse[static_cast<size_t>(p.heads * p.nq + r)] ==
            alone.lse[static_cast<size_t>(r)]);
    }
  });
}

TEST_CASE("explicit scale", "[semantics]") {
  for (float scale : {1.0f, 0.05f, 0.3f, 2.5f, 1e-6f}) {
    Problem p;
    p.batch = 2;
    p.nq = p.nk = 50;
    p.heads = 2;
    p.dim = 24;
    p.vdim = 7;
    p.left = 6;
    p.right = 6;
    p.scale = scale;
    Case c(p, 1234);
    CheckAllTargets(c);
  }
  // scale = 1/sqrt(D) given explicitly equals the default within rounding.
  Problem p;
  p.nq = p.nk = 30;
  p.dim = p.vdim = 16;
  p.left = p.right = 4;
  Case c(p, 99);
  Case explicit_scale = c;
  explicit_scale.p.scale = 0.25f;
  ForEachTarget([&](const std::string& name) {
    Result a = RunOn(name, c);
    Result b = RunOn(name, explicit_scale);
    const std::string diff =
        CompareResults(p, a.out.view(), a.lse.data(), b.out.view(),
                       b.lse.data(), Tolerance{1e-6, 1e-6, 0.0});
    INFO(diff);
    CHECK(diff.empty());
  });
}

}  // namespace
}  // namespace swattn_test
