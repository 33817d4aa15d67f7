/* objscore.c - object-score rules. */
#include "methods/objscore.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "geom/nnsearch.h"

ad3d_status objscore_parse(const char *name, objscore_rule *rule) {
  if (!strcmp(name, "max"))
    *rule = OBJSCORE_MAX;
  else if (!strcmp(name, "reweighted"))
    *rule = OBJSCORE_REWEIGHTED;
  else if (!strcmp(name, "topk_mean"))
    *rule = OBJSCORE_TOPK_MEAN;
  else
    return ad3d_fail(AD3D_EINVAL, "unknown object score rule \"%s\" (max, reweighted, topk_mean)", name);
  return AD3D_OK;
}

double objscore_max(const float *scores, int64_t n) {
  double m = -INFINITY;
  for (int64_t i = 0; i < n; i++)
    if (scores[i] > m)
      m = scores[i];
  return m;
}

static int cmp_desc(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x < y) - (x > y);
}

double objscore_topk_mean(const float *scores, int64_t n, int64_t k) {
  if (k < 1)
    k = 1;
  if (k > n)
    k = n;
  float *tmp = malloc((size_t)n * sizeof *tmp);
  if (!tmp) { /* fall back to the max rather than fail a whole task on a tiny buffer */
    return objscore_max(scores, n);
  }
  memcpy(tmp, scores, (size_t)n * sizeof *tmp);
  qsort(tmp, (size_t)n, sizeof *tmp, cmp_desc);
  double s = 0;
  for (int64_t i = 0; i < k; i++)
    s += tmp[i];
  free(tmp);
  return s / (double)k;
}

double objscore_reweighted(const float *feats, int D, const float *nn_dist, const int64_t *nn_idx, int64_t n,
                           const float *mem, int64_t nmem, int k) {
  int64_t s_idx = 0;
  for (int64_t i = 1; i < n; i++)
    if (nn_dist[i] > nn_dist[s_idx])
      s_idx = i;
  const double s_star = nn_dist[s_idx];
  const float *m_test = feats + (int64_t)D * s_idx;
  int64_t star;
  float d2;
  if (k < 2)
    k = 2;
  if (k > 16)
    k = 16;
  /* k <= 16 and D >= 1: the brute-force searches below cannot fail */
  if (nn_idx)
    star = nn_idx[s_idx];
  else
    (void)nnsearch_knn_brute(mem, nmem, D, m_test, 1, 1, &star, &d2);
  int64_t nbr[16];
  float nd2[16];
  (void)nnsearch_knn_brute(mem, nmem, D, mem + (int64_t)D * star, 1, k, nbr, nd2);
  const double sD = sqrt((double)D);
  double denom = 0;
  int got = 0;
  for (int j = 1; j < k; j++) {
    if (nbr[j] < 0)
      break;
    denom += exp(sqrt(nnsearch_dist2(m_test, mem + (int64_t)D * nbr[j], D)) / sD);
    got++;
  }
  if (got == 0) /* a one-entry memory bank: no neighbours to re-weight with */
    return s_star;
  return (1.0 - exp(s_star / sD) / denom) * s_star;
}
