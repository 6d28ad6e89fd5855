// Every bad input returns SWATTN_ERROR_INVALID_ARGUMENT with a message that
// names the argument, and writes nothing.
#include <swattn/swattn.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "oracle.h"

namespace swattn_test {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// True when `token` occurs in `text` not inside a longer identifier, so that
// "q" matches "q.dim" but not "required", and "batch" not "stride_batch".
bool HasToken(const std::string& text, const std::string& token) {
  auto ident = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  };
  for (size_t at = text.find(token); at != std::string::npos;
       at = text.find(token, at + 1)) {
    const bool left_ok = at == 0 || !ident(text[at - 1]);
    const size_t end = at + token.size();
    const bool right_ok = end == text.size() || !ident(text[end]);
    if (left_ok && right_ok) return true;
  }
  return false;
}

// A valid call (B=2, Nq=6, Nk=8, H=4, Hkv=2, D=5, Dv=3) in generously sized
// buffers, so that a wrongly accepted shape still stays in bounds.
struct Call {
  static constexpr size_t kBuffer = 4096;
  std::vector<float> qb, kb, vb, ob, lb;
  swattn_options options;
  swattn_tensor q, k, v, out;
  const swattn_options* options_ptr;
  const swattn_tensor *q_ptr, *k_ptr, *v_ptr;
  swattn_tensor* out_ptr;
  float* lse;

  Call()
      : qb(kBuffer), kb(kBuffer), vb(kBuffer), ob(kBuffer, kSentinel),
        lb(kBuffer, kSentinel) {
    Rng rng(1);
    for (auto* buf : {&qb, &kb, &vb}) {
      for (float& x : *buf) x = rng.Uniform(-1, 1);
    }
    swattn_options_init(&options);
    options.window_left = 2;
    options.window_right = 1;
    q = Contiguous(qb.data(), 2, 6, 4, 5);
    k = Contiguous(kb.data(), 2, 8, 2, 5);
    v = Contiguous(vb.data(), 2, 8, 2, 3);
    out = Contiguous(ob.data(), 2, 6, 4, 3);
    options_ptr = &options;
    q_ptr = &q;
    k_ptr = &k;
    v_ptr = &v;
    out_ptr = &out;
    lse = lb.data();
  }
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  static swattn_tensor Contiguous(float* data, int64_t b, int64_t s,
                                  int64_t h, int64_t d) {
    swattn_tensor t;
    std::memset(&t, 0, sizeof(t));
    t.data = data;
    t.dtype = SWATTN_DTYPE_F32;
    t.batch = b;
    t.seq = s;
    t.heads = h;
    t.dim = d;
    t.stride_head = d;
    t.stride_seq = h * d;
    t.stride_batch = s * h * d;
    return t;
  }

  swattn_status Run() {
    return swattn_forward(options_ptr, q_ptr, k_ptr, v_ptr, out_ptr, lse);
  }
};

struct BadCase {
  std::string what;
  // The message must contain each of these as a token.
  std::vector<std::string> tokens;
  std::function<void(Call&)> mutate;
};

swattn_tensor* TensorOf(Call& c, char which) {
  switch (which) {
    case 'q':
      return &c.q;
    case 'k':
      return &c.k;
    case 'v':
      return &c.v;
    default:
      return &c.out;
  }
}

std::string TensorName(char which) {
  return which == 'o' ? "out" : std::string(1, which);
}

