// The 2-D reference problem swattn_sparse_window_attention_f32 and the
// worked examples of the issue, on every target.
#include <swattn/swattn.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "oracle.h"

namespace swattn_test {
namespace {

TEST_CASE("reference example: three equal tokens, window 1", "[reference]") {
  // Equal q and k make every visible score equal: each output is the mean of
  // the visible values, (1+2)/2, (1+2+3)/3, (2+3)/2.
  const float q[] = {1, 1, 1}, k[] = {1, 1, 1}, v[] = {1, 2, 3};
  const float want[] = {1.5f, 2.0f, 2.5f};
  ForEachTarget([&](const std::string&) {
    float out[3] = {kSentinel, kSentinel, kSentinel};
    REQUIRE(swattn_sparse_window_attention_f32(q, k, v, out, 3, 1, 1, 1,
                                               0.0f) == SWATTN_OK);
    for (int i = 0; i < 3; ++i) {
      INFO("row " << i);
      CHECK(std::fabs(out[i] - want[i]) <= 1e-6f);
    }
  });
}

// The 5-token walk-through: W = 1, d_k = d_v = 4, default scale 1/2,
// Q[i][c] = K[i][c] = sin(i + c), V[i][c] = cos(i * (c + 1)).
void WalkThroughInputs(std::vector<float>* q, std::vector<float>* v) {
  q->resize(20);
  v->resize(20);
  for (int i = 0; i < 5; ++i) {
    for (int c = 0; c < 4; ++c) {
      (*q)[static_cast<size_t>(i * 4 + c)] =
          static_cast<float>(std::sin(static_cast<double>(i + c)));
      (*v)[static_cast<size_t>(i * 4 + c)] =
          static_cast<float>(std::cos(static_cast<double>(i * (c + 1))));
    }
  }
}

TEST_CASE("reference walk-through: 5 tokens, W = 1, d_k = 4",
          "[reference]") {
  std::vector<float> q, v;
  WalkThroughInputs(&q, &v);
  // Computed once with the float64 oracle and written down to 4 decimals.
  const double kOut[5][4] = {
      {0.8138, 0.4263, 0.1938, 0.3300},
      {0.3320, -0.1715, 0.1012, -0.1109},
      {-0.2615, -0.1991, -0.0756, -0.0655},
      {-0.7198, 0.1574, 0.1466, 0.0502},
      {-0.7691, 0.2339, 0.2417, -0.3395},
  };
  const double kLse[5] = {1.2968, 1.8732, 1.9476, 1.6672, 1.4213};

  // The oracle reproduces the written values (guards the table itself).
  Problem p;
  p.nq = p.nk = 5;
  p.dim = p.vdim = 4;
  p.left = p.right = 1;
  Case c(p, 0);
  c.q.storage() = q;
  c.k.storage() = q;
  c.v.storage() = v;
  const Expected oracle = Oracle(p, c.q.view(), c.k.view(), c.v.view());
  for (int i = 0; i < 5; ++i) {
    INFO("row " << i);
    CHECK(std::fabs(oracle.lse[static_cast<size_t>(i)] - kLse[i]) <= 5e-5);
    for (int d = 0; d < 4; ++d) {
      CHECK(std::fabs(oracle.out_at(p, 0, i, 0, d) - kOut[i][d]) <= 5e-5);
    }
  }

  ForEachTarget([&](const std::string& name) {
    std::vector<float> out(20, kSentinel);
    REQUIRE(swattn_sparse_window_attention_f32(q.data(), q.data(), v.data(),
                                               out.data(), 5, 4, 4, 1,
                                               0.0f) == SWATTN_OK);
    for (int i = 0; i < 5; ++i) {
      for (int d = 0; d < 4; ++d) {
        INFO("out[" << i << "][" << d << "]");
        const float got = out[static_cast<size_t>(i * 4 + d)];
        // Rounding to 4 decimals is 5e-5; float error adds ~1e-6.
        CHECK(std::fabs(got - kOut[i][d]) <= 6e-5);
        CHECK(std::fabs(got - oracle.out_at(p, 0, i, 0, d)) <= 2e-6);
      }
    }
    // The same problem through swattn_forward, with lse.
    Result r = RunOn(name, c);
    for (int i = 0; i < 5; ++i) {
      INFO("row " << i);
      CHECK(std::fabs(r.lse[static_cast<size_t>(i)] - kLse[i]) <= 6e-5);
      for (int d = 0; d < 4; ++d) {
        CHECK(r.out.view().at(0, i, 0, d) ==
              out[static_cast<size_t>(i * 4 + d)]);
      }
    }
  });
}

TEST_CASE("reference function equals forward with B = H = 1", "[reference]") {
  struct Config {
    int64_t n, dk, dv, w;
    float scale;
  };
  const Config configs[] = {{1, 1, 1, 0, 0.0f},   {7, 3, 5, 0, 0.0f},
                            {40, 17, 9, 3, 0.0f}, {100, 64, 64, 16, 0.0f},
                            {33, 8, 2, 100, 0.4f}, {65, 33, 33, 64, -0.2f}};
  for (const Config& cfg : configs) {
    Problem p;
    p.nq = p.nk = cfg.n;
    p.dim = cfg.dk;
    p.vdim = cfg.dv;
    p.left = p.right = cfg.w;
    p.scale = cfg.scale;
    INFO(p.Describe());
    Case c(p, 123 + static_cast<uint64_t>(cfg.n));
    const Expected want = Oracle(p, c.q.view(), c.k.view(), c.v.view());
    ForEachTarget([&](const std::string& name) {
      Result r = RunOn(name, c, false);
      Result ref(p);
      REQUIRE(swattn_sparse_window_attention_f32(
                  c.q.storage().data(), c.k.storage().data(),
                  c.v.storage().data(), ref.out.storage().data(), cfg.n,
                  cfg.dk, cfg.dv, cfg.w, cfg.scale) == SWATTN_OK);
      const std::string vs_oracle =
          CompareToOracle(p, ref.out.view(), nullptr, want);
      INFO(vs_oracle);
      CHECK(vs_oracle.empty());
      const std::string vs_forward =
          CompareBitwise(p, ref.out.view(), nullptr, r.out.view(), nullptr);
      INFO(vs_forward);
      CHECK(vs_forward.empty());
    });
  }
}

}  // namespace
}  // namespace swattn_test
