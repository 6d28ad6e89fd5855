#include "oracle.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <sstream>

namespace swattn_test {

uint64_t Rng::Next() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

float Rng::Uniform(float lo, float hi) {
  // 24 random bits give every float in [0, 1) on a 2^-24 grid, exactly.
  const float u = static_cast<float>(Next() >> 40) * 0x1.0p-24f;
  return lo + (hi - lo) * u;
}

int64_t Rng::Int(int64_t lo, int64_t hi) {
  const uint64_t span = static_cast<uint64_t>(hi - lo) + 1;
  return lo + static_cast<int64_t>(Next() % span);
}

swattn_tensor View::ToC() const {
  swattn_tensor t;
  std::memset(&t, 0, sizeof(t));
  t.data = data;
  t.dtype = SWATTN_DTYPE_F32;
  t.batch = batch;
  t.seq = seq;
  t.heads = heads;
  t.dim = dim;
  t.stride_batch = stride_batch;
  t.stride_seq = stride_seq;
  t.stride_head = stride_head;
  return t;
}

Tensor::Tensor(int64_t batch, int64_t seq, int64_t heads, int64_t dim,
               float fill)
    : storage_(static_cast<size_t>(batch * seq * heads * dim), fill),
      batch_(batch),
      seq_(seq),
      heads_(heads),
      dim_(dim) {}

View Tensor::view() const {
  View v;
  v.data = const_cast<float*>(storage_.data());
  v.batch = batch_;
  v.seq = seq_;
  v.heads = heads_;
  v.dim = dim_;
  v.stride_head = dim_;
  v.stride_seq = heads_ * dim_;
  v.stride_batch = seq_ * heads_ * dim_;
  return v;
}

void Tensor::Randomize(Rng& rng, float amp) {
  for (float& x : storage_) x = rng.Uniform(-amp, amp);
}

swattn_options Problem::Options() const {
  swattn_options o;
  swattn_options_init(&o);
  o.window_left = left;
  o.window_right = right;
  o.scale = scale;
  o.query_offset = offset;
  o.num_threads = threads;
  return o;
}

double Problem::EffectiveScale() const {
  return scale == 0.0f ? 1.0 / std::sqrt(static_cast<double>(dim))
                       : static_cast<double>(scale);
}

bool Problem::Visible(int64_t i, int64_t* lo, int64_t* hi) const {
  // 128-bit positions: tests use offsets and radii near the int64 limits.
  __extension__ typedef __int128 Wide;
  const Wide pos = static_cast<Wide>(i) + EffectiveOffset();
  const Wide l = left < 0 ? Wide{0} : std::max<Wide>(0, pos - left);
  const Wide h = right < 0 ? Wide{nk - 1} : std::min<Wide>(nk - 1, pos + right);
  if (l > h) {
    *lo = 0;
    *hi = -1;
    return false;
  }
  *lo = static_cast<int64_t>(l);
  *hi = static_cast<int64_t>(h);
  return true;
}

std::string Problem::Describe() const {
  std::ostringstream s;
  s << "B=" << batch << " Nq=" << nq << " Nk=" << nk << " H=" << heads
    << " Hkv=" << kv_heads << " D=" << dim << " Dv=" << vdim << " window=("
    << left << "," << right << ") offset=";
  if (offset == SWATTN_QUERY_OFFSET_DEFAULT) {
    s << "default";
  } else {
    s << offset;
  }
  s << " scale=" << scale << " threads=" << threads;
  return s.str();
}

Expected Oracle(const Problem& p, const View& q, const View& k,
                const View& v) {
  Expected e;
  e.out.assign(static_cast<size_t>(p.batch * p.nq * p.heads * p.vdim), 0.0);
  e.lse.assign(static_cast<size_t>(p.LseSize()),
               -std::numeric_limits<double>::infinity());
  e.logit_mag.assign(static_cast<size_t>(p.LseSize()), 0.0);
  const double scale = p.EffectiveScale();
  const int64_t group = p.heads / p.kv_heads;
  std::vector<double> scores;
  for (int64_t b = 0; b < p.batch; ++b) {
    for (int64_t h = 0; h < p.heads; ++h) {
      const int64_t hk = h / group;
      for (int64_t i = 0; i < p.nq; ++i) {
        const size_t row = static_cast<size_t>((b * p.heads + h) * p.nq + i);
        int64_t lo, hi;
        if (!p.Visible(i, &lo, &hi)) continue;  // out 0, lse -inf
        scores.assign(static_cast<size_t>(hi - lo + 1), 0.0);
        double mx = -std::numeric_limits<double>::infinity();
        double mag = 0.0;
        for (int64_t j = lo; j <= hi; ++j) {
          double dot = 0.0, abs_dot = 0.0;
          for (int64_t c = 0; c < p.dim; ++c) {
            const double t = static_cast<double>(q.at(b, i, h, c)) *
                             static_cast<double>(k.at(b, j, hk, c));
            dot += t;
            abs_dot += std::fabs(t);
          }
          const double s = scale * dot;
          scores[static_cast<size_t>(j - lo)] = s;
          mx = std::max(mx, s);
          mag = std::max(mag, std::fabs(scale) * abs_dot);
        }
        double sum = 0.0;
        for (double& s : scores) {
          s = std::exp(s - mx);
          sum += s;
        }
        for (int64_t c = 0; c < p.vdim; ++c) {
          double acc = 0.0;
          for (int64_t j = lo; j <= hi; ++j) {
            acc += scores[static_cast<size_t>(j - lo)] *
                   static_cast<double>(v.at(b, j, hk, c));
          }
          e.out[static_cast<size_t>(((b * p.nq + i) * p.heads + h) * p.vdim +
                                    c)] = acc / sum;
        }
        e.lse[row] = mx + std::log(sum);
        e.logit_mag[row] = mag;
      }
    }
  }
  return e;
}

namespace {

constexpr double kEps32 = 0x1.0p-23;

// Collects the first few mismatches and the worst error/bound ratio.
class Mismatches {
 public:
  void Add(double ratio, const std::string& what) {
    worst_ = std::max(worst_, ratio);
    ++count_;
    if (count_ <= 4) text_ << what << "\n";
  }
  void Track(double ratio) { worst_ = std::max(worst_, ratio); }
  double worst() const { return worst_; }
  std::string Text() const {
    if (count_ == 0) return "";
    std::ostringstream s;
    s << count_ << " mismatches (worst error/bound " << worst_ << "):\n"
      << text_.str();
    return s.str();
  }

