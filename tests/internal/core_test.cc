// lib/core: window geometry and the split into work units.
#include <vector>

#include <catch2/catch.hpp>

#include "core/problem.h"

namespace swattn {
namespace {

Problem Shape(int64_t batch, int64_t nq, int64_t nk, int64_t heads,
              int64_t kv_heads, int64_t left, int64_t right, int64_t offset) {
  Problem p{};
  p.batch = batch;
  p.nq = nq;
  p.nk = nk;
  p.heads = heads;
  p.kv_heads = kv_heads;
  p.dim = p.dim_v = 1;
  p.left = left < 0 ? kUnboundedRadius : left;
  p.right = right < 0 ? kUnboundedRadius : right;
  p.query_offset = offset;
  return p;
}

TEST_CASE("KeyLo and KeyHi clip the window to the keys", "[core]") {
  const Problem p = Shape(1, 10, 10, 1, 1, 2, 3, 0);
  CHECK(p.KeyLo(0) == 0);
  CHECK(p.KeyHi(0) == 3);
  CHECK(p.KeyLo(5) == 3);
  CHECK(p.KeyHi(5) == 8);
  CHECK(p.KeyHi(9) == 9);
  const Problem dense = Shape(1, 10, 10, 1, 1, -1, -1, 0);
  CHECK(dense.KeyLo(9) == 0);
  CHECK(dense.KeyHi(0) == 9);
  // Positions past either end see nothing.
  const Problem late = Shape(1, 4, 4, 1, 1, 1, 1, 100);
  CHECK(late.KeyLo(late.Position(0)) > late.KeyHi(late.Position(0)));
}

TEST_CASE("KeyLo..KeyHi is exactly the window, clipped", "[core]") {
  for (int64_t left : {-1, 0, 3, 50}) {
    for (int64_t right : {-1, 0, 2}) {
      for (int64_t offset : {-7, 0, 5}) {
        const Problem p = Shape(1, 37, 41, 1, 1, left, right, offset);
        INFO("left " << left << " right " << right << " offset " << offset);
        for (int64_t i = 0; i < p.nq; ++i) {
          const int64_t pos = i + offset;
          for (int64_t j = 0; j < p.nk; ++j) {
            const bool visible = (left < 0 || j >= pos - left) &&
                                 (right < 0 || j <= pos + right);
            REQUIRE(visible == (p.KeyLo(pos) <= j && j <= p.KeyHi(pos)));
          }
        }
      }
    }
  }
}

TEST_CASE("Output rows are whole lines only if every stride keeps them so",
          "[core]") {
  alignas(64) static float out[64];
  Problem p = Shape(2, 10, 10, 3, 1, 1, 1, 0);
  p.dim_v = 32;
  p.out = {out, 10 * 3 * 32, 3 * 32, 32};
  CHECK(OutputRowsAreLines(p));
  Problem q = p;
  q.out.data = out + 8;  // 32 bytes past a line
  CHECK_FALSE(OutputRowsAreLines(q));
  q = p;
  q.dim_v = 24;  // a row ends inside a line
  CHECK_FALSE(OutputRowsAreLines(q));
  q = p;
  q.out.stride_head = 40;
  CHECK_FALSE(OutputRowsAreLines(q));
  q = p;
  q.out.stride_seq = 3 * 32 + 8;
  CHECK_FALSE(OutputRowsAreLines(q));
  q = p;
  q.out.stride_batch = 10 * 3 * 32 + 4;
  CHECK_FALSE(OutputRowsAreLines(q));
}

TEST_CASE("Units cover every (batch, head, query) exactly once", "[core]") {
  struct Case {
    int64_t batch, nq, heads, kv_heads, block_q, heads_per_unit, kv_per_unit;
  };
  const Case cases[] = {
      {1, 1, 1, 1, 64, 1, 1},
      {2, 130, 8, 2, 64, 4, 1},
      {3, 64, 6, 3, 32, 2, 1},
      {1, 100, 12, 1, 128, 8, 1},
      {2, 7, 4, 4, 512, 4, 1},
      {1, 65, 10, 2, 16, 3, 1},
      // Units over several kv heads: all of them, and 3 of 8 (the last 2).
      {2, 3, 8, 4, 16, 2, 4},
      {1, 1, 16, 8, 16, 1, 3}};
  for (const Case& c : cases) {
    const Problem p = Shape(c.batch, c.nq, c.nq, c.heads, c.kv_heads, 1, 1, 0);
    const Tiling t = MakeTiling(p, c.block_q, c.heads_per_unit, c.kv_per_unit);
    std::vector<int> seen(static_cast<size_t>(c.batch * c.heads * c.nq), 0);
    for (int64_t u = 0; u < t.units; ++u) {
      const Unit w = UnitAt(p, t, u);
      REQUIRE(w.h_begin < w.h_end);
      REQUIRE(w.i_begin < w.i_end);
      REQUIRE(w.i_end - w.i_begin <= c.block_q);
      REQUIRE(w.kv_head < w.kv_end);
      REQUIRE(w.kv_end - w.kv_head <= c.kv_per_unit);
      for (int64_t h = w.h_begin; h < w.h_end; ++h) {
        REQUIRE(h / p.Group() >= w.kv_head);  // its kv head is the unit's
        REQUIRE(h / p.Group() < w.kv_end);
        for (int64_t i = w.i_begin; i < w.i_end; ++i) {
          ++seen[static_cast<size_t>((w.b * c.heads + h) * c.nq + i)];
        }
      }
    }
    for (int s : seen) REQUIRE(s == 1);
  }
}

}  // namespace
}  // namespace swattn
