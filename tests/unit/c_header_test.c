/* The public header compiles as strict C99 (-pedantic -Werror) and the C ABI
 * works from C: the 2-D reference example, a 4-D forward call and an error.
 * Exits non-zero on the first failure. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <swattn/swattn.h>

static int g_failures = 0;

#define EXPECT(cond)                                                  \
  do {                                                                \
    if (!(cond)) {                                                    \
      fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #cond); \
      ++g_failures;                                                   \
    }                                                                 \
  } while (0)

static void TestReferenceExample(void) {
  const float q[3] = {1.0f, 1.0f, 1.0f};
  const float k[3] = {1.0f, 1.0f, 1.0f};
  const float v[3] = {1.0f, 2.0f, 3.0f};
  const float want[3] = {1.5f, 2.0f, 2.5f};
  float out[3] = {0.0f, 0.0f, 0.0f};
  int i;
  EXPECT(swattn_sparse_window_attention_f32(q, k, v, out, 3, 1, 1, 1, 0.0f) ==
         SWATTN_OK);
  for (i = 0; i < 3; ++i) EXPECT(fabs(out[i] - want[i]) <= 1e-6);
}

static void TestForward(void) {
  /* B = 1, N = 4, H = 2, Hkv = 1, D = Dv = 2, causal radius 1: with q = 0
   * every visible score is 0, so out is the mean of the visible values. */
  float q[16], k[8], v[8], out[16], lse[8];
  swattn_tensor tq, tk, tv, to;
  swattn_options options;
  int i, h, c;
  memset(q, 0, sizeof(q));
  for (i = 0; i < 8; ++i) {
    k[i] = (float)i;
    v[i] = (float)(i / 2); /* v[j] = (j, j) */
  }
  memset(&tq, 0, sizeof(tq));
  tq.data = q;
  tq.dtype = SWATTN_DTYPE_F32;
  tq.batch = 1;
  tq.seq = 4;
  tq.heads = 2;
  tq.dim = 2;
  tq.stride_batch = 16;
  tq.stride_seq = 4;
  tq.stride_head = 2;
  tk = tq;
  tk.data = k;
  tk.heads = 1;
  tk.stride_batch = 8;
  tk.stride_seq = 2;
  tv = tk;
  tv.data = v;
  to = tq;
  to.data = out;
  swattn_options_init(&options);
  EXPECT(options.struct_size == sizeof(swattn_options));
  EXPECT(options.query_offset == SWATTN_QUERY_OFFSET_DEFAULT);
  options.window_left = 1;
  options.window_right = 0;
  EXPECT(swattn_forward(&options, &tq, &tk, &tv, &to, lse) == SWATTN_OK);
  EXPECT(strlen(swattn_last_forward_target()) > 0);
  for (i = 0; i < 4; ++i) {
    const double mean = i == 0 ? 0.0 : i - 0.5;
    const double log_count = log(i == 0 ? 1.0 : 2.0);
    for (h = 0; h < 2; ++h) {
      for (c = 0; c < 2; ++c) EXPECT(fabs(out[i * 4 + h * 2 + c] - mean) <= 1e-6);
      EXPECT(fabs(lse[h * 4 + i] - log_count) <= 1e-6);
    }
  }

  /* A bad argument: a status, a message, nothing written. */
  out[0] = 12345.0f;
  options.window_left = -2;
  EXPECT(swattn_forward(&options, &tq, &tk, &tv, &to, lse) ==
         SWATTN_ERROR_INVALID_ARGUMENT);
  EXPECT(strlen(swattn_last_error()) > 0);
  EXPECT(out[0] == 12345.0f);
}

static void TestMetadata(void) {
  int n = swattn_target_count();
  EXPECT(n >= 1);
  EXPECT(n >= 1 && strcmp(swattn_target_name(n - 1), "scalar") == 0);
  EXPECT(swattn_target_name(n) == NULL);
  EXPECT(strcmp(swattn_version_string(), "0.1.0") == 0);
  EXPECT(swattn_version_number() == SWATTN_VERSION_NUMBER);
  EXPECT(swattn_status_string(SWATTN_ERROR_INTERNAL) != NULL);
  EXPECT(swattn_set_target("scalar") == SWATTN_OK);
  TestReferenceExample();
  EXPECT(swattn_set_target(NULL) == SWATTN_OK);
}

int main(void) {
  TestReferenceExample();
  TestForward();
  TestMetadata();
  if (g_failures != 0) {
    fprintf(stderr, "%d check(s) failed\n", g_failures);
    return 1;
  }
  printf("c_header_test: all checks passed\n");
  return 0;
}
