// The extern "C" entry points: argument checks, struct_size handling, status
// and message. No exception crosses this boundary, and a failed check leaves
// every output untouched.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <new>
#include <string>

#include "core/problem.h"
#include "dispatch/targets.h"
#include "engine/engine.h"
#include "swattn/swattn.h"

namespace swattn {
namespace {

thread_local std::string t_last_error;
thread_local const char* t_last_target = "";

swattn_status Fail(swattn_status status, std::string message) {
  t_last_error = std::move(message);
  return status;
}

// A rejected argument: the message names it and the rule it breaks.
struct Invalid {
  std::string message;
};

// Runs `body` (returning a status) with the error bookkeeping every fallible
// entry point shares.
template <typename Body>
swattn_status Guard(Body&& body) {
  try {
    t_last_error.clear();
    return body();
  } catch (const Invalid& e) {
    return Fail(SWATTN_ERROR_INVALID_ARGUMENT, e.message);
  } catch (const std::bad_alloc&) {
    return Fail(SWATTN_ERROR_OUT_OF_MEMORY, "out of memory");
  } catch (...) {
    return Fail(SWATTN_ERROR_INTERNAL, "internal error");
  }
}

// Rejects an argument unless `ok`. A macro so that the message, which
// formats numbers, is built only when the check fails: building all of them
// took two thirds of a 16-query call.
#define SWATTN_REQUIRE(ok, message)              \
  do {                                           \
    if (!(ok)) throw ::swattn::Invalid{message}; \
  } while (false)

std::string Str(int64_t x) { return std::to_string(x); }

// Address range [begin, end) of a checked tensor, in bytes.
struct Span {
  uintptr_t begin, end;
  bool Overlaps(const Span& o) const { return begin < o.end && o.begin < end; }
};

// The dtype field as the caller stored it. Any int arrives through the C
// ABI, and in C++ loading one outside the enum's range as swattn_dtype is
// undefined (UBSan flags it), so the check reads the bits.
int32_t DtypeBits(const swattn_tensor* t) {
  static_assert(sizeof(swattn_dtype) == sizeof(int32_t),
                "C enums are int-sized on the supported ABIs");
  int32_t bits;
  std::memcpy(&bits, &t->dtype, sizeof(bits));
  return bits;
}

// Checks one tensor view and returns its byte span.
Span CheckTensor(const swattn_tensor* t, const char* name) {
  const std::string n = name;
  SWATTN_REQUIRE(t != nullptr, n + " is NULL");
  const int32_t dtype = DtypeBits(t);
  SWATTN_REQUIRE(
      dtype == SWATTN_DTYPE_F32,
      n + ".dtype " + Str(dtype) + " is not supported (only SWATTN_DTYPE_F32)");
  SWATTN_REQUIRE(t->data != nullptr, n + ".data is NULL");
  SWATTN_REQUIRE(reinterpret_cast<uintptr_t>(t->data) % alignof(float) == 0,
                 n + ".data is not aligned to 4 bytes");
  const struct {
    const char* field;
    int64_t value;
  } sizes[] = {{"batch", t->batch}, {"seq", t->seq},
               {"heads", t->heads}, {"dim", t->dim}},
    strides[] = {{"stride_batch", t->stride_batch},
                 {"stride_seq", t->stride_seq},
                 {"stride_head", t->stride_head}};
  for (const auto& s : sizes) {
    SWATTN_REQUIRE(s.value >= 1, n + "." + s.field + " must be >= 1 (got " +
                                     Str(s.value) + ")");
    SWATTN_REQUIRE(
        s.value <= kMaxExtent,
        n + "." + s.field + " must be <= 2^59 (got " + Str(s.value) + ")");
  }
  for (const auto& s : strides) {
    SWATTN_REQUIRE(s.value >= 0, n + "." + s.field + " must be >= 0 (got " +
                                     Str(s.value) + ")");
  }
  // The largest element index, then the byte just past it, without overflow.
  int64_t last = t->dim - 1;
  const int64_t extents[][2] = {{t->batch - 1, t->stride_batch},
                                {t->seq - 1, t->stride_seq},
                                {t->heads - 1, t->stride_head}};
  bool overflow = false;
  for (const auto& e : extents) {
    int64_t term = 0;
    overflow |= __builtin_mul_overflow(e[0], e[1], &term);
    overflow |= __builtin_add_overflow(last, term, &last);
  }
  int64_t bytes = 0;
  overflow |= __builtin_add_overflow(last, int64_t{1}, &last);
  overflow |= __builtin_mul_overflow(last, int64_t{sizeof(float)}, &bytes);
  const uintptr_t begin = reinterpret_cast<uintptr_t>(t->data);
  overflow |= static_cast<uint64_t>(bytes) > UINTPTR_MAX - begin;
  SWATTN_REQUIRE(!overflow,
                 n + ": sizes and strides overflow int64 index arithmetic");
  return {begin, begin + static_cast<uintptr_t>(bytes)};
}

// Checks that no two elements of a checked tensor share an address, which
// every output needs: the axes of more than one element, by increasing
// stride, must each step past the whole span of the axes inside them. (Some
// interleavings with distinct elements fail this too; no layout a caller
// allocates does.) It also bounds batch * seq * heads * dim by the tensor's
// span, so products of the sizes fit in int64.
void CheckDistinct(const swattn_tensor* t, const char* name) {
  struct Axis {
    const char* field;
    int64_t size, stride;
  } axes[] = {{"stride_batch", t->batch, t->stride_batch},
              {"stride_seq", t->seq, t->stride_seq},
              {"stride_head", t->heads, t->stride_head}};
  std::sort(std::begin(axes), std::end(axes),
            [](const Axis& a, const Axis& b) { return a.stride < b.stride; });
  int64_t span = t->dim;  // elements covered by the axes inside this one
  for (const Axis& a : axes) {
    if (a.size == 1) continue;
    SWATTN_REQUIRE(a.stride >= span,
                   std::string(name) + "." + a.field + " (" + Str(a.stride) +
                       ") must be >= " + Str(span) +
                       ", the span of the axes inside it: the elements of " +
                       name + " must not overlap");
    // Fits: CheckTensor bounded the last element's index.
    span += a.stride * (a.size - 1);
  }
}

Problem CheckForward(const swattn_options* options, const swattn_tensor* q,
                     const swattn_tensor* k, const swattn_tensor* v,
                     swattn_tensor* out, float* lse) {
  SWATTN_REQUIRE(options != nullptr, "options is NULL");
  SWATTN_REQUIRE(options->struct_size >= sizeof(swattn_options),
                 "options->struct_size is " + Str(options->struct_size) +
                     ", smaller than sizeof(swattn_options) = " +
                     Str(sizeof(swattn_options)) +
                     ": call swattn_options_init");
  const Span sq = CheckTensor(q, "q");
  const Span sk = CheckTensor(k, "k");
  const Span sv = CheckTensor(v, "v");
  const Span so = CheckTensor(out, "out");
  CheckDistinct(out, "out");

  SWATTN_REQUIRE(
      k->batch == q->batch && v->batch == q->batch && out->batch == q->batch,
      "batch sizes differ: q " + Str(q->batch) + ", k " + Str(k->batch) +
          ", v " + Str(v->batch) + ", out " + Str(out->batch));
  SWATTN_REQUIRE(
      k->dim == q->dim,
      "k.dim (" + Str(k->dim) + ") must equal q.dim (" + Str(q->dim) + ")");
  SWATTN_REQUIRE(
      v->seq == k->seq,
      "v.seq (" + Str(v->seq) + ") must equal k.seq (" + Str(k->seq) + ")");
  SWATTN_REQUIRE(v->heads == k->heads, "v.heads (" + Str(v->heads) +
                                           ") must equal k.heads (" +
                                           Str(k->heads) + ")");
  SWATTN_REQUIRE(q->heads % k->heads == 0,
                 "q.heads (" + Str(q->heads) +
                     ") must be a multiple of k.heads (" + Str(k->heads) + ")");
  SWATTN_REQUIRE(
      out->seq == q->seq && out->heads == q->heads && out->dim == v->dim,
      "out must be [batch, q.seq, q.heads, v.dim] = [" + Str(q->batch) + ", " +
          Str(q->seq) + ", " + Str(q->heads) + ", " + Str(v->dim) + "], got [" +
          Str(out->batch) + ", " + Str(out->seq) + ", " + Str(out->heads) +
          ", " + Str(out->dim) + "]");

  SWATTN_REQUIRE(options->window_left >= -1,
                 "options->window_left must be >= -1 (-1 = unbounded), got " +
                     Str(options->window_left));
  SWATTN_REQUIRE(options->window_right >= -1,
                 "options->window_right must be >= -1 (-1 = unbounded), got " +
                     Str(options->window_right));
  SWATTN_REQUIRE(std::isfinite(options->scale * kLog2e),
                 "options->scale must be finite, with |scale| <= FLT_MAX / "
                 "log2(e) ~ 2.36e38 (0 = 1/sqrt(dim))");
  SWATTN_REQUIRE(options->num_threads >= 0,
                 "options->num_threads must be >= 0 (0 = all), got " +
                     Str(options->num_threads));
  const int64_t offset = options->query_offset == SWATTN_QUERY_OFFSET_DEFAULT
                             ? k->seq - q->seq
                             : options->query_offset;
  SWATTN_REQUIRE(
      offset >= -kMaxExtent && offset <= kMaxExtent,
      "options->query_offset must be within +-2^59, got " + Str(offset));

  const struct {
    const char* name;
    Span span;
  } inputs[] = {{"q", sq}, {"k", sk}, {"v", sv}};
  for (const auto& in : inputs) {
    SWATTN_REQUIRE(!so.Overlaps(in.span), std::string("out overlaps ") +
                                              in.name +
                                              " (their address ranges meet)");
  }
  if (lse != nullptr) {
    SWATTN_REQUIRE(reinterpret_cast<uintptr_t>(lse) % alignof(float) == 0,
                   "lse is not aligned to 4 bytes");
    const uintptr_t begin = reinterpret_cast<uintptr_t>(lse);
    // batch * heads * seq fits: out holds that many distinct rows.
    const Span sl{begin, begin + static_cast<uintptr_t>(
                                     q->batch * q->heads * q->seq) *
                                     sizeof(float)};
    for (const auto& in : inputs) {
      SWATTN_REQUIRE(!sl.Overlaps(in.span), std::string("lse overlaps ") +
                                                in.name +
                                                " (their address ranges meet)");
    }
    SWATTN_REQUIRE(!sl.Overlaps(so), "lse overlaps out");
  }

  const auto radius = [](int64_t r) {
    return r < 0 ? kUnboundedRadius : std::min(r, kUnboundedRadius);
  };
  Problem p;
  p.batch = q->batch;
  p.nq = q->seq;
  p.nk = k->seq;
  p.heads = q->heads;
  p.kv_heads = k->heads;
  p.dim = q->dim;
  p.dim_v = v->dim;
  p.q = {static_cast<const float*>(q->data), q->stride_batch, q->stride_seq,
         q->stride_head};
  p.k = {static_cast<const float*>(k->data), k->stride_batch, k->stride_seq,
         k->stride_head};
  p.v = {static_cast<const float*>(v->data), v->stride_batch, v->stride_seq,
         v->stride_head};
  p.out = {static_cast<float*>(out->data), out->stride_batch, out->stride_seq,
           out->stride_head};
  p.lse = lse;
  p.left = radius(options->window_left);
  p.right = radius(options->window_right);
  p.query_offset = offset;
  p.scale = options->scale != 0.0f
                ? options->scale
                : static_cast<float>(1.0 / std::sqrt(static_cast<double>(q->dim)));
  return p;
}

swattn_status Forward(const swattn_options* options, const swattn_tensor* q,
                      const swattn_tensor* k, const swattn_tensor* v,
                      swattn_tensor* out, float* lse) {
  const Problem p = CheckForward(options, q, k, v, out, lse);
  std::string error;
  const Target* target = ActiveTarget(&error);
  if (target == nullptr) return Fail(SWATTN_ERROR_UNSUPPORTED, error);
  const swattn_status status =
      RunForward(p, options->num_threads, *target, &error);
  if (status != SWATTN_OK) return Fail(status, error);
  t_last_target = target->name;
  return SWATTN_OK;
}

// The 2-D reference call: checks its own arguments, by their names, then
// runs as a forward call on [1, seq_len, 1, d] views.
swattn_status SparseWindow(const float* q, const float* k, const float* v,
                           float* out, int64_t seq_len, int64_t d_k,
                           int64_t d_v, int64_t window_size,
                           float scale_factor) {
  SWATTN_REQUIRE(q != nullptr, "q is NULL");
  SWATTN_REQUIRE(k != nullptr, "k is NULL");
  SWATTN_REQUIRE(v != nullptr, "v is NULL");
  SWATTN_REQUIRE(out != nullptr, "out is NULL");
  SWATTN_REQUIRE(seq_len >= 1, "seq_len must be >= 1, got " + Str(seq_len));
  SWATTN_REQUIRE(d_k >= 1, "d_k must be >= 1, got " + Str(d_k));
  SWATTN_REQUIRE(d_v >= 1, "d_v must be >= 1, got " + Str(d_v));
  SWATTN_REQUIRE(window_size >= 0,
                 "window_size must be >= 0, got " + Str(window_size));
  const struct {
    const char* name;
    int64_t value;
  } sizes[] = {{"seq_len", seq_len}, {"d_k", d_k}, {"d_v", d_v}};
  for (const auto& s : sizes) {
    SWATTN_REQUIRE(
        s.value <= kMaxExtent,
        std::string(s.name) + " must be <= 2^59, got " + Str(s.value));
  }
  int64_t elements = 0;
  SWATTN_REQUIRE(
      !__builtin_mul_overflow(seq_len, std::max(d_k, d_v), &elements),
      "seq_len * d_k and seq_len * d_v must fit in int64 (seq_len " +
          Str(seq_len) + ", d_k " + Str(d_k) + ", d_v " + Str(d_v) + ")");
  SWATTN_REQUIRE(std::isfinite(scale_factor * kLog2e),
                 "scale_factor must be finite, with |scale_factor| <= FLT_MAX "
                 "/ log2(e) ~ 2.36e38 (0 = 1/sqrt(d_k))");
  const auto tensor = [&](const float* data, int64_t d) {
    swattn_tensor t = {};
    t.data = const_cast<float*>(data);
    t.dtype = SWATTN_DTYPE_F32;
    t.batch = t.heads = 1;
    t.seq = seq_len;
    t.dim = t.stride_seq = t.stride_head = d;
    t.stride_batch = seq_len * d;
    return t;
  };
  const swattn_tensor tq = tensor(q, d_k), tk = tensor(k, d_k),
                      tv = tensor(v, d_v);
  swattn_tensor to = tensor(out, d_v);
  swattn_options options;
  swattn_options_init(&options);
  options.window_left = window_size;
  options.window_right = window_size;
  options.scale = scale_factor;
  return Forward(&options, &tq, &tk, &tv, &to, nullptr);
}

}  // namespace
}  // namespace swattn