std::vector<BadCase> BadForwardCases() {
  std::vector<BadCase> cases = {
      {"NULL options", {"options"}, [](Call& c) { c.options_ptr = nullptr; }},
      {"NULL q", {"q"}, [](Call& c) { c.q_ptr = nullptr; }},
      {"NULL k", {"k"}, [](Call& c) { c.k_ptr = nullptr; }},
      {"NULL v", {"v"}, [](Call& c) { c.v_ptr = nullptr; }},
      {"NULL out", {"out"}, [](Call& c) { c.out_ptr = nullptr; }},
      {"struct_size 0", {"struct_size"},
       [](Call& c) { c.options.struct_size = 0; }},
      {"struct_size 4", {"struct_size"},
       [](Call& c) { c.options.struct_size = 4; }},
      {"struct_size 8", {"struct_size"},
       [](Call& c) { c.options.struct_size = 8; }},
      {"window_left -2", {"window_left"},
       [](Call& c) { c.options.window_left = -2; }},
      {"window_right -2", {"window_right"},
       [](Call& c) { c.options.window_right = -2; }},
      {"window_left INT64_MIN", {"window_left"},
       [](Call& c) { c.options.window_left = -kMax - 1; }},
      {"window_right INT64_MIN", {"window_right"},
       [](Call& c) { c.options.window_right = -kMax - 1; }},
      {"num_threads -1", {"num_threads"},
       [](Call& c) { c.options.num_threads = -1; }},
      {"num_threads INT32_MIN", {"num_threads"},
       [](Call& c) {
         c.options.num_threads = std::numeric_limits<int32_t>::min();
       }},
      {"scale NaN", {"scale"}, [](Call& c) { c.options.scale = kNaN; }},
      {"scale +inf", {"scale"}, [](Call& c) { c.options.scale = kInf; }},
      {"scale -inf", {"scale"}, [](Call& c) { c.options.scale = -kInf; }},
      // Finite, but scale * log2(e) is not: the SIMD kernels would give NaN.
      {"scale 3e38", {"scale"}, [](Call& c) { c.options.scale = 3e38f; }},
      {"scale -3e38", {"scale"}, [](Call& c) { c.options.scale = -3e38f; }},
      {"q.dim != k.dim", {"k", "q"},
       [](Call& c) {
         c.k.dim = 4;
         c.k.stride_head = 4;
       }},
      {"v.seq != k.seq", {"v", "k"}, [](Call& c) { c.v.seq = 7; }},
      {"k.seq != v.seq", {"v", "k"}, [](Call& c) { c.k.seq = 7; }},
      {"v.heads != k.heads", {"v", "k"}, [](Call& c) { c.v.heads = 1; }},
      {"q.heads not a multiple of k.heads", {"q", "k"},
       [](Call& c) {
         c.q.heads = 3;
         c.out.heads = 3;
       }},
      {"k.heads > q.heads", {"q", "k"},
       [](Call& c) {
         c.k.heads = 8;
         c.v.heads = 8;
       }},
      {"k and v batch 1, q batch 2", {"batch"},
       [](Call& c) {
         c.k.batch = 1;
         c.v.batch = 1;
       }},
      {"v batch 1", {"batch", "v"}, [](Call& c) { c.v.batch = 1; }},
      {"out batch 3", {"batch", "out"}, [](Call& c) { c.out.batch = 3; }},
      {"out seq 5", {"out"}, [](Call& c) { c.out.seq = 5; }},
      {"out seq 7", {"out"}, [](Call& c) { c.out.seq = 7; }},
      {"out heads 2", {"out"}, [](Call& c) { c.out.heads = 2; }},
      {"out dim 5 (q.dim, not v.dim)", {"out"},
       [](Call& c) { c.out.dim = 5; }},
      {"q batch 4 with stride_batch INT64_MAX/2", {"q"},
       [](Call& c) {
         c.q.batch = c.k.batch = c.v.batch = c.out.batch = 4;
         c.q.stride_batch = kMax / 2;
       }},
      {"k stride_head overflows", {"k"},
       [](Call& c) { c.k.stride_head = kMax - 2; }},
      {"out stride_seq overflows", {"out"},
       [](Call& c) { c.out.stride_seq = kMax / 3; }},
      {"v huge seq with stride", {"v"},
       [](Call& c) {
         c.k.seq = c.v.seq = int64_t{1} << 40;
         c.k.stride_seq = 0;  // k alone stays representable
         c.k.stride_batch = 0;
         c.v.stride_seq = int64_t{1} << 30;
       }},
      {"q seq 2^62", {"q"},
       [](Call& c) {
         // (2^62 - 1) * 20 leaves int64.
         c.q.seq = c.out.seq = int64_t{1} << 62;
       }},
      {"out is q", {"out"},
       [](Call& c) {
         c.out.data = c.qb.data();
       }},
      {"out inside k", {"out"},
       [](Call& c) { c.out.data = c.kb.data() + 7; }},
      {"lse overlaps q", {"lse"}, [](Call& c) { c.lse = c.qb.data() + 3; }},
      {"lse overlaps out", {"lse"},
       [](Call& c) { c.lse = c.ob.data() + 10; }},
      // out is written, so no two of its elements may share an address.
      {"out.stride_head 0", {"out", "stride_head"},
       [](Call& c) { c.out.stride_head = 0; }},
      {"out.stride_seq 0", {"out", "stride_seq"},
       [](Call& c) { c.out.stride_seq = 0; }},
      {"out rows overlap: stride_head 2 < dim 3", {"out", "stride_head"},
       [](Call& c) { c.out.stride_head = 2; }},
      {"out heads and positions on the same rows", {"out"},
       [](Call& c) { c.out.stride_seq = c.out.stride_head; }},
      {"out.stride_batch inside a batch entry", {"out", "stride_batch"},
       [](Call& c) { c.out.stride_batch = 6 * 4 * 3 - 1; }},
      {"out broadcast over 2^40 batches and 2^30 heads", {"out"},
       [](Call& c) {
         // Every extent stays in bounds and every size product overflows.
         for (swattn_tensor* t : {&c.q, &c.k, &c.v, &c.out}) {
           t->batch = int64_t{1} << 40;
           t->seq = 1;
           t->dim = 1;
           t->stride_batch = t->stride_seq = t->stride_head = 0;
         }
         c.q.heads = c.out.heads = int64_t{1} << 30;
         c.k.heads = c.v.heads = 1;
         c.options.query_offset = 0;
       }},
      {"misaligned q.data", {"q"},
       [](Call& c) {
         c.q.data = reinterpret_cast<char*>(c.qb.data()) + 1;
       }},
  };
  cases.push_back({"out ends inside v", {"out"}, [](Call& c) {
                     // v moves to the middle of its buffer; out ends on v[0].
                     c.v.data = c.vb.data() + 1024;
                     c.out.data = c.vb.data() + 1024 - (2 * 6 * 4 * 3 - 1);
                   }});
  for (char t : {'q', 'k', 'v', 'o'}) {
    const std::string name = TensorName(t);
    cases.push_back({"NULL " + name + ".data", {name},
                     [t](Call& c) { TensorOf(c, t)->data = nullptr; }});
    // Stored as bits, as a C, Rust or Python caller would store them: a C++
    // enum cannot hold values outside its range.
    for (int32_t bad : {7, -1}) {
      cases.push_back({name + " dtype " + std::to_string(bad),
                       {name, "dtype"},
                       [t, bad](Call& c) {
                         std::memcpy(&TensorOf(c, t)->dtype, &bad, sizeof(bad));
                       }});
    }
    const char* fields[] = {"batch", "seq", "heads", "dim"};
    for (int f = 0; f < 4; ++f) {
      for (int64_t bad : {int64_t{0}, int64_t{-3}}) {
        cases.push_back(
            {name + "." + fields[f] + " = " + std::to_string(bad),
             {name, fields[f]},
             [t, f, bad](Call& c) {
               swattn_tensor* x = TensorOf(c, t);
               int64_t* sizes[] = {&x->batch, &x->seq, &x->heads, &x->dim};
               *sizes[f] = bad;
             }});
      }
    }
    const char* strides[] = {"stride_batch", "stride_seq", "stride_head"};
    for (int s = 0; s < 3; ++s) {
      cases.push_back({name + "." + strides[s] + " = -1", {name, strides[s]},
                       [t, s](Call& c) {
                         swattn_tensor* x = TensorOf(c, t);
                         int64_t* st[] = {&x->stride_batch, &x->stride_seq,
                                          &x->stride_head};
                         *st[s] = -1;
                       }});
    }
  }
  return cases;
}

