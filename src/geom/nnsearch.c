/* nnsearch.c - exact kNN among high-dimensional vectors: BLAS products for candidates, exact re-ranking. */
#include "geom/nnsearch.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct nnsearch {
  const float *base; /* (n, d) borrowed */
  int64_t n;
  int d;
  float *mean;  /* (d) */
  float *norm2; /* (n) squared norms of the centred base vectors */
  float max_norm2;
};

double nnsearch_dist2(const float *a, const float *b, int d) {
  double s = 0;
  for (int j = 0; j < d; j++) {
    double t = (double)a[j] - (double)b[j];
    s += t * t;
  }
  return s;
}

/* x (d) - mean (d) -> out (d), in float, the same way for both sides. */
static void centre(const float *x, const float *mean, int d, float *out) {
  for (int j = 0; j < d; j++)
    out[j] = x[j] - mean[j];
}

static float norm2f(const float *x, int d) {
  float s = 0;
  for (int j = 0; j < d; j++)
    s += x[j] * x[j];
  return s;
}

ad3d_status nnsearch_build(const float *base, int64_t n, int d, nnsearch **out) {
  *out = NULL;
  if (d < 1 || n < 0)
    return ad3d_fail(AD3D_EINVAL, "nnsearch: bad shape (%lld, %d)", (long long)n, d);
  for (int64_t i = 0; i < n * d; i++)
    if (!isfinite(base[i]))
      return ad3d_fail(AD3D_ENUMERIC, "nnsearch: vector %lld has a non-finite entry", (long long)(i / d));
  ad3d_status st = AD3D_OK;
  nnsearch *t = calloc(1, sizeof *t);
  float *tmp = malloc((size_t)d * sizeof *tmp);
  double *acc = calloc((size_t)d, sizeof *acc);
  if (!t || !tmp || !acc || !(t->mean = malloc((size_t)d * sizeof *t->mean)) ||
      !(t->norm2 = malloc((size_t)(n ? n : 1) * sizeof *t->norm2))) {
    st = ad3d_fail(AD3D_ENOMEM, "nnsearch: out of memory indexing %lld vectors of %d", (long long)n, d);
    goto cleanup;
  }
  t->base = base, t->n = n, t->d = d;
  for (int64_t i = 0; i < n; i++)
    for (int j = 0; j < d; j++)
      acc[j] += base[i * d + j];
  for (int j = 0; j < d; j++)
    t->mean[j] = n ? (float)(acc[j] / (double)n) : 0.0f;
  t->max_norm2 = 0;
  for (int64_t i = 0; i < n; i++) {
    centre(base + i * d, t->mean, d, tmp);
    t->norm2[i] = norm2f(tmp, d);
    if (t->norm2[i] > t->max_norm2)
      t->max_norm2 = t->norm2[i];
  }
  *out = t;
  t = NULL;
cleanup:
  nnsearch_free(t);
  free(tmp);
  free(acc);
  return st;
}

void nnsearch_free(nnsearch *t) {
  if (!t)
    return;
  free(t->mean);
  free(t->norm2);
  free(t);
}

int64_t nnsearch_size(const nnsearch *t) { return t->n; }
int nnsearch_dim(const nnsearch *t) { return t->d; }

/* Insert (v, i) into the sorted list (vals, ids) of *cnt <= cap entries, ordered by value then index.
 * Entries arrive in increasing index order, so among equal values the earlier one stays first. */
static void insert_sorted_d(double *vals, int64_t *ids, int *cnt, int cap, double v, int64_t i) {
  int c = *cnt;
  if (c == cap) {
    if (!(v < vals[c - 1]))
      return;
    c--;
  }
  int p = c;
  while (p > 0 && v < vals[p - 1]) {
    vals[p] = vals[p - 1];
    ids[p] = ids[p - 1];
    p--;
  }
  vals[p] = v;
  ids[p] = i;
  *cnt = c + 1;
}

static void insert_sorted_f(float *vals, int64_t *ids, int *cnt, int cap, float v, int64_t i) {
  int c = *cnt;
  if (c == cap) {
    if (!(v < vals[c - 1]))
      return;
    c--;
  }
  int p = c;
  while (p > 0 && v < vals[p - 1]) {
    vals[p] = vals[p - 1];
    ids[p] = ids[p - 1];
    p--;
  }
  vals[p] = v;
  ids[p] = i;
  *cnt = c + 1;
}

/* One query by brute force into idx (k), d2 (k); scratch dv (k) doubles. */
static void knn_brute_one(const float *base, int64_t n, int d, const float *q, int k, int64_t *idx, float *d2,
                          double *dv) {
  int cnt = 0;
  for (int64_t i = 0; i < n; i++)
    insert_sorted_d(dv, idx, &cnt, k, nnsearch_dist2(q, base + i * d, d), i);
  for (int j = 0; j < k; j++) {
    if (j < cnt) {
      d2[j] = (float)dv[j];
    } else {
      idx[j] = -1;
      d2[j] = INFINITY;
    }
  }
}

ad3d_status nnsearch_knn_brute(const float *base, int64_t n, int d, const float *qs, int64_t m, int k,
                               int64_t *idx, float *d2) {
  if (k < 1 || d < 1)
    return ad3d_fail(AD3D_EINVAL, "nnsearch_knn_brute: k = %d, d = %d, need both >= 1", k, d);
  double small[64];
  double *dv = k <= 64 ? small : malloc((size_t)k * sizeof *dv);
  if (!dv)
    return ad3d_fail(AD3D_ENOMEM, "nnsearch_knn_brute: out of memory for k = %d", k);
  for (int64_t q = 0; q < m; q++)
    knn_brute_one(base, n, d, qs + q * d, k, idx + q * k, d2 + q * k, dv);
  if (dv != small)
    free(dv);
  return AD3D_OK;
}

