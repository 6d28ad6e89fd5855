/* A consumer of an installed (or embedded) swattn, in pure C99: proves that
 * the public header is C and that the library links and runs from outside
 * the build tree. Used by every package test (find_package, add_subdirectory,
 * pkg-config).
 *
 * Checks: the header and library versions agree; the reference problem's
 * example (Q = K = [[1],[1],[1]], V = [[1],[2],[3]], window 1 gives
 * [[1.5],[2.0],[2.5]]); and swattn_forward on a small GQA problem with an
 * asymmetric window against a naive double-precision loop. Exit status 0
 * means every check passed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swattn/swattn.h"

static int failures = 0;

static void check(int ok, const char* what) {
  if (!ok) {
    fprintf(stderr, "FAILED: %s\n", what);
    ++failures;
  }
}

static int check_status(swattn_status s, const char* what) {
  if (s != SWATTN_OK) {
    fprintf(stderr, "FAILED: %s: %s (%s)\n", what, swattn_status_string(s),
            swattn_last_error());
    ++failures;
    return 0;
  }
  return 1;
}

static void reference_example(void) {
  const float q[3] = {1.0f, 1.0f, 1.0f};
  const float v[3] = {1.0f, 2.0f, 3.0f};
  const float expected[3] = {1.5f, 2.0f, 2.5f};
  float out[3] = {0.0f, 0.0f, 0.0f};
  int i;
  if (!check_status(swattn_sparse_window_attention_f32(q, q, v, out, 3, 1, 1,
                                                       1, 0.0f),
                    "swattn_sparse_window_attention_f32"))
    return;
  for (i = 0; i < 3; ++i) {
    printf("reference example: out[%d] = %.6f (expected %.1f)\n", i,
           (double)out[i], (double)expected[i]);
    check(fabs((double)out[i] - (double)expected[i]) < 1e-5,
          "reference example value");
  }
}

/* B = 2, Nq = Nk = 19, H = 4, Hkv = 2, D = 7, Dv = 5, window (3, 1). */
enum { B = 2, N = 19, H = 4, HKV = 2, D = 7, DV = 5 };

static void forward_vs_naive(void) {
  static float q[B * N * H * D], k[B * N * HKV * D], v[B * N * HKV * DV];
  static float out[B * N * H * DV];
  const int64_t left = 3, right = 1;
  swattn_options opt;
  swattn_tensor tq, tk, tv, to;
  unsigned seed = 12345u;
  double max_err = 0.0;
  long bad = 0;
  size_t i;
  int b, n, h;

  for (i = 0; i < sizeof(q) / sizeof(q[0]); ++i) {
    seed = seed * 1664525u + 1013904223u;
    q[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
  }
  for (i = 0; i < sizeof(k) / sizeof(k[0]); ++i) {
    seed = seed * 1664525u + 1013904223u;
    k[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
  }
  for (i = 0; i < sizeof(v) / sizeof(v[0]); ++i) {
    seed = seed * 1664525u + 1013904223u;
    v[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
  }

  swattn_options_init(&opt);
  opt.window_left = left;
  opt.window_right = right;
  memset(&tq, 0, sizeof(tq));
  tq.data = q; tq.dtype = SWATTN_DTYPE_F32;
  tq.batch = B; tq.seq = N; tq.heads = H; tq.dim = D;
  tq.stride_batch = N * H * D; tq.stride_seq = H * D; tq.stride_head = D;
  tk = tq;
  tk.data = k; tk.heads = HKV;
  tk.stride_batch = N * HKV * D; tk.stride_seq = HKV * D; tk.stride_head = D;
  tv = tk;
  tv.data = v; tv.dim = DV;
  tv.stride_batch = N * HKV * DV; tv.stride_seq = HKV * DV; tv.stride_head = DV;
  to = tq;
  to.data = out; to.dim = DV;
  to.stride_batch = N * H * DV; to.stride_seq = H * DV; to.stride_head = DV;
  if (!check_status(swattn_forward(&opt, &tq, &tk, &tv, &to, NULL),
                    "swattn_forward"))
    return;

  for (b = 0; b < B; ++b)
    for (h = 0; h < H; ++h)
      for (n = 0; n < N; ++n) {
        const int kh = h / (H / HKV);
        const int lo = n - (int)left < 0 ? 0 : n - (int)left;
        const int hi = n + (int)right > N - 1 ? N - 1 : n + (int)right;
        double s[N], m = -INFINITY, l = 0.0, acc[DV] = {0};
        int j, d;
        for (j = lo; j <= hi; ++j) {
          double dot = 0.0;
          for (d = 0; d < D; ++d)
            dot += (double)q[((b * N + n) * H + h) * D + d] *
                   (double)k[((b * N + j) * HKV + kh) * D + d];
          s[j] = dot / sqrt((double)D);
          if (s[j] > m) m = s[j];
        }
        for (j = lo; j <= hi; ++j) {
          const double p = exp(s[j] - m);
          l += p;
          for (d = 0; d < DV; ++d)
            acc[d] += p * (double)v[((b * N + j) * HKV + kh) * DV + d];
        }
        for (d = 0; d < DV; ++d) {
          const double got = (double)out[((b * N + n) * H + h) * DV + d];
          const double err = fabs(got - acc[d] / l);
          if (!(err < 1e-4)) ++bad; /* NaN counts as an error */
          if (err > max_err) max_err = err;
        }
      }
  printf("forward vs naive: max abs error %.3g, %ld bad values, target %s\n",
         max_err, bad, swattn_last_forward_target());
  check(bad == 0, "swattn_forward against the naive loop");
}

int main(void) {
  int i;
  printf("swattn %s (header %d.%d.%d), active target %s, targets:",
         swattn_version_string(), SWATTN_VERSION_MAJOR, SWATTN_VERSION_MINOR,
         SWATTN_VERSION_PATCH, swattn_active_target());
  for (i = 0; i < swattn_target_count(); ++i)
    printf(" %s", swattn_target_name(i));
  printf("\n");
  check(swattn_version_number() == SWATTN_VERSION_NUMBER,
        "library version matches the header");
  check(swattn_target_count() >= 1, "at least one target");
  reference_example();
  forward_vs_naive();
  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("all checks passed\n");
  return 0;
}
