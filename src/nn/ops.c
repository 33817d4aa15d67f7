/* ops.c - forward and backward of ad3d's neural-network layers (see ops.h for shapes and conventions).
 *
 * Not here: the model (mae.c), memory management, threading beyond what OpenBLAS does inside sgemm.
 */
#include "nn/ops.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "common/status.h"

/* Loops bound by arithmetic rather than memory (GELU's erf and exp, the LayerNorm rows) are compiled
 * by GCC for AVX-512 and AVX2 as well, and one version is picked when the program loads
 * (target_clones, an ifunc). Each lane does the same IEEE operations (ISO C: no FMA contraction,
 * -ffp-contract=off), so every version gives the same bits. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define WIDE_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#define CLONE_INLINE __attribute__((always_inline)) inline /* helpers of the clones: compiled into each */
#else
#define WIDE_CLONES
#define CLONE_INLINE inline
#endif

/* Column reductions (sums over many rows, per channel) work on a block of COLBLOCK channels at a time,
 * reading one contiguous run of the block's channels per row. They add ROWBLOCK rows in float (loops
 * the compiler vectorises) and each such partial sum into a double total: the rounding error is that
 * of ROWBLOCK float additions plus the double total's, near double accuracy at float speed. */
#define COLBLOCK 512
#define ROWBLOCK 32

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* dst (C) += column sums of src (N, C). */
static void colsum_add(float *dst, const float *src, int64_t N, int C) {
  for (int c0 = 0; c0 < C; c0 += COLBLOCK) {
    int cn = C - c0 < COLBLOCK ? C - c0 : COLBLOCK;
    double acc[COLBLOCK] = {0};
    for (int64_t i0 = 0; i0 < N; i0 += ROWBLOCK) {
      float part[COLBLOCK] = {0};
      for (int64_t i = i0; i < min64(N, i0 + ROWBLOCK); i++) {
        const float *restrict row = src + (size_t)i * C + c0;
        for (int j = 0; j < cn; j++)
          part[j] += row[j];
      }
      for (int j = 0; j < cn; j++)
        acc[j] += part[j];
    }
    for (int j = 0; j < cn; j++)
      dst[c0 + j] += (float)acc[j];
  }
}

/* ---- linear ------------------------------------------------------------------------------------------ */

void linear_forward(float *out, const float *inp, const float *w, const float *b, int64_t N, int C, int OC) {
  ASSERT(N >= 0 && C > 0 && OC > 0);
  if (N == 0)
    return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, OC, C, 1.0f, inp, C, w, C, 0.0f, out, OC);
  if (b) {
    for (int64_t i = 0; i < N; i++) {
      float *row = out + (size_t)i * OC;
      for (int o = 0; o < OC; o++)
        row[o] += b[o];
    }
  }
}

void linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                     int64_t N, int C, int OC) {
  ASSERT(N >= 0 && C > 0 && OC > 0);
  if (N == 0)
    return;
  if (dinp)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, C, OC, 1.0f, dout, OC, w, C, 1.0f, dinp, C);
  if (dw)
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, (int)N, 1.0f, dout, OC, inp, C, 1.0f, dw, C);
  if (db)
    colsum_add(db, dout, N, OC);
}

void linear_forward_naive(float *out, const float *inp, const float *w, const float *b, int64_t N, int C, int OC) {
  for (int64_t i = 0; i < N; i++) {
    for (int o = 0; o < OC; o++) {
      double s = b ? b[o] : 0.0;
      for (int c = 0; c < C; c++)
        s += (double)inp[(size_t)i * C + c] * w[(size_t)o * C + c];
      out[(size_t)i * OC + o] = (float)s;
    }
  }
}

void linear_backward_naive(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                           int64_t N, int C, int OC) {
  if (dinp) {
    for (int64_t i = 0; i < N; i++) {
      for (int c = 0; c < C; c++) {
        double s = 0.0;
        for (int o = 0; o < OC; o++)
          s += (double)dout[(size_t)i * OC + o] * w[(size_t)o * C + c];
        dinp[(size_t)i * C + c] += (float)s;
      }
    }
  }
  if (dw) {
    for (int o = 0; o < OC; o++) {
      for (int c = 0; c < C; c++) {
        double s = 0.0;
        for (int64_t i = 0; i < N; i++)
          s += (double)dout[(size_t)i * OC + o] * inp[(size_t)i * C + c];
        dw[(size_t)o * C + c] += (float)s;
      }
    }
  }
  if (db) {
    for (int o = 0; o < OC; o++) {
      double s = 0.0;
      for (int64_t i = 0; i < N; i++)
        s += dout[(size_t)i * OC + o];
      db[o] += (float)s;
    }
  }
}

