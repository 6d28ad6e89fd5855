// Shared helpers of the C ABI unit tests: a float64 oracle of the attention
// semantics (DESIGN.md "Semantics"), strided tensor views, deterministic
// random inputs, tolerant and bitwise comparisons, and the per-target loop.
#ifndef SWATTN_TESTS_UNIT_ORACLE_H_
#define SWATTN_TESTS_UNIT_ORACLE_H_

#include <swattn/swattn.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

namespace swattn_test {

// Written into outputs before a call so that untouched elements are visible.
constexpr float kSentinel = 12345.0f;

// splitmix64: the same numbers on every compiler and platform, which the
// standard distributions do not promise.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next();
  // Uniform in [lo, hi).
  float Uniform(float lo, float hi);
  // Uniform integer in [lo, hi], both inclusive.
  int64_t Int(int64_t lo, int64_t hi);

 private:
  uint64_t state_;
};

// A strided [batch, seq, heads, dim] float view over storage owned elsewhere.
struct View {
  float* data = nullptr;
  int64_t batch = 0, seq = 0, heads = 0, dim = 0;
  int64_t stride_batch = 0, stride_seq = 0, stride_head = 0;

  float& at(int64_t b, int64_t s, int64_t h, int64_t d) const {
    return data[b * stride_batch + s * stride_seq + h * stride_head + d];
  }
  swattn_tensor ToC() const;
};

// A contiguous [batch, seq, heads, dim] tensor that owns its storage.
class Tensor {
 public:
  Tensor() = default;
  Tensor(int64_t batch, int64_t seq, int64_t heads, int64_t dim,
         float fill = 0.0f);
  // Views are non-const so tests can poke inputs; const only stops resizing.
  View view() const;
  std::vector<float>& storage() { return storage_; }
  const std::vector<float>& storage() const { return storage_; }
  // Fills with uniform values in [-amp, amp).
  void Randomize(Rng& rng, float amp = 1.0f);

 private:
  std::vector<float> storage_;
  int64_t batch_ = 0, seq_ = 0, heads_ = 0, dim_ = 0;
};

// One attention problem: shapes and options.
struct Problem {
  int64_t batch = 1, nq = 1, nk = 1, heads = 1, kv_heads = 1, dim = 1,
          vdim = 1;
  int64_t left = -1, right = -1;
  int64_t offset = SWATTN_QUERY_OFFSET_DEFAULT;
  float scale = 0.0f;
  int32_t threads = 0;

  swattn_options Options() const;
  int64_t EffectiveOffset() const {
    return offset == SWATTN_QUERY_OFFSET_DEFAULT ? nk - nq : offset;
  }
  double EffectiveScale() const;
  // The visible key range [*lo, *hi] of query i; false when it is empty.
  bool Visible(int64_t i, int64_t* lo, int64_t* hi) const;
  int64_t LseSize() const { return batch * heads * nq; }
  std::string Describe() const;
};

// The float64 oracle: naive per-query softmax over the visible keys.
struct Expected {
  std::vector<double> out;        // [B, Nq, H, Dv]
  std::vector<double> lse;        // [B, H, Nq]
  std::vector<double> logit_mag;  // [B, H, Nq]: scale * max_j sum |q_c k_c|
  double out_at(const Problem& p, int64_t b, int64_t i, int64_t h,
                int64_t c) const {
    return out[((b * p.nq + i) * p.heads + h) * p.vdim + c];
  }
};
Expected Oracle(const Problem& p, const View& q, const View& k, const View& v);

// |got - want| <= abs + rel * |want| + logit * eps32 * logit_mag * vmax,
// where the last term accounts for float rounding of large scores.
// The defaults leave ~10x headroom over the worst error any target showed
// (SWATTN_TEST_STATS=1 prints it): a few float ulps of |out| <= 1.
struct Tolerance {
  double abs = 4e-6;
  double rel = 4e-5;
  double logit = 16.0;
};

// "" when every element of out/lse is within tol of the oracle; otherwise a
// description of the first mismatches. lse may be null (not checked).
std::string CompareToOracle(const Problem& p, const View& out,
                            const float* lse, const Expected& want,
                            const Tolerance& tol = Tolerance());
// "" when got and want (two library results) agree within tol.
// With an oracle, the bound also gets its logit term (twice: both sides
// round their scores).
std::string CompareResults(const Problem& p, const View& got,
                           const float* got_lse, const View& want,
                           const float* want_lse,
                           const Tolerance& tol = Tolerance(),
                           const Expected* oracle = nullptr);
// "" when out rows and lse entries are bitwise identical.
std::string CompareBitwise(const Problem& p, const View& got,
                           const float* got_lse, const View& want,
                           const float* want_lse);

// Records the worst error seen per target (relative to its bound) so that a
// run with SWATTN_TEST_STATS=1 prints how much slack each tolerance has.
void RecordError(const std::string& target, double ratio);
void PrintErrorStats();

// The names of the targets this CPU can run, best first.
std::vector<std::string> AllTargets();
// AllTargets(), narrowed by SWATTN_TEST_TARGETS (comma-separated) if set.
std::vector<std::string> Targets();

// Restores the best target when a test ends, even when a REQUIRE throws.
class TargetReset {
 public:
  TargetReset() = default;
  ~TargetReset() { swattn_set_target(nullptr); }
  TargetReset(const TargetReset&) = delete;
  TargetReset& operator=(const TargetReset&) = delete;
};

// Calls swattn_forward and, on success, checks that `target` really ran.
// An empty target skips that check.
swattn_status Forward(const std::string& target, const swattn_options& opts,
                      const View& q, const View& k, const View& v,
                      const View& out, float* lse);

// Random inputs and sentinel-filled outputs for one problem.
struct Case {
  Problem p;
  Tensor q, k, v;
  Case(const Problem& problem, uint64_t seed, float amp = 1.0f);
};

// Output buffers of one run.
struct Result {
  Tensor out;
  std::vector<float> lse;
  explicit Result(const Problem& p)
      : out(p.batch, p.nq, p.heads, p.vdim, kSentinel),
        lse(static_cast<size_t>(p.LseSize()), kSentinel) {}
};

// Runs the case on `target` (forcing it) and returns the outputs.
Result RunOn(const std::string& target, Case& c, bool with_lse = true);

// Runs the case on every target and checks each against the oracle and
// against the scalar target.
void CheckAllTargets(Case& c, const Tolerance& tol = Tolerance());

// Runs body(name) once per target with that target forced; the best target
// is restored afterwards. Failures inside are labelled with the target.
template <class Body>
void ForEachTarget(Body&& body) {
  TargetReset reset;
  const std::vector<std::string> targets = Targets();
  REQUIRE(!targets.empty());
  for (const std::string& name : targets) {
    INFO("target " << name);
    REQUIRE(swattn_set_target(name.c_str()) == SWATTN_OK);
    body(name);
  }
}

inline bool IsNegInf(float x) {
  return x == -std::numeric_limits<float>::infinity();
}

}  // namespace swattn_test

#endif  // SWATTN_TESTS_UNIT_ORACLE_H_
