/* The fused 1x1-gate + peephole-LSTM step of faconv, as one pass per point on CPU.

   faconv.functional.native compiles this file with the system C compiler on first use
   (-O3 -march=native -fopenmp; no fast-math) and calls it through ctypes; without a compiler
   the eager PyTorch path runs instead. The maths is that of faconv/functional/fused_lstm.py:

     a = W s + b,  i = sig(a_i + w_ci c_prev),  f = sig(a_f + w_cf c_prev),  g = tanh(a_g),
     c = f c_prev + i g,  o = sig(a_o + w_co c),  h = o tanh(c)

   with tanh x = 2 sig(2x) - 1 and v = sig(-2c) kept (tanh c = 1 - 2v). Points run in blocks
   of PB so that each weight vector loaded serves PB points; the 4F pre-activations of a block
   never leave the L1 cache, and both OpenMP threads of torch's pool share the points.

   Layouts (row-major, float32): s (n, Cb); c_prev, h, c, v (n, F); Wt (Cb, 4F), the weight
   transposed; b (4F); pe (3F), peepholes [w_ci, w_cf, w_co] (zeros without them); gates
   (n, 4F), the activated [i, f, g, o] of each point, kept for the backward or NULL. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "vec8.h"

#define PB 8 /* points per block */

static inline v8f sel8(v8i m, v8f a, v8f b) { return (v8f)((m & (v8i)a) | (~m & (v8i)b)); }

/* exp(x): Cody-Waite reduction x = n ln2 + r, |r| <= ln2 / 2, a polynomial for exp(r)
   (Cephes' expf coefficients, ~1 ulp) and 2^n built in the exponent bits. Needs IEEE
   round-to-nearest and no fast-math (the rounding constant must not be folded away). */
static const float EXP_HI = 88.0f, EXP_LO = -87.0f, LOG2E = 1.44269504088896341f;
static const float LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
static const float P0 = 1.9875691500e-4f, P1 = 1.3981999507e-3f, P2 = 8.3334519073e-3f,
                   P3 = 4.1665795894e-2f, P4 = 1.6666665459e-1f, P5 = 5.0000001201e-1f;

static inline v8f vexp(v8f x) {
  const v8f hi = (v8f){0} + EXP_HI, lo = (v8f){0} + EXP_LO;
  x = sel8(x > hi, hi, x);
  x = sel8(x < lo, lo, x);
  /* x log2(e) + 1.5 * 2^23 rounds to the nearest integer n, left in the low mantissa bits */
  const v8f magic = (v8f){0} + 12582912.0f;
  const v8f y = x * LOG2E + magic;
  const v8f nf = y - magic;
  const v8f r = (x - nf * LN2_HI) - nf * LN2_LO;
  v8f p = (v8f){0} + P0;
  p = p * r + P1;
  p = p * r + P2;
  p = p * r + P3;
  p = p * r + P4;
  p = p * r + P5;
  p = p * r * r + r + 1.0f;
  return p * (v8f)(((v8i)y - 0x4B400000 + 127) << 23);
}

static inline v8f vsigm(v8f x) { return 1.0f / (1.0f + vexp(-x)); }

/* the scalar form of vsigm, for the last F % 8 channels */
static inline float sigm(float x) {
  float v[8] = {x}, out[8];
  st8(out, vsigm(ld8(v)));
  return out[0];
}

/* a[p][0:G) = b + s[p] . Wt for np <= PB points */
static void project(const float* restrict s, int np, const float* restrict Wt,
                    const float* restrict b, float* restrict a, int64_t Cb, int64_t G) {
  if (np == PB && G % 8 == 0) {
    for (int64_t j0 = 0; j0 < G; j0 += 8) {
      const v8f bj = ld8(b + j0);
      v8f acc[PB];
      for (int p = 0; p < PB; ++p) acc[p] = bj;
      for (int64_t k = 0; k < Cb; ++k) {
        const v8f w = ld8(Wt + k * G + j0);
        for (int p = 0; p < PB; ++p) acc[p] += s[p * Cb + k] * w;
      }
      for (int p = 0; p < PB; ++p) st8(a + p * G + j0, acc[p]);
    }
    return;
  }
  for (int p = 0; p < np; ++p) {
    float* ap = a + p * G;
    for (int64_t j = 0; j < G; ++j) ap[j] = b[j];
    for (int64_t k = 0; k < Cb; ++k) {
      const float sk = s[p * Cb + k];
      const float* w = Wt + k * G;
      for (int64_t j = 0; j < G; ++j) ap[j] += sk * w[j];
    }
  }
}