/* ---- concat + linear ------------------------------------------------------------------------------------ */

void concat_linear_forward(float *out, const float *g, const float *f, const float *w, const float *b, int64_t P,
                           int K, int Cg, int Cf, int OC) {
  ASSERT(P >= 0 && K > 0 && Cg > 0 && Cf > 0 && OC > 0);
  if (P == 0)
    return;
  const int ldw = Cg + Cf;
  /* the pooled half, once per patch, into the patch's first row: out[p, 0, :] = w[:, :Cg] g[p] + b */
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)P, OC, Cg, 1.0f, g, Cg, w, ldw, 0.0f, out, K * OC);
  for (int64_t p = 0; p < P; p++) {
    float *first = out + (size_t)p * K * OC;
    if (b)
      for (int o = 0; o < OC; o++)
        first[o] += b[o];
    for (int k = 1; k < K; k++)
      memcpy(first + (size_t)k * OC, first, sizeof *first * (size_t)OC);
  }
  /* the per-point half: out += f w[:, Cg:]^T */
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(P * K), OC, Cf, 1.0f, f, Cf, w + Cg, ldw, 1.0f, out,
              OC);
}

void concat_linear_backward(float *dg, float *df, float *dw, float *db, float *scratch, const float *dout,
                            const float *g, const float *f, const float *w, int64_t P, int K, int Cg, int Cf,
                            int OC) {
  ASSERT(P >= 0 && K > 0 && Cg > 0 && Cf > 0 && OC > 0);
  if (P == 0)
    return;
  const int ldw = Cg + Cf;
  const int R = (int)(P * K);
  if (df)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, R, Cf, OC, 1.0f, dout, OC, w + Cg, ldw, 1.0f, df, Cf);
  if (dw)
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, Cf, R, 1.0f, dout, OC, f, Cf, 1.0f, dw + Cg, ldw);
  /* the pooled half sees the sum of its patch's row gradients: scratch (P, OC) */
  for (int64_t p = 0; p < P; p++) {
    float *s = scratch + (size_t)p * OC;
    const float *d = dout + (size_t)p * K * OC;
    memcpy(s, d, sizeof *s * (size_t)OC);
    for (int k = 1; k < K; k++)
      for (int o = 0; o < OC; o++)
        s[o] += d[(size_t)k * OC + o];
  }
  if (db)
    colsum_add(db, scratch, P, OC);
  if (dw)
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, Cg, (int)P, 1.0f, scratch, OC, g, Cg, 1.0f, dw, ldw);
  if (dg)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)P, Cg, OC, 1.0f, scratch, OC, w, ldw, 1.0f, dg, Cg);
}

/* ---- batch norm --------------------------------------------------------------------------------------- */

/* BatchNorm forward, followed by ReLU when relu != 0 (one pass over the output). The batch statistics
 * are sums of x - x[0] (x[0] the channel's first row), which keeps E[x^2] - E[x]^2 free of cancellation
 * when a channel's mean is large beside its spread. */