// Runs one bad call and checks status, message and untouched memory.
void CheckRejected(const BadCase& bad) {
  INFO("case: " << bad.what);
  Call c;
  bad.mutate(c);
  const std::vector<float> q0 = c.qb, k0 = c.kb, v0 = c.vb;
  const swattn_status st = c.Run();
  CHECK(st == SWATTN_ERROR_INVALID_ARGUMENT);
  const std::string message = swattn_last_error();
  INFO("message: '" << message << "'");
  CHECK(!message.empty());
  for (const std::string& token : bad.tokens) {
    INFO("token: " << token);
    CHECK(HasToken(message, token));
  }
  // Nothing written: outputs keep the sentinel, inputs keep their values.
  int64_t out_written = 0, lse_written = 0;
  for (float x : c.ob) out_written += x != kSentinel;
  for (float x : c.lb) lse_written += x != kSentinel;
  CHECK(out_written == 0);
  CHECK(lse_written == 0);
  CHECK(std::memcmp(q0.data(), c.qb.data(), q0.size() * sizeof(float)) == 0);
  CHECK(std::memcmp(k0.data(), c.kb.data(), k0.size() * sizeof(float)) == 0);
  CHECK(std::memcmp(v0.data(), c.vb.data(), v0.size() * sizeof(float)) == 0);
}

