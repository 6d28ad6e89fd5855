/* hello.c: swattn from pure C99.
 *
 * The reference problem, sparse_window_attention(Q, K, V, window_size), on a
 * tiny sequence, then the same inputs through swattn_forward with a causal
 * sliding window (each query sees itself and the `window` keys before it),
 * checked against a few lines of plain C. Every call's status is checked and
 * swattn_last_error() tells what went wrong. */
#include <math.h>
#include <stdio.h>

#include "swattn/swattn.h"

enum { kSeq = 8, kDim = 4, kWindow = 2 };

/* A [1, kSeq, 1, kDim] contiguous view of `data`. */
static swattn_tensor View(float* data) {
  swattn_tensor t;
  t.data = data;
  t.dtype = SWATTN_DTYPE_F32;
  t.batch = 1;
  t.seq = kSeq;
  t.heads = 1;
  t.dim = kDim;
  t.stride_batch = kSeq * kDim;
  t.stride_seq = kDim;
  t.stride_head = kDim;
  return t;
}

static int Check(swattn_status status, const char* what) {
  if (status != SWATTN_OK) {
    fprintf(stderr, "%s failed: %s: %s\n", what, swattn_status_string(status),
            swattn_last_error());
    return 1;
  }
  return 0;
}

int main(void) {
  float q[kSeq * kDim], k[kSeq * kDim], v[kSeq * kDim];
  float out[kSeq * kDim], causal[kSeq * kDim];
  swattn_options options;
  swattn_tensor tq, tk, tv, tout;
  float scale, max_err = 0.0f;
  int i, j, c;

  for (i = 0; i < kSeq * kDim; ++i) {
    q[i] = sinf(0.7f * (float)i);
    k[i] = cosf(0.3f * (float)i);
    v[i] = (float)(i % 5) - 2.0f;
  }
  printf("swattn %s, target %s\n", swattn_version_string(),
         swattn_active_target());

  /* 1. The reference problem: symmetric window, scale 1/sqrt(d_k). */
  if (Check(swattn_sparse_window_attention_f32(q, k, v, out, kSeq, kDim, kDim,
                                               kWindow, 0.0f),
            "swattn_sparse_window_attention_f32")) {
    return 1;
  }
  printf("symmetric window %d, out[0] = %.4f %.4f %.4f %.4f\n", kWindow, out[0],
         out[1], out[2], out[3]);

  /* 2. A causal sliding window through the general entry point. */
  swattn_options_init(&options);
  options.window_left = kWindow; /* kWindow keys back ... */
  options.window_right = 0;      /* ... and none ahead */
  tq = View(q);
  tk = View(k);
  tv = View(v);
  tout = View(causal);
  if (Check(swattn_forward(&options, &tq, &tk, &tv, &tout, NULL),
            "swattn_forward")) {
    return 1;
  }

  /* The same in plain C: softmax over keys i - kWindow .. i. */
  scale = 1.0f / sqrtf((float)kDim);
  for (i = 0; i < kSeq; ++i) {
    int first = i - kWindow < 0 ? 0 : i - kWindow;
    float s[kWindow + 1], m = -INFINITY, sum = 0.0f;
    for (j = first; j <= i; ++j) {
      float dot = 0.0f;
      for (c = 0; c < kDim; ++c) dot += q[i * kDim + c] * k[j * kDim + c];
      s[j - first] = dot * scale;
      if (s[j - first] > m) m = s[j - first];
    }
    for (j = first; j <= i; ++j) {
      s[j - first] = expf(s[j - first] - m);
      sum += s[j - first];
    }
    for (c = 0; c < kDim; ++c) {
      float o = 0.0f, err;
      for (j = first; j <= i; ++j) o += s[j - first] / sum * v[j * kDim + c];
      err = fabsf(o - causal[i * kDim + c]);
      if (err > max_err) max_err = err;
    }
  }
  printf("causal window (%d, 0), out[%d] = %.4f %.4f %.4f %.4f\n", kWindow,
         kSeq - 1, causal[(kSeq - 1) * kDim], causal[(kSeq - 1) * kDim + 1],
         causal[(kSeq - 1) * kDim + 2], causal[(kSeq - 1) * kDim + 3]);
  printf("max |swattn - plain C| = %.2e (%s)\n", max_err,
         max_err < 1e-5f ? "ok" : "MISMATCH");

  /* 3. Errors are statuses with a message, never a crash: Dv must match. */
  tout.dim = kDim - 1;
  if (swattn_forward(&options, &tq, &tk, &tv, &tout, NULL) != SWATTN_OK) {
    printf("a deliberately bad call says: %s\n", swattn_last_error());
  }
  return max_err < 1e-5f ? 0 : 1;
}