static void bn_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                       float *run_mean, float *run_var, int64_t N, int C, float momentum, float eps, int train,
                       int relu) {
  ASSERT(C > 0 && N >= (train ? 2 : 0));
  if (train) {
    for (int c0 = 0; c0 < C; c0 += COLBLOCK) {
      int cn = C - c0 < COLBLOCK ? C - c0 : COLBLOCK;
      const float *restrict x0 = inp + c0;
      double s1[COLBLOCK] = {0}, s2[COLBLOCK] = {0};
      for (int64_t i0 = 0; i0 < N; i0 += ROWBLOCK) {
        float p1[COLBLOCK] = {0}, p2[COLBLOCK] = {0};
        for (int64_t i = i0; i < min64(N, i0 + ROWBLOCK); i++) {
          const float *restrict row = inp + (size_t)i * C + c0;
          for (int j = 0; j < cn; j++) {
            float d = row[j] - x0[j];
            p1[j] += d;
            p2[j] += d * d;
          }
        }
        for (int j = 0; j < cn; j++) {
          s1[j] += p1[j];
          s2[j] += p2[j];
        }
      }
      for (int j = 0; j < cn; j++) {
        double dmu = s1[j] / (double)N, mu = x0[j] + dmu;
        double var = s2[j] / (double)N - dmu * dmu;
        if (var < 0.0)
          var = 0.0;
        int c = c0 + j;
        mean[c] = (float)mu;
        rstd[c] = (float)(1.0 / sqrt(var + eps));
        run_mean[c] = (float)((1.0 - momentum) * run_mean[c] + momentum * mu);
        run_var[c] = (float)((1.0 - momentum) * run_var[c] + momentum * var * (double)N / (double)(N - 1));
      }
    }
  } else {
    for (int c = 0; c < C; c++) {
      mean[c] = run_mean[c];
      rstd[c] = (float)(1.0 / sqrt((double)run_var[c] + eps));
    }
  }
  for (int64_t i = 0; i < N; i++) {
    const float *restrict x = inp + (size_t)i * C;
    float *restrict y = out + (size_t)i * C;
    if (relu) {
      for (int c = 0; c < C; c++) {
        float v = (x[c] - mean[c]) * rstd[c] * w[c] + b[c];
        y[c] = v < 0.0f ? 0.0f : v;
      }
    } else {
      for (int c = 0; c < C; c++)
        y[c] = (x[c] - mean[c]) * rstd[c] * w[c] + b[c];
    }
  }
}

/* BatchNorm backward; with relu != 0 the gradient first passes the ReLU mask (out > 0). */
static void bn_backward(float *dinp, float *dw, float *db, const float *dout, const float *out, const float *inp,
                        const float *mean, const float *rstd, const float *w, int64_t N, int C, int train, int relu) {
  ASSERT(C > 0 && N >= 0);
  for (int c0 = 0; c0 < C; c0 += COLBLOCK) {
    int cn = C - c0 < COLBLOCK ? C - c0 : COLBLOCK;
    const float *restrict mu = mean + c0, *restrict rs = rstd + c0;
    double sd[COLBLOCK] = {0}, sdx[COLBLOCK] = {0}; /* sum dout, sum dout * xhat (after the mask) */
    for (int64_t i0 = 0; i0 < N; i0 += ROWBLOCK) {
      float pd[COLBLOCK] = {0}, pdx[COLBLOCK] = {0};
      for (int64_t i = i0; i < min64(N, i0 + ROWBLOCK); i++) {
        const float *restrict x = inp + (size_t)i * C + c0;
        const float *restrict d = dout + (size_t)i * C + c0;
        if (relu) {
          const float *restrict y = out + (size_t)i * C + c0;
          for (int j = 0; j < cn; j++) {
            float dj = d[j]; /* loaded unconditionally: the select then vectorises */
            dj = y[j] > 0.0f ? dj : 0.0f;
            pd[j] += dj;
            pdx[j] += dj * ((x[j] - mu[j]) * rs[j]);
          }
        } else {
          for (int j = 0; j < cn; j++) {
            pd[j] += d[j];
            pdx[j] += d[j] * ((x[j] - mu[j]) * rs[j]);
          }
        }
      }
      for (int j = 0; j < cn; j++) {
        sd[j] += pd[j];
        sdx[j] += pdx[j];
      }
    }
    for (int j = 0; j < cn; j++) {
      if (dw)
        dw[c0 + j] += (float)sdx[j];
      if (db)
        db[c0 + j] += (float)sd[j];
    }
    if (!dinp)
      continue;
    float md[COLBLOCK], mdx[COLBLOCK], k[COLBLOCK];
    for (int j = 0; j < cn; j++) {
      md[j] = train ? (float)(sd[j] / (double)N) : 0.0f;
      mdx[j] = train ? (float)(sdx[j] / (double)N) : 0.0f;
      k[j] = rs[j] * w[c0 + j];
    }
    for (int64_t i = 0; i < N; i++) {
      const float *restrict x = inp + (size_t)i * C + c0;
      const float *restrict d = dout + (size_t)i * C + c0;
      float *restrict dx = dinp + (size_t)i * C + c0;
      if (relu) {
        const float *restrict y = out + (size_t)i * C + c0;
        for (int j = 0; j < cn; j++) {
          float dj = d[j];
          dj = y[j] > 0.0f ? dj : 0.0f;
          dx[j] += k[j] * (dj - md[j] - (x[j] - mu[j]) * rs[j] * mdx[j]);
        }
      } else {
        for (int j = 0; j < cn; j++)
          dx[j] += k[j] * (d[j] - md[j] - (x[j] - mu[j]) * rs[j] * mdx[j]);
      }
    }
  }
}

void batchnorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                       float *run_mean, float *run_var, int64_t N, int C, float momentum, float eps, int train) {
  bn_forward(out, mean, rstd, inp, w, b, run_mean, run_var, N, C, momentum, eps, train, 0);
}

void batchnorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *mean,
                        const float *rstd, const float *w, int64_t N, int C, int train) {
  bn_backward(dinp, dw, db, dout, NULL, inp, mean, rstd, w, N, C, train, 0);
}

void batchnorm_relu_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                            float *run_mean, float *run_var, int64_t N, int C, float momentum, float eps, int train) {
  bn_forward(out, mean, rstd, inp, w, b, run_mean, run_var, N, C, momentum, eps, train, 1);
}

void batchnorm_relu_backward(float *dinp, float *dw, float *db, const float *dout, const float *out, const float *inp,
                             const float *mean, const float *rstd, const float *w, int64_t N, int C, int train) {
  bn_backward(dinp, dw, db, dout, out, inp, mean, rstd, w, N, C, train, 1);
}

/* ---- layer norm ---------------------------------------------------------------------------------------- */

/* Row reductions (over the C channels of one row, in cache) keep LANES float partial sums, so that the
 * loop vectorises without reordering a serial sum (several vector registers of them, which hides the
 * latency of the adds); each lane adds C / LANES values in float, and the lanes are added in double. */
#define LANES 32

/* sum of x (n), and of x y when y != NULL (*sxy). */
static CLONE_INLINE double row_sum(const float *restrict x, const float *restrict y, int n, double *sxy) {
  float p[LANES] = {0}, q[LANES] = {0};
  int c = 0;
  for (; c + LANES <= n; c += LANES) {
    for (int j = 0; j < LANES; j++) {
      p[j] += x[c + j];
      q[j] += y ? x[c + j] * y[c + j] : 0.0f;
    }
  }
  double s = 0.0, t = 0.0;
  for (; c < n; c++) {
    s += x[c];
    t += y ? (double)x[c] * y[c] : 0.0;
  }
  for (int j = 0; j < LANES; j++) {
    s += p[j];
    t += q[j];
  }
  if (sxy)
    *sxy = t;
  return s;
}

/* sum of (x - m)^2 and of x - m over x (n) (the second is ~0 and corrects the first for m's rounding). */
static CLONE_INLINE double row_sumsq_dev(const float *restrict x, int n, float m, double *sdev) {
  float p[LANES] = {0}, q[LANES] = {0};
  int c = 0;
  for (; c + LANES <= n; c += LANES) {
    for (int j = 0; j < LANES; j++) {
      float d = x[c + j] - m;
      p[j] += d * d;
      q[j] += d;
    }
  }
  double s = 0.0, t = 0.0;
  for (; c < n; c++) {
    double d = (double)x[c] - m;
    s += d * d;
    t += d;
  }
  for (int j = 0; j < LANES; j++) {
    s += p[j];
    t += q[j];
  }
  *sdev = t;
  return s;
}

WIDE_CLONES void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                                   const float *b, int64_t N, int C) {
  ASSERT(N >= 0 && C > 0);
  for (int64_t i = 0; i < N; i++) {
    const float *restrict x = inp + (size_t)i * C;
    float *restrict y = out + (size_t)i * C;
    float m = (float)(row_sum(x, NULL, C, NULL) / C);
    double sdev, ssq = row_sumsq_dev(x, C, m, &sdev);
    double dm = sdev / C; /* the exact mean is m + dm */
    double var = ssq / C - dm * dm;
    float r = (float)(1.0 / sqrt((var > 0.0 ? var : 0.0) + LAYERNORM_EPS));
    m = (float)(m + dm);
    for (int c = 0; c < C; c++)
      y[c] = (x[c] - m) * r * w[c] + b[c];
    mean[i] = m;
    rstd[i] = r;
  }
}

