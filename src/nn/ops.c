/* ops.c - forward and backward of ad3d's neural-network layers (see ops.h for shapes and conventions).
 *
 * Not here: the model (mae.c), memory management, threading beyond what OpenBLAS does inside sgemm.
 */
#include "nn/ops.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "common/status.h"

/* Channel block of the column reductions: accumulators of this many channels live on the stack, and
 * each pass over the rows reads one contiguous run of the block's channels per row. */
#define COLBLOCK 64

/* dst (C) += column sums of src (N, C), accumulated in double. */
static void colsum_add(float *dst, const float *src, int64_t N, int C) {
  for (int c0 = 0; c0 < C; c0 += COLBLOCK) {
    int cn = C - c0 < COLBLOCK ? C - c0 : COLBLOCK;
    double acc[COLBLOCK] = {0};
    for (int64_t i = 0; i < N; i++) {
      const float *row = src + (size_t)i * C + c0;
      for (int j = 0; j < cn; j++)
        acc[j] += row[j];
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

/* BatchNorm forward, followed by ReLU when relu != 0 (one pass over the output). */
static void bn_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                       float *run_mean, float *run_var, int64_t N, int C, float momentum, float eps, int train,
                       int relu) {
  ASSERT(C > 0 && N >= (train ? 2 : 0));
  if (train) {
    for (int c0 = 0; c0 < C; c0 += COLBLOCK) {
      int cn = C - c0 < COLBLOCK ? C - c0 : COLBLOCK;
      double s1[COLBLOCK] = {0}, s2[COLBLOCK] = {0};
      for (int64_t i = 0; i < N; i++) {
        const float *row = inp + (size_t)i * C + c0;
        for (int j = 0; j < cn; j++) {
          s1[j] += row[j];
          s2[j] += (double)row[j] * row[j];
        }
      }
      for (int j = 0; j < cn; j++) {
        double mu = s1[j] / (double)N;
        double var = s2[j] / (double)N - mu * mu;
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
    const float *x = inp + (size_t)i * C;
    float *y = out + (size_t)i * C;
    for (int c = 0; c < C; c++) {
      float v = (x[c] - mean[c]) * rstd[c] * w[c] + b[c];
      y[c] = relu && v < 0.0f ? 0.0f : v;
    }
  }
}

/* BatchNorm backward; with relu != 0 the gradient first passes the ReLU mask (out > 0). */
static void bn_backward(float *dinp, float *dw, float *db, const float *dout, const float *out, const float *inp,
                        const float *mean, const float *rstd, const float *w, int64_t N, int C, int train, int relu) {
  ASSERT(C > 0 && N >= 0);
  for (int c0 = 0; c0 < C; c0 += COLBLOCK) {
    int cn = C - c0 < COLBLOCK ? C - c0 : COLBLOCK;
    double sd[COLBLOCK] = {0}, sdx[COLBLOCK] = {0}; /* sum dout, sum dout * xhat */
    for (int64_t i = 0; i < N; i++) {
      const float *x = inp + (size_t)i * C + c0;
      const float *d = dout + (size_t)i * C + c0;
      const float *y = relu ? out + (size_t)i * C + c0 : NULL;
      for (int j = 0; j < cn; j++) {
        float dj = relu && !(y[j] > 0.0f) ? 0.0f : d[j];
        float xhat = (x[j] - mean[c0 + j]) * rstd[c0 + j];
        sd[j] += dj;
        sdx[j] += (double)dj * xhat;
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
      k[j] = rstd[c0 + j] * w[c0 + j];
    }
    for (int64_t i = 0; i < N; i++) {
      const float *x = inp + (size_t)i * C + c0;
      const float *d = dout + (size_t)i * C + c0;
      const float *y = relu ? out + (size_t)i * C + c0 : NULL;
      float *dx = dinp + (size_t)i * C + c0;
      for (int j = 0; j < cn; j++) {
        float dj = relu && !(y[j] > 0.0f) ? 0.0f : d[j];
        float xhat = (x[j] - mean[c0 + j]) * rstd[c0 + j];
        dx[j] += k[j] * (dj - md[j] - xhat * mdx[j]);
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

void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                       int64_t N, int C) {
  ASSERT(N >= 0 && C > 0);
  for (int64_t i = 0; i < N; i++) {
    const float *x = inp + (size_t)i * C;
    float *y = out + (size_t)i * C;
    double s = 0.0;
    for (int c = 0; c < C; c++)
      s += x[c];
    double mu = s / C;
    double v = 0.0;
    for (int c = 0; c < C; c++) {
      double dx = x[c] - mu;
      v += dx * dx;
    }
    float m = (float)mu;
    float r = (float)(1.0 / sqrt(v / C + LAYERNORM_EPS));
    for (int c = 0; c < C; c++)
      y[c] = (x[c] - m) * r * w[c] + b[c];
    mean[i] = m;
    rstd[i] = r;
  }
}

void layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *mean,
                        const float *rstd, const float *w, int64_t N, int C) {
  ASSERT(N >= 0 && C > 0);
  if (dinp) {
    for (int64_t i = 0; i < N; i++) {
      const float *x = inp + (size_t)i * C;
      const float *d = dout + (size_t)i * C;
      float *dx = dinp + (size_t)i * C;
      float m = mean[i], r = rstd[i];
      double sn = 0.0, snx = 0.0; /* sum dnorm, sum dnorm * xhat with dnorm = dout w */
      for (int c = 0; c < C; c++) {
        float dn = d[c] * w[c];
        sn += dn;
        snx += (double)dn * ((x[c] - m) * r);
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
      for (int64_t i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * C + c0;
        const float *d = dout + (size_t)i * C + c0;
        float m = mean[i], r = rstd[i];
        for (int j = 0; j < cn; j++) {
          sw[j] += (double)d[j] * ((x[j] - m) * r);
          sb[j] += d[j];
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

#define INV_SQRT2 0.70710678118654752440f
#define INV_SQRT_2PI 0.39894228040143267794f

void gelu_forward(float *out, const float *inp, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    float x = inp[i];
    out[i] = 0.5f * x * (1.0f + erff(x * INV_SQRT2));
  }
}

void gelu_backward(float *dinp, const float *dout, const float *inp, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    float x = inp[i];
    float cdf = 0.5f * (1.0f + erff(x * INV_SQRT2));
    float pdf = INV_SQRT_2PI * expf(-0.5f * x * x);
    dinp[i] += dout[i] * (cdf + x * pdf);
  }
}

/* ---- max-pool -------------------------------------------------------------------------------------------- */

void maxpool_forward(float *out, int *arg, const float *inp, int64_t P, int K, int C) {
  ASSERT(P >= 0 && K > 0 && C > 0);
  for (int64_t p = 0; p < P; p++) {
    const float *x = inp + (size_t)p * K * C;
    float *y = out + (size_t)p * C;
    int *a = arg + (size_t)p * C;
    memcpy(y, x, sizeof *y * (size_t)C);
    memset(a, 0, sizeof *a * (size_t)C);
    for (int k = 1; k < K; k++) {
      const float *row = x + (size_t)k * C;
      for (int c = 0; c < C; c++) {
        if (row[c] > y[c]) {
          y[c] = row[c];
          a[c] = k;
        }
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
      for (int i = 0; i < L; i++) {
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