/* one point: pre-activations a (4F) -> activated [i, f, g, o] in place, c_t and v = sig(-2c) */
static void activate(float* restrict a, const float* restrict cp, const float* restrict pe,
                     float* restrict c, float* restrict v, int64_t F) {
  float *ai = a, *af = a + F, *ag = a + 2 * F, *ao = a + 3 * F;
  int64_t j = 0;
  for (; j + 8 <= F; j += 8) {
    const v8f cpj = ld8(cp + j);
    const v8f i = vsigm(ld8(ai + j) + ld8(pe + j) * cpj);
    const v8f f = vsigm(ld8(af + j) + ld8(pe + F + j) * cpj);
    const v8f g = 2.0f * vsigm(2.0f * ld8(ag + j)) - 1.0f;
    const v8f cj = f * cpj + i * g;
    const v8f o = vsigm(ld8(ao + j) + ld8(pe + 2 * F + j) * cj);
    st8(ai + j, i);
    st8(af + j, f);
    st8(ag + j, g);
    st8(ao + j, o);
    st8(c + j, cj);
    st8(v + j, vsigm(-2.0f * cj));
  }
  for (; j < F; ++j) {
    const float i = sigm(ai[j] + pe[j] * cp[j]);
    const float f = sigm(af[j] + pe[F + j] * cp[j]);
    const float g = 2.0f * sigm(2.0f * ag[j]) - 1.0f;
    const float cj = f * cp[j] + i * g;
    const float o = sigm(ao[j] + pe[2 * F + j] * cj);
    ai[j] = i;
    af[j] = f;
    ag[j] = g;
    ao[j] = o;
    c[j] = cj;
    v[j] = sigm(-2.0f * cj);
  }
}

/* h, c (and, when gates != NULL, the activated gates and v) of n points */
void faconv_gate_forward(int64_t n, int64_t Cb, int64_t F, const float* s, const float* cp,
                         const float* Wt, const float* b, const float* pe, float* h, float* c,
                         float* gates, float* vs, int threads) {
  const int64_t G = 4 * F, nb = (n + PB - 1) / PB;
#pragma omp parallel num_threads(threads)
  {
    float* abuf = gates ? NULL : (float*)malloc(sizeof(float) * PB * G);
    float* vbuf = vs ? NULL : (float*)malloc(sizeof(float) * PB * F);
#pragma omp for schedule(static)
    for (int64_t blk = 0; blk < nb; ++blk) {
      const int64_t p0 = blk * PB;
      const int np = (int)(n - p0 < PB ? n - p0 : PB);
      float* a = gates ? gates + p0 * G : abuf;
      float* v = vs ? vs + p0 * F : vbuf;
      project(s + p0 * Cb, np, Wt, b, a, Cb, G);
      for (int p = 0; p < np; ++p) {
        float* ap = a + p * G;
        float* vp = v + p * F;
        activate(ap, cp + (p0 + p) * F, pe, c + (p0 + p) * F, vp, F);
        const float* o = ap + 3 * F;
        float* hp = h + (p0 + p) * F;
        for (int64_t j = 0; j < F; ++j) hp[j] = o[j] - 2.0f * o[j] * vp[j]; /* o tanh c */
      }
    }
    free(abuf);
    free(vbuf);
  }
}

/* the gradients of one point's pre-activations (da, 4F) and of c_prev, accumulating the
   peephole gradient into lp */