WIDE_CLONES void layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                                    const float *mean, const float *rstd, const float *w, int64_t N, int C) {
  ASSERT(N >= 0 && C > 0);
  if (dinp) {
    float dn[COLBLOCK], xh[COLBLOCK]; /* dnorm = dout w and xhat of one row, a block of channels at a time */
    for (int64_t i = 0; i < N; i++) {
      const float *restrict x = inp + (size_t)i * C;
      const float *restrict d = dout + (size_t)i * C;
      float *restrict dx = dinp + (size_t)i * C;
      float m = mean[i], r = rstd[i];
      double sn = 0.0, snx = 0.0; /* sum dnorm, sum dnorm * xhat */
      for (int c0 = 0; c0 < C; c0 += COLBLOCK) {
        int cn = C - c0 < COLBLOCK ? C - c0 : COLBLOCK;
        for (int j = 0; j < cn; j++) {
          dn[j] = d[c0 + j] * w[c0 + j];
          xh[j] = (x[c0 + j] - m) * r;
        }
        double t;
        sn += row_sum(dn, xh, cn, &t);
        snx += t;
      }
      float mn = (float)(sn / C), mnx = (float)(snx / C);
      for (int c = 0; c < C; c++) {
        float xhat = (x[c] - m) * r;
        dx[c] += r * (d[c] * w[c] - mn - xhat * mnx);
      }
    }
  }
  if (dw || db) {
    for (int c0 = 0; c0 < C; c0 += COLBLOCK) {
      int cn = C - c0 < COLBLOCK ? C - c0 : COLBLOCK;
      double sw[COLBLOCK] = {0}, sb[COLBLOCK] = {0};
      for (int64_t i0 = 0; i0 < N; i0 += ROWBLOCK) {
        float pw[COLBLOCK] = {0}, pb[COLBLOCK] = {0};
        for (int64_t i = i0; i < min64(N, i0 + ROWBLOCK); i++) {
          const float *restrict x = inp + (size_t)i * C + c0;
          const float *restrict d = dout + (size_t)i * C + c0;
          float m = mean[i], r = rstd[i];
          for (int j = 0; j < cn; j++) {
            pw[j] += d[j] * ((x[j] - m) * r);
            pb[j] += d[j];
          }
        }
        for (int j = 0; j < cn; j++) {
          sw[j] += pw[j];
          sb[j] += pb[j];
        }
      }
      for (int j = 0; j < cn; j++) {
        if (dw)
          dw[c0 + j] += (float)sw[j];
        if (db)
          db[c0 + j] += (float)sb[j];
      }
    }
  }
}

/* ---- activations ---------------------------------------------------------------------------------------- */

void relu_forward(float *out, const float *inp, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

void relu_backward(float *dinp, const float *dout, const float *out, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    if (out[i] > 0.0f)
      dinp[i] += dout[i];
}

/* GELU needs erf and exp on every element of the MLP's hidden layer; libm's erff and expf are scalar
 * calls that keep those loops from vectorising, so the two functions below are written branch-free
 * (selects, and integer moves of the float bits) for the compiler to vectorise the loops that call
 * them. The test compares them with double-precision erf and exp on a dense grid. */

/* e^x for x <= 88, relative error ~3e-7; 0 where e^x is below the smallest normal float (x < -87.3).
 * x = n ln2 + r with |r| <= ln2 / 2 (ln2 in two parts, Cody and Waite), e^r by its Taylor polynomial
 * of degree 7 (truncation < 1e-8), 2^n added into the exponent bits. The range test is on the integer
 * n: a float clamp would let the compiler branch (a constant path) and stop the vectorisation. */
static CLONE_INLINE float exp_branchless(float x) {
  const float shift = 12582912.0f; /* 1.5 * 2^23: t = x log2(e) + shift rounds to an integer n */
  float t = x * 1.44269504088896341f + shift;
  float n = t - shift;
  uint32_t tb, pb;
  memcpy(&tb, &t, sizeof tb);
  int32_t ni = (int32_t)(tb - 0x4B400000u); /* n itself (|n| < 2^22, beyond: far out of range) */
  float r = x - n * 0.693145751953125f;     /* ln2's upper bits: n * this is exact */
  r = r - n * 1.428606765330187045e-6f;     /* the rest of ln2 */
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  memcpy(&pb, &p, sizeof pb);
  pb += (uint32_t)ni << 23;                   /* e^r is in [0.7, 1.5]: normal for n >= -126 */
  pb &= 0u - (uint32_t)(ni >= -126);          /* below that, 0 */
  memcpy(&p, &pb, sizeof p);
  return p;
}

/* The standard normal CDF Phi(x) = (1 + erf(x / sqrt 2)) / 2 = erfc(-x / sqrt 2) / 2, through erfc(z)
 * for z = |x| / sqrt 2 >= 0 with the Chebyshev fit of Numerical Recipes (erfcc, relative error
 * < 1.2e-7 for every z >= 0): erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2). The lower tail is
 * erfc / 2 itself (no cancellation), the upper one 1 - erfc / 2. */
static CLONE_INLINE float normal_cdf(float x) {
  float z = fabsf(x) * 0.70710678118654752440f;
  float t = 1.0f / (1.0f + 0.5f * z);
  float p = 0.17087277f;
  p = p * t - 0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t - 1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t - 0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t - 1.26551223f;
  float half_erfc = 0.5f * t * exp_branchless(p - z * z);
  /* half_erfc or 1 - half_erfc, both exact; selecting between constants keeps the loop branch-free */
  float base = x < 0.0f ? 0.0f : 1.0f, sign = x < 0.0f ? 1.0f : -1.0f;
  return base + sign * half_erfc;
}

#define INV_SQRT_2PI 0.39894228040143267794f

WIDE_CLONES void gelu_forward(float *out, const float *inp, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    float x = inp[i];
    out[i] = x * normal_cdf(x);
  }
}

