// Memory layouts (strided, interleaved, broadcast, padded outputs) and
// thread-count independence, on every target.
#include <swattn/swattn.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "oracle.h"

namespace swattn_test {
namespace {

// A view of shape p.{batch, seq, heads, dim} with the given strides at
// data + offset.
View Strided(float* data, int64_t offset, int64_t batch, int64_t seq,
             int64_t heads, int64_t dim, int64_t sb, int64_t ss,
             int64_t sh) {
  View v;
  v.data = data + offset;
  v.batch = batch;
  v.seq = seq;
  v.heads = heads;
  v.dim = dim;
  v.stride_batch = sb;
  v.stride_seq = ss;
  v.stride_head = sh;
  return v;
}

void CopyInto(const View& from, const View& to) {
  for (int64_t b = 0; b < from.batch; ++b) {
    for (int64_t s = 0; s < from.seq; ++s) {
      for (int64_t h = 0; h < from.heads; ++h) {
        for (int64_t d = 0; d < from.dim; ++d) {
          to.at(b, s, h, d) = from.at(b, s, h, d);
        }
      }
    }
  }
}

// Every element of buf that no view element covers still holds the sentinel.
int64_t TouchedPadding(const std::vector<float>& buf, const View& out) {
  std::vector<char> covered(buf.size(), 0);
  for (int64_t b = 0; b < out.batch; ++b) {
    for (int64_t s = 0; s < out.seq; ++s) {
      for (int64_t h = 0; h < out.heads; ++h) {
        for (int64_t d = 0; d < out.dim; ++d) {
          covered[static_cast<size_t>(&out.at(b, s, h, d) - buf.data())] = 1;
        }
      }
    }
  }
  int64_t touched = 0;
  for (size_t i = 0; i < buf.size(); ++i) {
    if (!covered[i] && buf[i] != kSentinel) ++touched;
  }
  return touched;
}

TEST_CASE("q, k, v interleaved in one buffer, padded out", "[layout]") {
  // [B, N, 3, H, D]: what a fused QKV projection produces.
  Problem p;
  p.batch = 2;
  p.nq = p.nk = 53;
  p.heads = p.kv_heads = 3;
  p.dim = p.vdim = 20;
  p.left = 5;
  p.right = 5;
  Case c(p, 42);
  const int64_t hd = p.heads * p.dim;
  std::vector<float> qkv(static_cast<size_t>(p.batch * p.nk * 3 * hd));
  const int64_t sb = p.nk * 3 * hd, ss = 3 * hd, sh = p.dim;
  const View q = Strided(qkv.data(), 0, p.batch, p.nq, p.heads, p.dim, sb, ss,
                         sh);
  const View k = Strided(qkv.data(), hd, p.batch, p.nk, p.heads, p.dim, sb,
                         ss, sh);
  const View v = Strided(qkv.data(), 2 * hd, p.batch, p.nk, p.heads, p.vdim,
                         sb, ss, sh);
  CopyInto(c.q.view(), q);
  CopyInto(c.k.view(), k);
  CopyInto(c.v.view(), v);
  // Padding after every head row, after every sequence row, and per batch.
  const int64_t osh = p.vdim + 3, oss = p.heads * osh + 5,
                osb = p.nq * oss + 11;
  std::vector<float> obuf(static_cast<size_t>(p.batch * osb + 7), kSentinel);
  const View out = Strided(obuf.data(), 2, p.batch, p.nq, p.heads, p.vdim,
                           osb, oss, osh);
  const Expected want = Oracle(p, q, k, v);
  ForEachTarget([&](const std::string& name) {
    Result contiguous = RunOn(name, c);
    std::fill(obuf.begin(), obuf.end(), kSentinel);
    std::vector<float> lse(static_cast<size_t>(p.LseSize()), kSentinel);
    REQUIRE(Forward(name, p.Options(), q, k, v, out, lse.data()) ==
            SWATTN_OK);
    CHECK(TouchedPadding(obuf, out) == 0);
    const std::string vs_oracle = CompareToOracle(p, out, lse.data(), want);
    INFO(vs_oracle);
    CHECK(vs_oracle.empty());
    const std::string vs_contiguous =
        CompareBitwise(p, out, lse.data(), contiguous.out.view(),
                       contiguous.lse.data());
    INFO(vs_contiguous);
    CHECK(vs_contiguous.empty());
  });
}

TEST_CASE("head-major layout and unaligned pointers", "[layout]") {
  // [B, H, N, D] memory order (stride_head > stride_seq), each tensor
  // starting one float past an aligned address.
  Problem p;
  p.batch = 2;
  p.nq = 41;
  p.nk = 45;
  p.heads = 4;
  p.kv_heads = 2;
  p.dim = 17;
  p.vdim = 9;
  p.left = 7;
  p.right = 0;
  Case c(p, 4343);
  auto head_major = [](std::vector<float>* buf, int64_t b, int64_t n,
                       int64_t h, int64_t d) {
    buf->assign(static_cast<size_t>(b * n * h * d + 1), kSentinel);
    return Strided(buf->data(), 1, b, n, h, d, n * h * d, d, n * d);
  };
  std::vector<float> qb, kb, vb, ob;
  const View q = head_major(&qb, p.batch, p.nq, p.heads, p.dim);
  const View k = head_major(&kb, p.batch, p.nk, p.kv_heads, p.dim);
  const View v = head_major(&vb, p.batch, p.nk, p.kv_heads, p.vdim);
  CopyInto(c.q.view(), q);
  CopyInto(c.k.view(), k);
  CopyInto(c.v.view(), v);
  ForEachTarget([&](const std::string& name) {
    Result contiguous = RunOn(name, c);
    const View out = head_major(&ob, p.batch, p.nq, p.heads, p.vdim);
    std::vector<float> lse(static_cast<size_t>(p.LseSize()), kSentinel);
    REQUIRE(Forward(name, p.Options(), q, k, v, out, lse.data()) ==
            SWATTN_OK);
    CHECK(ob[0] == kSentinel);
    const std::string diff =
        CompareBitwise(p, out, lse.data(), contiguous.out.view(),
                       contiguous.lse.data());
    INFO(diff);
    CHECK(diff.empty());
  });
}

TEST_CASE("stride 0 broadcasts k and v", "[layout]") {
  // One key/value sequence shared by every batch (stride_batch = 0) and by
  // both kv heads (stride_head = 0) equals the materialized copies.
  Problem p;
  p.batch = 3;
  p.nq = p.nk = 36;
  p.heads = 4;
  p.kv_heads = 2;
  p.dim = 10;
  p.vdim = 6;
  p.left = 4;
  p.right = 4;
  Case c(p, 55);
  std::vector<float> kb(static_cast<size_t>(p.nk * p.dim)),
      vb(static_cast<size_t>(p.nk * p.vdim));
  Rng rng(56);
  for (float& x : kb) x = rng.Uniform(-1, 1);
  for (float& x : vb) x = rng.Uniform(-1, 1);
  const View k = Strided(kb.data(), 0, p.batch, p.nk, p.kv_heads, p.dim, 0,
                         p.dim, 0);
  const View v = Strided(vb.data(), 0, p.batch, p.nk, p.kv_heads, p.vdim, 0,
                         p.vdim, 0);
  CopyInto(k, c.k.view());
  CopyInto(v, c.v.view());
  const Expected want = Oracle(p, c.q.view(), k, v);
  ForEachTarget([&](const std::string& name) {
    Result materialized = RunOn(name, c);
    Result r(p);
    REQUIRE(Forward(name, p.Options(), c.q.view(), k, v, r.out.view(),
                    r.lse.data()) == SWATTN_OK);
    const std::string vs_oracle =
        CompareToOracle(p, r.out.view(), r.lse.data(), want);
    INFO(vs_oracle);
    CHECK(vs_oracle.empty());
    const std::string diff =
        CompareBitwise(p, r.out.view(), r.lse.data(),
                       materialized.out.view(), materialized.lse.data());
    INFO(diff);
    CHECK(diff.empty());
  });
}

TEST_CASE("results are bitwise identical for 1, 2 and 7 threads",
          "[threads]") {
  // B * H * ceil(N / block) work units, far more than 7 for any block size;
  // a decode step has fewer, and on one thread one per batch entry.
  struct Config {
    int64_t left, right, offset, nq;
  };
  // Small windows and heads keep this fast under SVE emulation; the number
  // of units, not their size, is what the test needs. The decode step (3
  // queries) is split by kv heads on one thread, by heads on more, and its
  // 700 keys into two parts either way.
  const Config configs[] = {{12, 12, SWATTN_QUERY_OFFSET_DEFAULT, 700},
                            {30, 0, SWATTN_QUERY_OFFSET_DEFAULT, 700},
                            {3, 9, -50, 700},
                            {-1, 0, SWATTN_QUERY_OFFSET_DEFAULT, 3}};
  for (const Config& cfg : configs) {
    Problem p;
    p.batch = 2;
    p.nq = cfg.nq;
    p.nk = 700;
    p.heads = 4;
    p.kv_heads = 2;
    p.dim = 8;
    p.vdim = 5;
    p.left = cfg.left;
    p.right = cfg.right;
    p.offset = cfg.offset;
    INFO(p.Describe());
    Case c(p, 700 + static_cast<uint64_t>(cfg.left));
    const Expected want = Oracle(p, c.q.view(), c.k.view(), c.v.view());
    ForEachTarget([&](const std::string& name) {
      c.p.threads = 1;
      Result one = RunOn(name, c);
      const std::string vs_oracle =
          CompareToOracle(p, one.out.view(), one.lse.data(), want);
      INFO(vs_oracle);
      CHECK(vs_oracle.empty());
      for (int32_t threads : {2, 7}) {
        INFO("num_threads " << threads);
        c.p.threads = threads;
        Result many = RunOn(name, c);
        CHECK(std::memcmp(one.out.storage().data(), many.out.storage().data(),
                          one.out.storage().size() * sizeof(float)) == 0);
        CHECK(std::memcmp(one.lse.data(), many.lse.data(),
                          one.lse.size() * sizeof(float)) == 0);
      }
    });
  }
}

}  // namespace
}  // namespace swattn_test