using swattn::Guard;

extern "C" {

SWATTN_API void swattn_options_init(swattn_options* options) {
  if (options == nullptr) return;
  std::memset(options, 0, sizeof(*options));
  options->struct_size = sizeof(swattn_options);
  options->window_left = -1;
  options->window_right = -1;
  options->scale = 0.0f;
  options->query_offset = SWATTN_QUERY_OFFSET_DEFAULT;
  options->num_threads = 0;
}

SWATTN_API swattn_status swattn_forward(const swattn_options* options,
                                        const swattn_tensor* q,
                                        const swattn_tensor* k,
                                        const swattn_tensor* v,
                                        swattn_tensor* out, float* lse) {
  return Guard([&] { return swattn::Forward(options, q, k, v, out, lse); });
}

SWATTN_API swattn_status swattn_sparse_window_attention_f32(
    const float* q, const float* k, const float* v, float* out,
    int64_t seq_len, int64_t d_k, int64_t d_v, int64_t window_size,
    float scale_factor) {
  return Guard([&] {
    return swattn::SparseWindow(q, k, v, out, seq_len, d_k, d_v, window_size,
                                scale_factor);
  });
}

SWATTN_API const char* swattn_status_string(swattn_status status) {
  switch (status) {
    case SWATTN_OK: return "ok";
    case SWATTN_ERROR_INVALID_ARGUMENT: return "invalid argument";
    case SWATTN_ERROR_UNSUPPORTED: return "unsupported";
    case SWATTN_ERROR_OUT_OF_MEMORY: return "out of memory";
    case SWATTN_ERROR_INTERNAL: return "internal error";
  }
  return "unknown status";
}

SWATTN_API const char* swattn_last_error(void) {
  return swattn::t_last_error.c_str();
}

SWATTN_API const char* swattn_version_string(void) {
#define SWATTN_STR2(x) #x
#define SWATTN_STR(x) SWATTN_STR2(x)
  return SWATTN_STR(SWATTN_VERSION_MAJOR) "." SWATTN_STR(
      SWATTN_VERSION_MINOR) "." SWATTN_STR(SWATTN_VERSION_PATCH);
#undef SWATTN_STR
#undef SWATTN_STR2
}

SWATTN_API uint32_t swattn_version_number(void) {
  return SWATTN_VERSION_NUMBER;
}

SWATTN_API int swattn_target_count(void) {
  try {
    return static_cast<int>(swattn::AvailableTargets().size());
  } catch (...) {
    return 0;
  }
}

SWATTN_API const char* swattn_target_name(int index) {
  try {
    const auto& targets = swattn::AvailableTargets();
    if (index < 0 || static_cast<size_t>(index) >= targets.size()) return nullptr;
    return targets[static_cast<size_t>(index)].name;
  } catch (...) {
    return nullptr;
  }
}

SWATTN_API const char* swattn_active_target(void) {
  try {
    std::string error;
    const swattn::Target* t = swattn::ActiveTarget(&error);
    return t != nullptr ? t->name : "";
  } catch (...) {
    return "";
  }
}

SWATTN_API swattn_status swattn_set_target(const char* name) {
  return Guard([&] {
    std::string error;
    if (!swattn::SetActiveTarget(name, &error)) {
      return swattn::Fail(SWATTN_ERROR_UNSUPPORTED, error);
    }
    return SWATTN_OK;
  });
}

SWATTN_API const char* swattn_last_forward_target(void) {
  return swattn::t_last_target;
}

}  // extern "C"