TEST_CASE("the baseline call of the error tests is valid", "[errors]") {
  TargetReset reset;
  for (const std::string& name : Targets()) {
    INFO("target " << name);
    REQUIRE(swattn_set_target(name.c_str()) == SWATTN_OK);
    Call c;
    REQUIRE(c.Run() == SWATTN_OK);
    CHECK(std::string(swattn_last_forward_target()) == name);
    CHECK(c.ob[0] != kSentinel);
    CHECK(c.ob[2 * 6 * 4 * 3 - 1] != kSentinel);
    CHECK(c.ob[2 * 6 * 4 * 3] == kSentinel);  // nothing past out
    CHECK(c.lb[2 * 4 * 6 - 1] != kSentinel);
    CHECK(c.lb[2 * 4 * 6] == kSentinel);  // nothing past lse
  }
}

TEST_CASE("forward rejects every bad argument and writes nothing",
          "[errors]") {
  const std::vector<BadCase> cases = BadForwardCases();
  ForEachTarget([&](const std::string&) {
    for (const BadCase& bad : cases) CheckRejected(bad);
  });
}

TEST_CASE("a negative finite scale is valid", "[errors]") {
  // The header only reserves 0 (default); a negative scale is well defined.
  Problem p;
  p.nq = p.nk = 20;
  p.dim = p.vdim = 6;
  p.left = p.right = 3;
  p.scale = -0.7f;
  Case c(p, 20);
  CheckAllTargets(c);
}

TEST_CASE("the largest scale the SIMD kernels take is valid", "[errors]") {
  // Just below FLT_MAX / log2(e), with keys small enough for moderate scores.
  Problem p;
  p.nq = p.nk = 20;
  p.dim = p.vdim = 6;
  p.left = p.right = 3;
  p.scale = 2.35e38f;
  Case c(p, 21);
  for (float& x : c.k.storage()) x *= 1e-38f;
  CheckAllTargets(c);
}

TEST_CASE("a failed call does not poison the next one", "[errors]") {
  Call bad;
  bad.options.window_left = -5;
  REQUIRE(bad.Run() == SWATTN_ERROR_INVALID_ARGUMENT);
  Call good;
  REQUIRE(good.Run() == SWATTN_OK);
  CHECK(good.ob[0] != kSentinel);
}

