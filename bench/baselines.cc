// Baselines; see baselines.h. Written the way a user would write them: plain
// loops, float32, no hand vectorisation, no threads.
#include "baselines.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

namespace swattn_bench {
namespace {

float Scale(const BaselineShape& s) {
  return s.scale != 0.0f ? s.scale
                         : 1.0f / std::sqrt(static_cast<float>(s.dim));
}

// First and last visible key of query i (last < first when none).
void WindowOf(const BaselineShape& s, int64_t i, int64_t* first,
              int64_t* last) {
  *first = s.left < 0 ? 0 : std::max<int64_t>(0, i - s.left);
  *last = s.right < 0 ? s.seq - 1 : std::min<int64_t>(s.seq - 1, i + s.right);
}

}  // namespace

void NaiveWindowAttention(const BaselineShape& s, const float* q,
                          const float* k, const float* v, float* out) {
  const int64_t n = s.seq, h_count = s.heads, d = s.dim;
  const int64_t group = s.heads / s.kv_heads;
  const float scale = Scale(s);
  // Strides of the contiguous [B, N, H, D] and [B, N, Hkv, D] layouts.
  const int64_t q_seq = h_count * d, kv_seq = s.kv_heads * d;
  std::vector<float> scores;
  for (int64_t b = 0; b < s.batch; ++b) {
    for (int64_t h = 0; h < h_count; ++h) {
      const int64_t hk = h / group;
      const float* kb = k + b * n * kv_seq + hk * d;
      const float* vb = v + b * n * kv_seq + hk * d;
      for (int64_t i = 0; i < n; ++i) {
        const float* qi = q + (b * n + i) * q_seq + h * d;
        float* oi = out + (b * n + i) * q_seq + h * d;
        int64_t first, last;
        WindowOf(s, i, &first, &last);
        if (last < first) {
          std::fill(oi, oi + d, 0.0f);
          continue;
        }
        // Scores over the window and their max.
        scores.resize(static_cast<size_t>(last - first + 1));
        float max_score = -std::numeric_limits<float>::infinity();
        for (int64_t j = first; j <= last; ++j) {
          const float* kj = kb + j * kv_seq;
          float dot = 0.0f;
          for (int64_t c = 0; c < d; ++c) dot += qi[c] * kj[c];
          const float score = dot * scale;
          scores[j - first] = score;
          max_score = std::max(max_score, score);
        }
        // exp and sum.
        float sum = 0.0f;
        for (float& score : scores) {
          score = std::exp(score - max_score);
          sum += score;
        }
        // Weighted sum of V.
        std::fill(oi, oi + d, 0.0f);
        for (int64_t j = first; j <= last; ++j) {
          const float p = scores[j - first] / sum;
          const float* vj = vb + j * kv_seq;
          for (int64_t c = 0; c < d; ++c) oi[c] += p * vj[c];
        }
      }
    }
  }
}

void DenseMaskedAttention(const BaselineShape& s, const float* q,
                          const float* k, const float* v, float* out) {
  const int64_t n = s.seq, h_count = s.heads, d = s.dim;
  const int64_t group = s.heads / s.kv_heads;
  const float scale = Scale(s);
  const int64_t q_seq = h_count * d, kv_seq = s.kv_heads * d;
  const float neg_inf = -std::numeric_limits<float>::infinity();
  // The N x N score matrix, and K transposed to [D, N] so that the score
  // loop runs along contiguous rows (a vectorisable axpy per q element).
  std::vector<float> p(static_cast<size_t>(n) * static_cast<size_t>(n));
  std::vector<float> kt(static_cast<size_t>(d) * static_cast<size_t>(n));
  for (int64_t b = 0; b < s.batch; ++b) {
    for (int64_t h = 0; h < h_count; ++h) {
      const int64_t hk = h / group;
      const float* kb = k + b * n * kv_seq + hk * d;
      const float* vb = v + b * n * kv_seq + hk * d;
      for (int64_t j = 0; j < n; ++j) {
        for (int64_t c = 0; c < d; ++c) kt[c * n + j] = kb[j * kv_seq + c];
      }
      for (int64_t i = 0; i < n; ++i) {
        const float* qi = q + (b * n + i) * q_seq + h * d;
        float* row = p.data() + i * n;
        // S[i, :] = scale * q_i K^T over every key.
        std::fill(row, row + n, 0.0f);
        for (int64_t c = 0; c < d; ++c) {
          const float qc = qi[c] * scale;
          const float* ktc = kt.data() + c * n;
          for (int64_t j = 0; j < n; ++j) row[j] += qc * ktc[j];
        }
        // The mask: -inf outside the window.
        int64_t first, last;
        WindowOf(s, i, &first, &last);
        for (int64_t j = 0; j < n; ++j) {
          if (j < first || j > last) row[j] = neg_inf;
        }
        // Row softmax; an all-masked row becomes zeros, not NaN.
        float max_score = neg_inf;
        for (int64_t j = 0; j < n; ++j) max_score = std::max(max_score, row[j]);
        if (max_score == neg_inf) {
          std::fill(row, row + n, 0.0f);
          continue;
        }
        float sum = 0.0f;
        for (int64_t j = 0; j < n; ++j) {
          row[j] = std::exp(row[j] - max_score);
          sum += row[j];
        }
        const float inv = 1.0f / sum;
        for (int64_t j = 0; j < n; ++j) row[j] *= inv;
      }
      // out = P V, every key of every row.
      for (int64_t i = 0; i < n; ++i) {
        const float* row = p.data() + i * n;
        float* oi = out + (b * n + i) * q_seq + h * d;
        std::fill(oi, oi + d, 0.0f);
        for (int64_t j = 0; j < n; ++j) {
          const float pj = row[j];
          const float* vj = vb + j * kv_seq;
          for (int64_t c = 0; c < d; ++c) oi[c] += pj * vj[c];
        }
      }
    }
  }
}

}  // namespace swattn_bench