static void point_backward(const float* restrict a, const float* restrict v,
                           const float* restrict cp, const float* restrict ct,
                           const float* restrict gh, const float* restrict gc,
                           const float* restrict pe, float* restrict da, float* restrict dcp,
                           float* restrict lp, int64_t F) {
  const float *gi = a, *gf = a + F, *gg = a + 2 * F, *go = a + 3 * F;
  float *dai = da, *daf = da + F, *dag = da + 2 * F, *dao = da + 3 * F;
  int64_t j = 0;
  for (; j + 8 <= F; j += 8) {
    const v8f th = 1.0f - 2.0f * ld8(v + j), o = ld8(go + j), i = ld8(gi + j);
    const v8f f = ld8(gf + j), g = ld8(gg + j), ghj = ld8(gh + j), cpj = ld8(cp + j);
    const v8f d_o = ghj * th * o * (1.0f - o);
    const v8f dc = ld8(gc + j) + ghj * o * (1.0f - th * th) + d_o * ld8(pe + 2 * F + j);
    const v8f d_i = dc * g * i * (1.0f - i);
    const v8f d_f = dc * cpj * f * (1.0f - f);
    st8(dcp + j, dc * f + d_i * ld8(pe + j) + d_f * ld8(pe + F + j));
    st8(lp + j, ld8(lp + j) + d_i * cpj);
    st8(lp + F + j, ld8(lp + F + j) + d_f * cpj);
    st8(lp + 2 * F + j, ld8(lp + 2 * F + j) + d_o * ld8(ct + j));
    st8(dai + j, d_i);
    st8(daf + j, d_f);
    st8(dag + j, dc * i * (1.0f - g * g));
    st8(dao + j, d_o);
  }
  for (; j < F; ++j) {
    const float th = 1.0f - 2.0f * v[j], o = go[j], i = gi[j], f = gf[j], g = gg[j];
    const float d_o = gh[j] * th * o * (1.0f - o);
    const float dc = gc[j] + gh[j] * o * (1.0f - th * th) + d_o * pe[2 * F + j];
    const float d_i = dc * g * i * (1.0f - i);
    const float d_f = dc * cp[j] * f * (1.0f - f);
    dcp[j] = dc * f + d_i * pe[j] + d_f * pe[F + j];
    lp[j] += d_i * cp[j];
    lp[F + j] += d_f * cp[j];
    lp[2 * F + j] += d_o * ct[j];
    dai[j] = d_i;
    daf[j] = d_f;
    dag[j] = dc * i * (1.0f - g * g);
    dao[j] = d_o;
  }
}

/* ds, dc_prev and the summed dWt (Cb, 4F), db, dpe of n points; the gates come from `gates`
   and `vs` (kept by the forward) or, when gates == NULL, are recomputed exactly as the
   forward computed them. dWt, db and dpe must be zero on entry. Each thread sums its points
   into its own partial; the partials are added in thread order, so a run is deterministic. */
