/* coreset.c - PatchCore's greedy coreset (approximate and exact) and its random projection. */
#include "geom/coreset.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "geom/sampling.h"

coreset_opts coreset_defaults(void) {
  coreset_opts o = {.size = 10000, .ratio = 0.0, .proj_dim = 128, .nstart = 10};
  return o;
}

int64_t coreset_size(const coreset_opts *o, int64_t n) {
  int64_t m = o->size > 0 ? o->size : (int64_t)floor(o->ratio * (double)n);
  if (m > n)
    m = n;
  if (m < 1 && n > 0)
    m = 1;
  return m;
}

ad3d_status coreset_project(const float *x, int64_t n, int d, int k, rng_t *rng, float *w, float *y) {
  if (d < 1 || k < 1 || n < 0)
    return ad3d_fail(AD3D_EINVAL, "coreset_project: bad shape (%lld, %d) -> %d", (long long)n, d, k);
  float *W = w ? w : malloc((size_t)k * d * sizeof *W);
  if (!W)
    return ad3d_fail(AD3D_ENOMEM, "coreset_project: out of memory");
  const double bound = 1.0 / sqrt((double)d);
  for (int64_t i = 0; i < (int64_t)k * d; i++)
    W[i] = (float)((2.0 * rng_uniform(rng) - 1.0) * bound);
  if (n > 0) /* y (n, k) = x (n, d) W^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, k, d, 1.0f, x, d, W, d, 0.0f, y, k);
  if (!w)
    free(W);
  return AD3D_OK;
}

static ad3d_status check_args(int64_t n, int d, int64_t m, const char *who) {
  if (n < 0 || d < 1 || m < 0 || m > n)
    return ad3d_fail(AD3D_EINVAL, "%s: cannot select %lld of %lld vectors of dimension %d", who, (long long)m,
                     (long long)n, d);
  return AD3D_OK;
}

/* Index of the largest anchor (the first on ties). */
static int64_t argmax(const float *a, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; i++)
    if (a[i] > a[best])
      best = i;
  return best;
}

/* The approximate sampler on xc (n, d), which it centres in place (the caller's scratch copy). */
static ad3d_status greedy_inplace(float *xc, int64_t n, int d, int64_t m, const int64_t *starts, int nstart,
                                  rng_t *rng, int64_t *out) {
  if (m == 0)
    return AD3D_OK;
  const int ns = nstart < n ? nstart : (int)n;
  ad3d_status st = AD3D_OK;
  float *nrm = malloc((size_t)n * sizeof *nrm); /* (n) squared norms */
  float *anc = malloc((size_t)n * sizeof *anc); /* (n) anchor distances */
  float *g = malloc((size_t)n * sizeof *g);     /* (n) products with the last selection */
  double *mean = calloc((size_t)d, sizeof *mean);
  int64_t *st_idx = malloc((size_t)ns * sizeof *st_idx);
  if (!nrm || !anc || !g || !mean || !st_idx) {
    st = ad3d_fail(AD3D_ENOMEM, "coreset: out of memory for %lld vectors of %d", (long long)n, d);
    goto cleanup;
  }
  if (starts) {
    for (int j = 0; j < ns; j++) {
      if (starts[j] < 0 || starts[j] >= n) {
        st = ad3d_fail(AD3D_EINVAL, "coreset: start %lld out of range [0, %lld)", (long long)starts[j], (long long)n);
        goto cleanup;
      }
      st_idx[j] = starts[j];
    }
  } else if ((st = sample_random(n, ns, rng, st_idx))) {
    goto cleanup;
  }
  for (int64_t i = 0; i < n; i++)
    for (int j = 0; j < d; j++)
      mean[j] += xc[i * d + j];
  for (int j = 0; j < d; j++)
    mean[j] /= (double)n;
  for (int64_t i = 0; i < n; i++) {
    float s = 0;
    for (int j = 0; j < d; j++) {
      float v = xc[i * d + j] - (float)mean[j];
      xc[i * d + j] = v;
      s += v * v;
    }
    nrm[i] = s;
    anc[i] = 0;
  }
  /* anchors: mean distance to the starting vectors */
  for (int j = 0; j < ns; j++) {
    const float *c = xc + st_idx[j] * d;
    cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)n, d, 1.0f, xc, d, c, 1, 0.0f, g, 1);
    for (int64_t i = 0; i < n; i++) {
      float v = nrm[i] + nrm[st_idx[j]] - 2.0f * g[i];
      anc[i] += sqrtf(v > 0 ? v : 0);
    }
  }
  for (int64_t i = 0; i < n; i++)
    anc[i] /= (float)ns;
  int64_t sel = argmax(anc, n);
  for (int64_t t = 0; t < m; t++) {
    out[t] = sel;
    anc[sel] = -1.0f;
    if (t + 1 == m)
      break;
    const float *c = xc + sel * d;
    cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)n, d, 1.0f, xc, d, c, 1, 0.0f, g, 1);
    int64_t best = 0;
    for (int64_t i = 0; i < n; i++) {
      float v = nrm[i] + nrm[sel] - 2.0f * g[i];
      float dist = sqrtf(v > 0 ? v : 0);
      if (dist < anc[i])
        anc[i] = dist;
      if (anc[i] > anc[best])
        best = i;
    }
    sel = best;
  }