WIDE_CLONES void gelu_backward(float *dinp, const float *dout, const float *inp, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    float x = inp[i];
    float pdf = INV_SQRT_2PI * exp_branchless(-0.5f * x * x);
    dinp[i] += dout[i] * (normal_cdf(x) + x * pdf);
  }
}

/* ---- max-pool -------------------------------------------------------------------------------------------- */

/* cond ? a : b for cond in {0, 1}, as a bit blend: the compiler keeps its store unconditional (a ?:
 * into memory becomes a conditional store, which it may not vectorise), so loops that use it vectorise. */
static inline float blend_f(int cond, float a, float b) {
  uint32_t m = 0u - (uint32_t)cond, ab, bb;
  memcpy(&ab, &a, sizeof ab);
  memcpy(&bb, &b, sizeof bb);
  ab = (ab & m) | (bb & ~m);
  memcpy(&a, &ab, sizeof a);
  return a;
}

static inline int blend_i(int cond, int a, int b) {
  uint32_t m = 0u - (uint32_t)cond;
  return (int)(((uint32_t)a & m) | ((uint32_t)b & ~m));
}

void maxpool_forward(float *out, int *arg, const float *inp, int64_t P, int K, int C) {
  ASSERT(P >= 0 && K > 0 && C > 0);
  for (int64_t p = 0; p < P; p++) {
    const float *x = inp + (size_t)p * K * C;
    float *restrict y = out + (size_t)p * C;
    int *restrict a = arg + (size_t)p * C;
    memcpy(y, x, sizeof *y * (size_t)C);
    memset(a, 0, sizeof *a * (size_t)C);
    for (int k = 1; k < K; k++) {
      const float *restrict row = x + (size_t)k * C;
      for (int c = 0; c < C; c++) {
        int gt = row[c] > y[c]; /* strict: the first maximum wins ties */
        y[c] = blend_f(gt, row[c], y[c]);
        a[c] = blend_i(gt, k, a[c]);
      }
    }
  }
}

void maxpool_backward(float *dinp, const float *dout, const int *arg, int64_t P, int K, int C) {
  for (int64_t p = 0; p < P; p++) {
    float *dx = dinp + (size_t)p * K * C;
    const float *d = dout + (size_t)p * C;
    const int *a = arg + (size_t)p * C;
    for (int c = 0; c < C; c++)
      dx[(size_t)a[c] * C + c] += d[c];
  }
}

/* ---- attention -------------------------------------------------------------------------------------------- */

void softmax_rows(float *S, int64_t n, int L) {
  for (int64_t i = 0; i < n; i++) {
    float *row = S + (size_t)i * L;
    float mx = row[0];
    for (int j = 1; j < L; j++)
      mx = row[j] > mx ? row[j] : mx;
    double sum = 0.0;
    for (int j = 0; j < L; j++) {
      row[j] = expf(row[j] - mx);
      sum += row[j];
    }
    float inv = (float)(1.0 / sum);
    for (int j = 0; j < L; j++)
      row[j] *= inv;
  }
}