/* Sort the kc candidates (exact values ev, ids) by (value, index): insertion sort, kc is small. */
static void sort_candidates(double *ev, int64_t *ids, int kc) {
  for (int a = 1; a < kc; a++) {
    double v = ev[a];
    int64_t i = ids[a];
    int p = a;
    while (p > 0 && (v < ev[p - 1] || (v == ev[p - 1] && i < ids[p - 1]))) {
      ev[p] = ev[p - 1];
      ids[p] = ids[p - 1];
      p--;
    }
    ev[p] = v;
    ids[p] = i;
  }
}

ad3d_status nnsearch_knn(const nnsearch *t, const float *qs, int64_t m, int k, int64_t *idx, float *d2) {
  if (k < 1)
    return ad3d_fail(AD3D_EINVAL, "nnsearch: k = %d, need k >= 1", k);
  const int d = t->d;
  const int64_t n = t->n;
  if (m == 0)
    return AD3D_OK;
  if (n == 0) {
    for (int64_t i = 0; i < m * k; i++)
      idx[i] = -1, d2[i] = INFINITY;
    return AD3D_OK;
  }
  const int kc = (int)(n < (int64_t)k + NNSEARCH_MARGIN ? n : (int64_t)k + NNSEARCH_MARGIN);
  const int64_t QB = NNSEARCH_QBLOCK, BB = NNSEARCH_BBLOCK;
  ad3d_status st = AD3D_OK;
  float *qc = malloc((size_t)(QB * d) * sizeof *qc);    /* (QB, d) centred queries */
  float *bc = malloc((size_t)(BB * d) * sizeof *bc);    /* (BB, d) centred base block */
  float *g = malloc((size_t)(QB * BB) * sizeof *g);     /* (QB, BB) products */
  float *qn = malloc((size_t)QB * sizeof *qn);          /* (QB) query norms */
  float *cv = malloc((size_t)(QB * kc) * sizeof *cv);   /* (QB, kc) candidate approximate values */
  int64_t *ci = malloc((size_t)(QB * kc) * sizeof *ci); /* (QB, kc) candidate indices */
  int *cc = malloc((size_t)QB * sizeof *cc);            /* (QB) candidate counts */
  double *ev = malloc((size_t)(kc > k ? kc : k) * sizeof *ev);
  if (!qc || !bc || !g || !qn || !cv || !ci || !cc || !ev) {
    st = ad3d_fail(AD3D_ENOMEM, "nnsearch: out of memory for query blocks (d = %d)", d);
    goto cleanup;
  }
  for (int64_t q0 = 0; q0 < m; q0 += QB) {
    const int64_t qb = m - q0 < QB ? m - q0 : QB;
    for (int64_t a = 0; a < qb; a++) {
      centre(qs + (q0 + a) * d, t->mean, d, qc + a * d);
      qn[a] = norm2f(qc + a * d, d);
      cc[a] = 0;
    }
    for (int64_t b0 = 0; b0 < n; b0 += BB) {
      const int64_t bb = n - b0 < BB ? n - b0 : BB;
      for (int64_t b = 0; b < bb; b++)
        centre(t->base + (b0 + b) * d, t->mean, d, bc + b * d);
      /* g (qb, bb) = qc (qb, d) . bc (bb, d)^T */
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)qb, (int)bb, d, 1.0f, qc, d, bc, d, 0.0f, g, (int)bb);
      for (int64_t a = 0; a < qb; a++) {
        const float *ga = g + a * bb;
        float *va = cv + a * kc;
        int64_t *ia = ci + a * kc;
        for (int64_t b = 0; b < bb; b++) {
          float v = qn[a] + t->norm2[b0 + b] - 2.0f * ga[b];
          if (cc[a] < kc || v < va[kc - 1])
            insert_sorted_f(va, ia, &cc[a], kc, v, b0 + b);
        }
      }
    }
    for (int64_t a = 0; a < qb; a++) {
      const float *q = qs + (q0 + a) * d;
      int64_t *out_i = idx + (q0 + a) * k;
      float *out_d = d2 + (q0 + a) * k;
      int64_t *ia = ci + a * kc;
      for (int c = 0; c < kc; c++)
        ev[c] = nnsearch_dist2(q, t->base + ia[c] * d, d);
      const float worst = cv[a * kc + kc - 1];
      sort_candidates(ev, ia, kc);
      const int kk = k < kc ? k : kc;
      const double err = (2.0 * d + 10.0) * FLT_EPSILON * ((double)qn[a] + (double)t->max_norm2);
      if (kc < n && !(ev[kk - 1] < (double)worst - err)) {
        knn_brute_one(t->base, n, d, q, k, out_i, out_d, ev);
        continue;
      }
      for (int j = 0; j < k; j++) {
        if (j < kk) {
          out_i[j] = ia[j];
          out_d[j] = (float)ev[j];
        } else {
          out_i[j] = -1;
          out_d[j] = INFINITY;
        }
      }
    }
  }
cleanup:
  free(qc);
  free(bc);
  free(g);
  free(qn);
  free(cv);
  free(ci);
  free(cc);
  free(ev);
  return st;
}