void faconv_gate_backward(int64_t n, int64_t Cb, int64_t F, const float* s, const float* cp,
                          const float* c, const float* Wt, const float* b, const float* pe,
                          const float* gates, const float* vs, const float* gh, const float* gc,
                          float* ds, float* dcp, float* dWt, float* db, float* dpe,
                          int threads) {
  const int64_t G = 4 * F, nb = (n + PB - 1) / PB, stride = Cb * G + G + 3 * F;
  if (threads < 1) threads = 1;
  float* part = (float*)calloc((size_t)(threads * stride), sizeof(float));
#pragma omp parallel num_threads(threads)
  {
#ifdef _OPENMP
    const int tid = omp_get_thread_num();
#else
    const int tid = 0;
#endif
    float* abuf = gates ? NULL : (float*)malloc(sizeof(float) * PB * G);
    float* vbuf = gates ? NULL : (float*)malloc(sizeof(float) * PB * F);
    float* cbuf = gates ? NULL : (float*)malloc(sizeof(float) * F);
    float* da = (float*)malloc(sizeof(float) * PB * G);
    float* lw = part + tid * stride; /* this thread's partial dWt, db, dpe */
    float* lb = lw + Cb * G;
    float* lp = lb + G;
#pragma omp for schedule(static)
    for (int64_t blk = 0; blk < nb; ++blk) {
      const int64_t p0 = blk * PB;
      const int np = (int)(n - p0 < PB ? n - p0 : PB);
      const float *a, *v;
      if (gates) {
        a = gates + p0 * G;
        v = vs + p0 * F;
      } else {
        project(s + p0 * Cb, np, Wt, b, abuf, Cb, G);
        for (int p = 0; p < np; ++p)
          activate(abuf + p * G, cp + (p0 + p) * F, pe, cbuf, vbuf + p * F, F);
        a = abuf;
        v = vbuf;
      }
      for (int p = 0; p < np; ++p) {
        const int64_t q = (p0 + p) * F;
        float* dap = da + p * G;
        point_backward(a + p * G, v + p * F, cp + q, c + q, gh + q, gc + q, pe, dap, dcp + q, lp,
                       F);
        for (int64_t j = 0; j < G; ++j) lb[j] += dap[j];
      }
      const float* sb = s + p0 * Cb;
      if (np == PB && G % 8 == 0) {
        for (int64_t k = 0; k < Cb; ++k) { /* ds[p][k] = da[p] . Wt[k] */
          v8f acc[PB];
          for (int p = 0; p < PB; ++p) acc[p] = (v8f){0};
          for (int64_t j0 = 0; j0 < G; j0 += 8) {
            const v8f w = ld8(Wt + k * G + j0);
            for (int p = 0; p < PB; ++p) acc[p] += ld8(da + p * G + j0) * w;
          }
          for (int p = 0; p < PB; ++p) {
            const v8f x = acc[p];
            ds[(p0 + p) * Cb + k] =
                ((x[0] + x[4]) + (x[1] + x[5])) + ((x[2] + x[6]) + (x[3] + x[7]));
          }
        }
        for (int64_t k = 0; k < Cb; ++k) { /* dWt[k] += sum_p s[p][k] da[p] */
          float* lwk = lw + k * G;
          int64_t j0 = 0;
          for (; j0 + 64 <= G; j0 += 64) { /* 8 independent sums hide the FMA latency */
            v8f acc[8];
            for (int u = 0; u < 8; ++u) acc[u] = ld8(lwk + j0 + 8 * u);
            for (int p = 0; p < PB; ++p) {
              const float sk = sb[p * Cb + k];
              for (int u = 0; u < 8; ++u) acc[u] += sk * ld8(da + p * G + j0 + 8 * u);
            }
            for (int u = 0; u < 8; ++u) st8(lwk + j0 + 8 * u, acc[u]);
          }
          for (; j0 < G; j0 += 8) {
            v8f acc = ld8(lwk + j0);
            for (int p = 0; p < PB; ++p) acc += sb[p * Cb + k] * ld8(da + p * G + j0);
            st8(lwk + j0, acc);
          }
        }
      } else {
        for (int p = 0; p < np; ++p)
          for (int64_t k = 0; k < Cb; ++k) {
            float acc = 0.0f;
            for (int64_t j = 0; j < G; ++j) acc += da[p * G + j] * Wt[k * G + j];
            ds[(p0 + p) * Cb + k] = acc;
          }
        for (int64_t k = 0; k < Cb; ++k) {
          float* lwk = lw + k * G;
          for (int p = 0; p < np; ++p) {
            const float sk = sb[p * Cb + k];
            for (int64_t j = 0; j < G; ++j) lwk[j] += sk * da[p * G + j];
          }
        }
      }
    }
    free(abuf);
    free(vbuf);
    free(cbuf);
    free(da);
  }
  for (int t = 0; t < threads; ++t) {
    const float* lw = part + t * stride;
    for (int64_t x = 0; x < Cb * G; ++x) dWt[x] += lw[x];
    for (int64_t x = 0; x < G; ++x) db[x] += lw[Cb * G + x];
    for (int64_t x = 0; x < 3 * F; ++x) dpe[x] += lw[Cb * G + G + x];
  }
  free(part);
}