void attention_forward(float *out, float *att, const float *qkv, int B, int L, int C, int H) {
  ASSERT(B >= 0 && L > 0 && H > 0 && C % H == 0);
  const int hd = C / H;
  const float scale = 1.0f / sqrtf((float)hd);
  for (int b = 0; b < B; b++) {
    for (int h = 0; h < H; h++) {
      const float *q = qkv + (size_t)b * L * 3 * C + (size_t)h * hd;
      const float *k = q + C, *v = q + 2 * C;
      float *S = att + ((size_t)b * H + h) * L * L;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, L, L, hd, scale, q, 3 * C, k, 3 * C, 0.0f, S, L);
      softmax_rows(S, L, L);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, L, hd, L, 1.0f, S, L, v, 3 * C, 0.0f,
                  out + (size_t)b * L * C + (size_t)h * hd, C);
    }
  }
}

void attention_backward(float *dqkv, float *datt, const float *dout, const float *qkv, const float *att, int B,
                        int L, int C, int H) {
  ASSERT(B >= 0 && L > 0 && H > 0 && C % H == 0);
  const int hd = C / H;
  const float scale = 1.0f / sqrtf((float)hd);
  for (int b = 0; b < B; b++) {
    for (int h = 0; h < H; h++) {
      size_t off = (size_t)b * L * 3 * C + (size_t)h * hd;
      const float *q = qkv + off, *k = q + C, *v = q + 2 * C;
      float *dq = dqkv + off, *dk = dq + C, *dv = dq + 2 * C;
      const float *P = att + ((size_t)b * H + h) * L * L;
      float *dP = datt + ((size_t)b * H + h) * L * L;
      const float *dO = dout + (size_t)b * L * C + (size_t)h * hd;
      /* dP = dO v^T;  dv += P^T dO */
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, L, L, hd, 1.0f, dO, C, v, 3 * C, 0.0f, dP, L);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, L, hd, L, 1.0f, P, L, dO, C, 1.0f, dv, 3 * C);
      /* softmax backward in place: dS = P (dP - rowsum(P dP)) */
      for (int i = 0; i < L; i++) {
        const float *pr = P + (size_t)i * L;
        float *dr = dP + (size_t)i * L;
        double s = 0.0;
        for (int j = 0; j < L; j++)
          s += (double)pr[j] * dr[j];
        float fs = (float)s;
        for (int j = 0; j < L; j++)
          dr[j] = pr[j] * (dr[j] - fs);
      }
      /* S = scale q k^T:  dq += scale dS k;  dk += scale dS^T q */
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, L, hd, L, scale, dP, L, k, 3 * C, 1.0f, dq, 3 * C);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, L, hd, L, scale, dP, L, q, 3 * C, 1.0f, dk, 3 * C);
    }
  }
}

/* ---- residuals and drop-path ------------------------------------------------------------------------------ */

void residual_forward(float *out, const float *a, const float *b, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    out[i] = a[i] + b[i];
}

void residual_backward(float *da, float *db, const float *dout, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    if (da)
      da[i] += dout[i];
    if (db)
      db[i] += dout[i];
  }
}

void droppath_residual_forward(float *out, const float *res, const float *branch, const float *scale, int B,
                               int64_t per) {
  for (int b = 0; b < B; b++) {
    float s = scale ? scale[b] : 1.0f;
    size_t o = (size_t)b * per;
    for (int64_t i = 0; i < per; i++)
      out[o + i] = res[o + i] + s * branch[o + i];
  }
}

void droppath_residual_backward(float *dres, float *dbranch, const float *dout, const float *scale, int B,
                                int64_t per) {
  for (int b = 0; b < B; b++) {
    float s = scale ? scale[b] : 1.0f;
    size_t o = (size_t)b * per;
    for (int64_t i = 0; i < per; i++) {
      if (dres)
        dres[o + i] += dout[o + i];
      if (dbranch)
        dbranch[o + i] += s * dout[o + i];
    }
  }
}

void droppath_draw(float *scale, int B, float p, int train, rng_t *rng) {
  if (!train || !(p > 0.0f)) {
    for (int b = 0; b < B; b++)
      scale[b] = 1.0f;
    return;
  }
  ASSERT(p < 1.0f && rng);
  float keep = 1.0f - p;
  for (int b = 0; b < B; b++)
    scale[b] = rng_uniform(rng) < keep ? 1.0f / keep : 0.0f;
}

/* ---- Chamfer-L2 ------------------------------------------------------------------------------------------ */

/* For each of the n points of a (n, 3): its nearest point of b (m, 3) -> idx (n); returns the sum of the
 * squared distances (double). */