cleanup:
  free(nrm);
  free(anc);
  free(g);
  free(mean);
  free(st_idx);
  return st;
}

ad3d_status coreset_approx(const float *x, int64_t n, int d, int64_t m, const int64_t *starts, int nstart,
                           rng_t *rng, int64_t *out) {
  TRY(check_args(n, d, m, "coreset_approx"));
  if (nstart < 1)
    return ad3d_fail(AD3D_EINVAL, "coreset_approx: nstart = %d, need >= 1", nstart);
  if (m == 0)
    return AD3D_OK;
  float *xc = malloc((size_t)n * d * sizeof *xc); /* (n, d) the copy to centre */
  if (!xc)
    return ad3d_fail(AD3D_ENOMEM, "coreset_approx: out of memory for %lld vectors of %d", (long long)n, d);
  memcpy(xc, x, (size_t)n * d * sizeof *xc);
  ad3d_status st = greedy_inplace(xc, n, d, m, starts, nstart, rng, out);
  free(xc);
  return st;
}

ad3d_status coreset_exact(const float *x, int64_t n, int d, int64_t m, const int64_t *starts, int nstart,
                          int64_t *out) {
  TRY(check_args(n, d, m, "coreset_exact"));
  if (n > CORESET_EXACT_MAX_N)
    return ad3d_fail(AD3D_EINVAL, "coreset_exact: %lld vectors, at most %d (an n x n matrix; a test tool)",
                     (long long)n, CORESET_EXACT_MAX_N);
  if (starts && nstart < 1)
    return ad3d_fail(AD3D_EINVAL, "coreset_exact: nstart = %d, need >= 1", nstart);
  if (m == 0)
    return AD3D_OK;
  double *dm = malloc((size_t)n * n * sizeof *dm); /* (n, n) distances */
  double *anc = malloc((size_t)n * sizeof *anc);
  if (!dm || !anc) {
    free(dm);
    free(anc);
    return ad3d_fail(AD3D_ENOMEM, "coreset_exact: out of memory for a %lld x %lld matrix", (long long)n,
                     (long long)n);
  }
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < n; j++) {
      double s = 0;
      for (int c = 0; c < d; c++) {
        double t = (double)x[i * d + c] - (double)x[j * d + c];
        s += t * t;
      }
      dm[i * n + j] = sqrt(s);
    }
  const int ns = starts ? (nstart < n ? nstart : (int)n) : 0;
  for (int64_t i = 0; i < n; i++) {
    double s = 0;
    if (starts) {
      for (int j = 0; j < ns; j++)
        s += dm[i * n + starts[j]];
      anc[i] = s / ns;
    } else {
      for (int64_t j = 0; j < n; j++)
        s += dm[i * n + j] * dm[i * n + j];
      anc[i] = sqrt(s);
    }
  }
  for (int64_t t = 0; t < m; t++) {
    int64_t sel = 0;
    for (int64_t i = 1; i < n; i++)
      if (anc[i] > anc[sel])
        sel = i;
    out[t] = sel;
    anc[sel] = -1.0;
    for (int64_t i = 0; i < n; i++)
      if (dm[i * n + sel] < anc[i])
        anc[i] = dm[i * n + sel];
  }
  free(dm);
  free(anc);
  return AD3D_OK;
}

ad3d_status coreset_select(const float *x, int64_t n, int d, const coreset_opts *o, rng_t *rng, int64_t **out,
                           int64_t *m) {
  *out = NULL;
  *m = 0;
  if (o->size < 0 || (o->size == 0 && !(o->ratio > 0 && o->ratio <= 1)) || o->proj_dim < 0 || o->nstart < 1)
    return ad3d_fail(AD3D_EINVAL,
                     "coreset: bad options (size %lld, ratio %g, proj_dim %d, nstart %d): need size > 0 or ratio "
                     "in (0, 1], proj_dim >= 0, nstart >= 1",
                     (long long)o->size, o->ratio, o->proj_dim, o->nstart);
  const int64_t mm = coreset_size(o, n);
  int64_t *idx = malloc((size_t)(mm ? mm : 1) * sizeof *idx);
  if (!idx)
    return ad3d_fail(AD3D_ENOMEM, "coreset: out of memory");
  ad3d_status st = AD3D_OK;
  const int project = o->proj_dim > 0 && o->proj_dim != d;
  float *y = NULL;
  if (project) {
    y = malloc((size_t)n * o->proj_dim * sizeof *y);
    if (!y) {
      free(idx);
      return ad3d_fail(AD3D_ENOMEM, "coreset: out of memory projecting %lld vectors to %d", (long long)n,
                       o->proj_dim);
    }
    if ((st = coreset_project(x, n, d, o->proj_dim, rng, NULL, y))) {
      free(y);
      free(idx);
      return st;
    }
  }
  /* the projected copy is ours: centre it in place rather than copy it again */
  st = project ? greedy_inplace(y, n, o->proj_dim, mm, NULL, o->nstart, rng, idx)
               : coreset_approx(x, n, d, mm, NULL, o->nstart, rng, idx);
  free(y);
  if (st) {
    free(idx);
    return st;
  }
  *out = idx;
  *m = mm;
  return AD3D_OK;
}