struct BadReference {
  std::string what;
  std::string token;
  const float *q, *k, *v;
  float* out;
  int64_t seq_len, d_k, d_v, window;
  float scale;
};

TEST_CASE("the 2-D reference function rejects bad arguments", "[errors]") {
  std::vector<float> q(64, 0.5f), k(64, 0.25f), v(64, 1.0f),
      out(64, kSentinel);
  const float* Q = q.data();
  const float* K = k.data();
  const float* V = v.data();
  float* O = out.data();
  const BadReference cases[] = {
      {"NULL q", "q", nullptr, K, V, O, 4, 2, 3, 1, 0.0f},
      {"NULL k", "k", Q, nullptr, V, O, 4, 2, 3, 1, 0.0f},
      {"NULL v", "v", Q, K, nullptr, O, 4, 2, 3, 1, 0.0f},
      {"NULL out", "out", Q, K, V, nullptr, 4, 2, 3, 1, 0.0f},
      {"seq_len 0", "seq_len", Q, K, V, O, 0, 2, 3, 1, 0.0f},
      {"seq_len -1", "seq_len", Q, K, V, O, -1, 2, 3, 1, 0.0f},
      {"d_k 0", "d_k", Q, K, V, O, 4, 0, 3, 1, 0.0f},
      {"d_k -2", "d_k", Q, K, V, O, 4, -2, 3, 1, 0.0f},
      {"d_v 0", "d_v", Q, K, V, O, 4, 2, 0, 1, 0.0f},
      {"window -1", "window_size", Q, K, V, O, 4, 2, 3, -1, 0.0f},
      {"window -7", "window_size", Q, K, V, O, 4, 2, 3, -7, 0.0f},
      {"scale NaN", "scale_factor", Q, K, V, O, 4, 2, 3, 1, kNaN},
      {"scale inf", "scale_factor", Q, K, V, O, 4, 2, 3, 1, kInf},
      {"scale 3e38", "scale_factor", Q, K, V, O, 4, 2, 3, 1, 3e38f},
      {"out is q", "out", Q, K, V, q.data(), 4, 2, 2, 1, 0.0f},
      {"seq_len 2^59 + 1", "seq_len", Q, K, V, O, (int64_t{1} << 59) + 1, 2,
       3, 1, 0.0f},
      {"d_v 2^60", "d_v", Q, K, V, O, 4, 2, int64_t{1} << 60, 1, 0.0f},
      {"seq_len * d_k overflows", "seq_len", Q, K, V, O, int64_t{1} << 40,
       int64_t{1} << 40, 3, 1, 0.0f},
  };
  for (const BadReference& bad : cases) {
    INFO("case: " << bad.what);
    const std::vector<float> q0 = q;
    const swattn_status st = swattn_sparse_window_attention_f32(
        bad.q, bad.k, bad.v, bad.out, bad.seq_len, bad.d_k, bad.d_v,
        bad.window, bad.scale);
    CHECK(st == SWATTN_ERROR_INVALID_ARGUMENT);
    const std::string message = swattn_last_error();
    INFO("message: '" << message << "'");
    CHECK(HasToken(message, bad.token));
    for (float x : out) CHECK(x == kSentinel);
    CHECK(q == q0);
  }
  // The valid call writes exactly seq_len * d_v values.
  REQUIRE(swattn_sparse_window_attention_f32(Q, K, V, O, 4, 2, 3, 1, 0.0f) ==
          SWATTN_OK);
  // Every value row is all ones, so every output is 1 up to rounding.
  for (int i = 0; i < 12; ++i) {
    CHECK(std::fabs(out[static_cast<size_t>(i)] - 1.0f) <= 1e-6f);
  }
  CHECK(out[12] == kSentinel);
}

}  // namespace
}  // namespace swattn_test