static double nearest_sum(const float *a, int n, const float *b, int m, int *idx) {
  double sum = 0.0;
  for (int i = 0; i < n; i++) {
    float x1 = a[3 * i], y1 = a[3 * i + 1], z1 = a[3 * i + 2];
    float best = 0.0f;
    int bi = 0;
    for (int j = 0; j < m; j++) {
      float dx = b[3 * j] - x1, dy = b[3 * j + 1] - y1, dz = b[3 * j + 2] - z1;
      float d = dx * dx + dy * dy + dz * dz;
      if (j == 0 || d < best) {
        best = d;
        bi = j;
      }
    }
    idx[i] = bi;
    sum += best;
  }
  return sum;
}

float chamfer_l2_forward(int *idx1, int *idx2, const float *pred, const float *gt, int64_t P, int n1, int n2) {
  ASSERT(P >= 0 && n1 > 0 && n2 > 0);
  if (P == 0)
    return 0.0f;
  double s1 = 0.0, s2 = 0.0;
  for (int64_t p = 0; p < P; p++) {
    const float *a = pred + (size_t)p * n1 * 3, *b = gt + (size_t)p * n2 * 3;
    s1 += nearest_sum(a, n1, b, n2, idx1 + (size_t)p * n1);
    s2 += nearest_sum(b, n2, a, n1, idx2 + (size_t)p * n2);
  }
  return (float)(s1 / ((double)P * n1) + s2 / ((double)P * n2));
}

void chamfer_l2_backward(float *dpred, float *dgt, float dloss, const float *pred, const float *gt, const int *idx1,
                         const int *idx2, int64_t P, int n1, int n2) {
  if (P == 0)
    return;
  const float g1 = (float)(2.0 * dloss / ((double)P * n1)), g2 = (float)(2.0 * dloss / ((double)P * n2));
  for (int64_t p = 0; p < P; p++) {
    const float *a = pred + (size_t)p * n1 * 3, *b = gt + (size_t)p * n2 * 3;
    float *da = dpred ? dpred + (size_t)p * n1 * 3 : NULL;
    float *dbb = dgt ? dgt + (size_t)p * n2 * 3 : NULL;
    const int *i1 = idx1 + (size_t)p * n1, *i2 = idx2 + (size_t)p * n2;
    for (int i = 0; i < n1; i++) {
      int j = i1[i];
      for (int d = 0; d < 3; d++) {
        float g = g1 * (a[3 * i + d] - b[3 * j + d]);
        if (da)
          da[3 * i + d] += g;
        if (dbb)
          dbb[3 * j + d] -= g;
      }
    }
    for (int j = 0; j < n2; j++) {
      int i = i2[j];
      for (int d = 0; d < 3; d++) {
        float g = g2 * (b[3 * j + d] - a[3 * i + d]);
        if (dbb)
          dbb[3 * j + d] += g;
        if (da)
          da[3 * i + d] -= g;
      }
    }
  }
}

/* ---- optimisation -------------------------------------------------------------------------------------------- */

void adamw_update(float *p, const float *g, float *m, float *v, size_t n, float lr, float beta1, float beta2,
                  float eps, float wd, int64_t t) {
  ASSERT(t >= 1);
  const double bc1 = 1.0 - pow(beta1, (double)t), bc2 = 1.0 - pow(beta2, (double)t);
  const float step = (float)(lr / bc1), rbc2 = (float)(1.0 / sqrt(bc2));
  const float decay = 1.0f - lr * wd;
  for (size_t i = 0; i < n; i++) {
    float gi = g[i];
    float mi = beta1 * m[i] + (1.0f - beta1) * gi;
    float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * decay - step * mi / (sqrtf(vi) * rbc2 + eps);
  }
}

double grad_norm(const float *g, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++)
    s += (double)g[i] * g[i];
  return sqrt(s);
}

void grad_clip(float *g, size_t n, double norm, double max_norm) {
  double coef = max_norm / (norm + 1e-6);
  if (!(coef < 1.0))
    return;
  float c = (float)coef;
  for (size_t i = 0; i < n; i++)
    g[i] *= c;
}

double lr_cosine_warmup(double t, double base, double lr_min, double warmup_init, double warmup_t, double total) {
  if (t < warmup_t)
    return warmup_init + t * (base - warmup_init) / warmup_t;
  if (t < total)
    return lr_min + 0.5 * (base - lr_min) * (1.0 + cos(M_PI * t / total));
  return lr_min;
}