 private:
  std::ostringstream text_;
  int64_t count_ = 0;
  double worst_ = 0.0;
};

std::string Where(int64_t b, int64_t i, int64_t h, int64_t c) {
  std::ostringstream s;
  s << "out[b=" << b << ", i=" << i << ", h=" << h << ", c=" << c << "]";
  return s.str();
}

std::string LseWhere(int64_t b, int64_t i, int64_t h) {
  std::ostringstream s;
  s << "lse[b=" << b << ", h=" << h << ", i=" << i << "]";
  return s.str();
}

// The largest |out| of one oracle row, at least 1: the logit term of a
// row's bound scales with it.
double RowScale(const Problem& p, const Expected& want, int64_t b, int64_t i,
                int64_t h) {
  double vmax = 1.0;
  for (int64_t c = 0; c < p.vdim; ++c) {
    vmax = std::max(vmax, std::fabs(want.out_at(p, b, i, h, c)));
  }
  return vmax;
}

// One element against an expected double value within a bound.
void CheckValue(Mismatches* m, const std::string& where, double got,
                double want, double bound) {
  std::ostringstream s;
  const double err = std::fabs(got - want);
  // Infinities compare equal only to themselves; NaN never passes.
  if (std::isinf(want) || std::isinf(got)) {
    if (got != want) {
      s.precision(9);
      s << where << ": got " << got << " want " << want;
      m->Add(std::numeric_limits<double>::infinity(), s.str());
    }
    return;
  }
  if (!(err <= bound)) {
    s.precision(9);
    s << where << ": got " << got << " want " << want << " |err| " << err
      << " bound " << bound;
    m->Add(std::isnan(err) ? std::numeric_limits<double>::infinity()
                           : err / bound,
           s.str());
  } else {
    m->Track(err / bound);
  }
}

std::string CurrentTarget() {
  const char* t = swattn_last_forward_target();
  return t ? t : "?";
}

}  // namespace

std::string CompareToOracle(const Problem& p, const View& out,
                            const float* lse, const Expected& want,
                            const Tolerance& tol) {
  Mismatches m;
  for (int64_t b = 0; b < p.batch; ++b) {
    for (int64_t i = 0; i < p.nq; ++i) {
      for (int64_t h = 0; h < p.heads; ++h) {
        const size_t row =
            static_cast<size_t>((b * p.heads + h) * p.nq + i);
        const double vmax = RowScale(p, want, b, i, h);
        const double logit_term =
            tol.logit * kEps32 * want.logit_mag[row];
        for (int64_t c = 0; c < p.vdim; ++c) {
          const double w = want.out_at(p, b, i, h, c);
          const double bound = tol.abs + tol.rel * std::fabs(w) +
                               logit_term * vmax;
          CheckValue(&m, Where(b, i, h, c), out.at(b, i, h, c), w, bound);
        }
        if (lse != nullptr) {
          const double w = want.lse[row];
          const double bound = tol.abs + tol.rel * std::fabs(w) + logit_term;
          CheckValue(&m, LseWhere(b, i, h), lse[row], w, bound);
        }
      }
    }
  }
  RecordError(CurrentTarget() + " vs oracle", m.worst());
  return m.Text();
}

std::string CompareResults(const Problem& p, const View& got,
                           const float* got_lse, const View& want,
                           const float* want_lse, const Tolerance& tol,
                           const Expected* oracle) {
  Mismatches m;
  for (int64_t b = 0; b < p.batch; ++b) {
    for (int64_t i = 0; i < p.nq; ++i) {
      for (int64_t h = 0; h < p.heads; ++h) {
        const size_t row =
            static_cast<size_t>((b * p.heads + h) * p.nq + i);
        double logit_term = 0.0;
        if (oracle != nullptr) {
          logit_term = 2.0 * tol.logit * kEps32 * oracle->logit_mag[row];
          if (got_lse != nullptr && want_lse != nullptr) {
            const double w = want_lse[row];
            CheckValue(&m, LseWhere(b, i, h), got_lse[row], w,
                       tol.abs + tol.rel * std::fabs(w) + logit_term);
          }
          logit_term *= RowScale(p, *oracle, b, i, h);
        }
        for (int64_t c = 0; c < p.vdim; ++c) {
          const double w = want.at(b, i, h, c);
          CheckValue(&m, Where(b, i, h, c), got.at(b, i, h, c), w,
                     tol.abs + tol.rel * std::fabs(w) + logit_term);
        }
      }
    }
  }
  if (oracle == nullptr && got_lse != nullptr && want_lse != nullptr) {
    for (int64_t r = 0; r < p.LseSize(); ++r) {
      const double w = want_lse[r];
      std::ostringstream where;
      where << "lse[" << r << "]";
      CheckValue(&m, where.str(), got_lse[r], w,
                 tol.abs + tol.rel * std::fabs(w));
    }
  }
  RecordError(CurrentTarget() + " vs scalar", m.worst());
  return m.Text();
}

std::string CompareBitwise(const Problem& p, const View& got,
                           const float* got_lse, const View& want,
                           const float* want_lse) {
  std::ostringstream s;
  s.precision(9);
  int64_t count = 0;
  for (int64_t b = 0; b < p.batch; ++b) {
    for (int64_t i = 0; i < p.nq; ++i) {
      for (int64_t h = 0; h < p.heads; ++h) {
        for (int64_t c = 0; c < p.vdim; ++c) {
          const float x = got.at(b, i, h, c), y = want.at(b, i, h, c);
          if (std::memcmp(&x, &y, sizeof(float)) != 0 && ++count <= 4) {
            s << Where(b, i, h, c) << ": got " << x << " want " << y << "\n";
          }
        }
      }
    }
  }
  if (got_lse != nullptr && want_lse != nullptr) {
    for (int64_t r = 0; r < p.LseSize(); ++r) {
      if (std::memcmp(&got_lse[r], &want_lse[r], sizeof(float)) != 0 &&
          ++count <= 4) {
        s << "lse[" << r << "]: got " << got_lse[r] << " want "
          << want_lse[r] << "\n";
      }
    }
  }
  if (count == 0) return "";
  return std::to_string(count) + " elements differ bitwise:\n" + s.str();
}

namespace {
std::mutex g_stats_mutex;
std::map<std::string, double>& Stats() {
  static std::map<std::string, double> stats;
  return stats;
}
}  // namespace

void RecordError(const std::string& target, double ratio) {
  std::lock_guard<std::mutex> lock(g_stats_mutex);
  double& worst = Stats()[target];
  worst = std::max(worst, ratio);
}

void PrintErrorStats() {
  std::lock_guard<std::mutex> lock(g_stats_mutex);
  std::printf("worst error / tolerance bound per comparison:\n");
  for (const auto& kv : Stats()) {
    std::printf("  %-22s %.4f\n", kv.first.c_str(), kv.second);
  }
}

std::vector<std::string> AllTargets() {
  std::vector<std::string> names;
  const int n = swattn_target_count();
  for (int i = 0; i < n; ++i) {
    const char* name = swattn_target_name(i);
    if (name != nullptr) names.emplace_back(name);
  }
  return names;
}

std::vector<std::string> Targets() {
  // SWATTN_TEST_TARGETS="neon,scalar" narrows the loops while debugging;
  // unset, every target runs.
  const char* only = std::getenv("SWATTN_TEST_TARGETS");
  const std::string filter = only ? "," + std::string(only) + "," : "";
  std::vector<std::string> names;
  for (const std::string& name : AllTargets()) {
    if (filter.empty() || filter.find("," + name + ",") != std::string::npos) {
      names.push_back(name);
    }
  }
  return names;
}

swattn_status Forward(const std::string& target, const swattn_options& opts,
                      const View& q, const View& k, const View& v,
                      const View& out, float* lse) {
  const swattn_tensor tq = q.ToC(), tk = k.ToC(), tv = v.ToC();
  swattn_tensor to = out.ToC();
  const swattn_status st = swattn_forward(&opts, &tq, &tk, &tv, &to, lse);
  if (st == SWATTN_OK && !target.empty()) {
    CHECK(std::string(swattn_last_forward_target()) == target);
  }
  return st;
}

Case::Case(const Problem& problem, uint64_t seed, float amp)
    : p(problem),
      q(p.batch, p.nq, p.heads, p.dim),
      k(p.batch, p.nk, p.kv_heads, p.dim),
      v(p.batch, p.nk, p.kv_heads, p.vdim) {
  Rng rng(seed);
  q.Randomize(rng, amp);
  k.Randomize(rng, amp);
  v.Randomize(rng, amp);
}

Result RunOn(const std::string& target, Case& c, bool with_lse) {
  Result r(c.p);
  REQUIRE(swattn_set_target(target.c_str()) == SWATTN_OK);
  const swattn_status st =
      Forward(target, c.p.Options(), c.q.view(), c.k.view(), c.v.view(),
              r.out.view(), with_lse ? r.lse.data() : nullptr);
  INFO(c.p.Describe() << "\nlast error: " << swattn_last_error());
  REQUIRE(st == SWATTN_OK);
  return r;
}

void CheckAllTargets(Case& c, const Tolerance& tol) {
  INFO(c.p.Describe());
  const Expected want = Oracle(c.p, c.q.view(), c.k.view(), c.v.view());
  TargetReset reset;
  Result scalar = RunOn("scalar", c);
  ForEachTarget([&](const std::string& name) {
    Result got = RunOn(name, c);
    const std::string vs_oracle =
        CompareToOracle(c.p, got.out.view(), got.lse.data(), want, tol);
    INFO("vs float64 oracle: " << vs_oracle);
    CHECK(vs_oracle.empty());
    const std::string vs_scalar =
        CompareResults(c.p, got.out.view(), got.lse.data(),
                       scalar.out.view(), scalar.lse.data(), tol, &want);
    INFO("vs scalar target: " << vs_scalar);
    CHECK(vs_scalar.empty());
  });
}

}  // namespace swattn_test
