/* The weight gradient of a (dilated) depthwise 2-d convolution on channels-last tensors, as
   one pass over the rows of the output gradient (faconv/functional/depthwise.py calls it; the
   eager form is one multiply-and-reduce per kernel tap over the whole tensor):

     gw[c][i][j] = sum over b, y, x of  xp[b][y + i d][x + j d][c] * g[b][y][x][c]

   xp (B, Hp, Wp, C) is the padded input and g (B, Ho, Wo, C) the output gradient, both
   row-major float32; gw (C, kh, kw) must be zero on entry. Each thread sums its rows into its
   own partial, and the partials are added in thread order (deterministic). */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "vec8.h"

#define MAXK 8 /* kernel widths up to this run the vector path */

void faconv_depthwise_weight_grad(int64_t B, int64_t Hp, int64_t Wp, int64_t C, int64_t Ho,
                                  int64_t Wo, int64_t kh, int64_t kw, int64_t d, const float* xp,
                                  const float* g, float* gw, int threads) {
  const int64_t taps = kh * kw, rows = B * Ho, stride = taps * C;
  if (threads < 1) threads = 1;
  float* part = (float*)calloc((size_t)(threads * stride), sizeof(float));
#pragma omp parallel num_threads(threads)
  {
#ifdef _OPENMP
    float* acc = part + omp_get_thread_num() * stride; /* [tap][c] */
#else
    float* acc = part;
#endif
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t b = r / Ho, y = r % Ho;
      const float* grow = g + r * Wo * C;
      for (int64_t i = 0; i < kh; ++i) {
        const float* xrow = xp + ((b * Hp + y + i * d) * Wp) * C;
        float* ai = acc + i * kw * C;
        if (C % 8 == 0 && kw <= MAXK) {
          for (int64_t c0 = 0; c0 < C; c0 += 8) {
            v8f s[MAXK];
            for (int64_t j = 0; j < kw; ++j) s[j] = ld8(ai + j * C + c0);
            for (int64_t x = 0; x < Wo; ++x) {
              const v8f gv = ld8(grow + x * C + c0);
              for (int64_t j = 0; j < kw; ++j) s[j] += ld8(xrow + (x + j * d) * C + c0) * gv;
            }
            for (int64_t j = 0; j < kw; ++j) st8(ai + j * C + c0, s[j]);
          }
        } else {
          for (int64_t j = 0; j < kw; ++j)
            for (int64_t x = 0; x < Wo; ++x)
              for (int64_t c = 0; c < C; ++c)
                ai[j * C + c] += xrow[(x + j * d) * C + c] * grow[x * C + c];
        }
      }
    }
  }
  for (int t = 0; t < threads; ++t)
    for (int64_t tap = 0; tap < taps; ++tap)
      for (int64_t c = 0; c < C; ++c) gw[c * taps + tap] += part[t * stride + tap * C + c];
  free(part);
}
