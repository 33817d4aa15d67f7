/* nbhd.c - kNN / radius / hybrid neighbourhoods on top of the kd-tree. */
#include "geom/nbhd.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

nbhd_t nbhd_knn(int k) { return (nbhd_t){.kind = NBHD_KNN, .k = k, .radius = 0.0, .max_nn = 0}; }

nbhd_t nbhd_radius(double radius) { return (nbhd_t){.kind = NBHD_RADIUS, .k = 0, .radius = radius, .max_nn = 0}; }

nbhd_t nbhd_hybrid(double radius, int max_nn) {
  return (nbhd_t){.kind = NBHD_HYBRID, .k = 0, .radius = radius, .max_nn = max_nn};
}

ad3d_status nbhd_check(const nbhd_t *nb, const char *what) {
  ASSERT(nb);
  const char *w = what ? what : "neighbourhood";
  switch (nb->kind) {
  case NBHD_KNN:
    if (nb->k <= 0)
      return ad3d_fail(AD3D_EINVAL, "%s: kNN needs k > 0, got %d", w, nb->k);
    return AD3D_OK;
  case NBHD_RADIUS:
  case NBHD_HYBRID:
    if (!(nb->radius > 0.0) || !isfinite(nb->radius) || nb->radius > 3.0e38)
      return ad3d_fail(AD3D_EINVAL, "%s: the search radius must be finite and > 0, got %g", w, nb->radius);
    if (nb->kind == NBHD_HYBRID && nb->max_nn <= 0)
      return ad3d_fail(AD3D_EINVAL, "%s: hybrid search needs max_nn > 0, got %d", w, nb->max_nn);
    return AD3D_OK;
  }
  return ad3d_fail(AD3D_EINVAL, "%s: unknown neighbourhood kind %d", w, (int)nb->kind);
}

void nbhd_buf_free(nbhd_buf *b) {
  if (!b)
    return;
  free(b->idx);
  free(b->d2);
  b->idx = NULL;
  b->d2 = NULL;
  b->cap = 0;
}

static int buf_reserve(nbhd_buf *b, int64_t need) {
  if (need <= b->cap)
    return 1;
  int64_t *ni = realloc(b->idx, sizeof *ni * (size_t)need);
  if (!ni)
    return 0;
  b->idx = ni;
  float *nd = realloc(b->d2, sizeof *nd * (size_t)need);
  if (!nd)
    return 0;
  b->d2 = nd;
  b->cap = need;
  return 1;
}

int64_t nbhd_query(const kdtree *t, const nbhd_t *nb, const float *q, nbhd_buf *b) {
  ASSERT(t && nb && q && b);
  switch (nb->kind) {
  case NBHD_KNN: {
    int64_t n = kdtree_size(t);
    int64_t want = nb->k < n ? nb->k : n;
    if (!buf_reserve(b, want > 0 ? want : 1)) {
      ad3d_fail(AD3D_ENOMEM, "neighbourhood: cannot allocate %lld results", (long long)want);
      return -1;
    }
    return kdtree_knn(t, q, nb->k, b->idx, b->d2);
  }
  case NBHD_RADIUS:
    return kdtree_radius(t, q, (float)nb->radius, 0, &b->idx, &b->d2, &b->cap);
  case NBHD_HYBRID:
    return kdtree_radius(t, q, (float)nb->radius, nb->max_nn, &b->idx, &b->d2, &b->cap);
  }
  ASSERT(!"nbhd_query: unchecked neighbourhood kind");
  return -1;
}

void nbhd_format(const nbhd_t *nb, char *buf, int size) {
  ASSERT(nb && buf && size > 0);
  switch (nb->kind) {
  case NBHD_KNN:
    snprintf(buf, (size_t)size, "knn(%d)", nb->k);
    return;
  case NBHD_RADIUS:
    snprintf(buf, (size_t)size, "radius(%g)", nb->radius);
    return;
  case NBHD_HYBRID:
    snprintf(buf, (size_t)size, "hybrid(%g, %d)", nb->radius, nb->max_nn);
    return;
  }
  snprintf(buf, (size_t)size, "unknown(%d)", (int)nb->kind);
}
