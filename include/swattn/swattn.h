/* swattn: sliding-window (banded) attention on CPUs.
 *
 * The stable C ABI. Pure C99; every type and value here is append-only: new
 * status codes, dtypes, options fields and functions may be added at the end,
 * nothing is ever renumbered or removed.
 *
 * Semantics. Tensors are [batch, seq, heads, dim] views with element strides
 * (the dim stride is 1). Query i sits at key position p = i + query_offset
 * and sees keys max(0, p - left) <= j <= min(Nk - 1, p + right); a radius of
 * -1 is unbounded on that side. Scores are scale * q.k (scale defaults to
 * 1/sqrt(dim)), the softmax subtracts the row maximum, and
 * out[i] = sum_j softmax_j * v[j]. A query whose window is empty gets out = 0
 * and lse = -inf. Query head h reads key/value head h / (H / Hkv).
 * Results are bitwise identical for any number of threads.
 *
 * Errors. Every function validates its arguments, never lets a C++ exception
 * escape and, on failure, returns a status, leaves every output untouched and
 * records a message for swattn_last_error().
 */
#ifndef SWATTN_SWATTN_H_
#define SWATTN_SWATTN_H_

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32) && defined(SWATTN_SHARED)
#if defined(SWATTN_BUILDING)
#define SWATTN_API __declspec(dllexport)
#else
#define SWATTN_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) && (defined(SWATTN_SHARED) || defined(SWATTN_BUILDING))
#define SWATTN_API __attribute__((visibility("default")))
#else
#define SWATTN_API
#endif

#define SWATTN_VERSION_MAJOR 0
#define SWATTN_VERSION_MINOR 1
#define SWATTN_VERSION_PATCH 0
/* MAJOR * 10000 + MINOR * 100 + PATCH; compare with swattn_version_number()
 * to detect a header/library mismatch. */
#define SWATTN_VERSION_NUMBER                                   \
  (SWATTN_VERSION_MAJOR * 10000 + SWATTN_VERSION_MINOR * 100 + \
   SWATTN_VERSION_PATCH)

#ifdef __cplusplus
extern "C" {
#endif

typedef enum swattn_status {
  SWATTN_OK = 0,
  SWATTN_ERROR_INVALID_ARGUMENT = 1, /* a bad argument; nothing was written */
  SWATTN_ERROR_UNSUPPORTED = 2,      /* valid, but not available here */
  SWATTN_ERROR_OUT_OF_MEMORY = 3,    /* scratch could not be allocated */
  SWATTN_ERROR_INTERNAL = 4          /* a bug in swattn; please report it */
} swattn_status;

typedef enum swattn_dtype {
  SWATTN_DTYPE_F32 = 0 /* more dtypes later */
} swattn_dtype;

/* A [batch, seq, heads, dim] view. Strides are in elements; the dim stride is
 * 1. Strides may be any non-negative values (0 broadcasts) as long as the
 * byte offset of every element fits in int64. An output's elements must not
 * overlap: ordered by stride, each axis with more than one element needs a
 * stride of at least dim plus stride * (size - 1) of every axis before it.
 * Sizes are in [1, 2^59]; data is non-NULL and aligned to 4 bytes. */
typedef struct swattn_tensor {
  void* data;
  swattn_dtype dtype;
  int64_t batch, seq, heads, dim;
  int64_t stride_batch, stride_seq, stride_head;
} swattn_tensor;

typedef struct swattn_options {
  uint32_t struct_size;              /* set by swattn_options_init */
  int64_t window_left, window_right; /* radii in positions; -1 = unbounded */
  float scale;                       /* 0 = 1/sqrt(dim) */
  int64_t query_offset;              /* key position of query 0; see below */
  int32_t num_threads;               /* 0 or more than available = all available */
} swattn_options;

/* query_offset takes this value to mean "Nk - Nq" (queries aligned to the end
 * of the keys, as in decoding); swattn_options_init sets it. */
#define SWATTN_QUERY_OFFSET_DEFAULT INT64_MIN

/* Fills *options with defaults: struct_size = sizeof(swattn_options), dense
 * attention (-1, -1), default scale and offset, all threads. Accepts NULL.
 * Thread-safe. */
SWATTN_API void swattn_options_init(swattn_options* options);

/* Attention over a sliding window: q [B, Nq, H, D], k [B, Nk, Hkv, D],
 * v [B, Nk, Hkv, Dv], out [B, Nq, H, Dv]; lse is NULL or a contiguous,
 * 4-byte aligned float [B, H, Nq] that receives the natural log of each
 * softmax denominator (scores included). The address ranges of out and lse
 * may not meet those of q, k, v or each other. |query_offset| is at most 2^59.
 * The SIMD kernels work in base 2, so |scale| is at most FLT_MAX / log2(e),
 * about 2.36e38, and a row with a score above that gets NaN.
 * Thread-safe: concurrent calls with distinct outputs are fine. Each calling
 * thread keeps its scratch (at most 16 MiB) for its next call; the thread's
 * exit frees it. Large outputs whose rows are whole 64-byte aligned cache
 * lines are written with non-temporal stores. */
SWATTN_API swattn_status swattn_forward(const swattn_options* options,
                                        const swattn_tensor* q,
                                        const swattn_tensor* k,
                                        const swattn_tensor* v,
                                        swattn_tensor* out, float* lse);

/* The 2-D reference problem: contiguous q, k [seq_len, d_k], v [seq_len, d_v],
 * out [seq_len, d_v], symmetric radius window_size (left = right). A
 * scale_factor of 0 means 1/sqrt(d_k). Thread-safe. */
SWATTN_API swattn_status swattn_sparse_window_attention_f32(
    const float* q, const float* k, const float* v, float* out,
    int64_t seq_len, int64_t d_k, int64_t d_v, int64_t window_size,
    float scale_factor);

/* A static description of a status; never NULL. Thread-safe. */
SWATTN_API const char* swattn_status_string(swattn_status status);

/* Why this thread's most recent status-returning call failed (which argument,
 * which rule), or "" if it succeeded. Valid until this thread's next such
 * call. Thread-safe. */
SWATTN_API const char* swattn_last_error(void);

SWATTN_API const char* swattn_version_string(void); /* "0.1.0" */
SWATTN_API uint32_t swattn_version_number(void);    /* SWATTN_VERSION_NUMBER */

/* Targets this build and this CPU can run, best first; "scalar" is always
 * last. Names: "avx512", "avx2", "sve2", "sve", "neon", "scalar".
 * swattn_target_name returns NULL for an index out of range. Thread-safe. */
SWATTN_API int swattn_target_count(void);
SWATTN_API const char* swattn_target_name(int index);

/* The target forward calls use now; "" while a bad SWATTN_TARGET is in force.
 * Thread-safe. */
SWATTN_API const char* swattn_active_target(void);

/* Forces a target by name for the whole process; NULL or "" selects the best.
 * An unknown name, or one this CPU cannot run, returns
 * SWATTN_ERROR_UNSUPPORTED and changes nothing. The environment variable
 * SWATTN_TARGET, read once at the first call, does the same: a bad value there
 * makes forward calls fail until swattn_set_target is called. Thread-safe;
 * calls already running finish on the target they started with. */
SWATTN_API swattn_status swattn_set_target(const char* name);

/* The target that computed this thread's last successful forward call, or ""
 * if none has succeeded yet. Lets callers and tests check that a forced
 * target really ran. Thread-safe. */
SWATTN_API const char* swattn_last_forward_target(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* SWATTN_SWATTN_H_ */
