/* roc.c - ROC AUC and average precision from one radix sort of the scores.
 *
 * Each score becomes an unsigned integer key with the same order as the float (the sign bit of a
 * non-negative value is set, all bits of a negative value are flipped; -0 is first made +0 so that
 * the two zeros tie). The keys of the positives and of the negatives are sorted separately by an
 * LSD radix sort (11-bit digits; a pass whose digit is the same for every key is skipped), then
 * walked together from the highest key down. Each distinct key is one threshold of the curves, with
 * p positives and q negatives at exactly that score:
 *
 *   AUC = sum over thresholds of p * (2 * negatives_below + q), divided by 2 P N
 *         (Mann-Whitney U with ties counted one half; the numerator is an exact integer)
 *   AP  = (1 / P) * sum over thresholds of p * TP / (TP + FP)
 *         (TP, FP: positives and negatives scored at or above the threshold; Neumaier summation)
 *
 * which are the trapezoid under sklearn's ROC curve and sklearn's step-function average precision.
 * Memory: the keys (4 or 8 bytes per point) plus one scratch buffer as large as the bigger class.
 * This file does not compute curves (no fpr/tpr arrays), only the two areas.
 */
#include "metrics/roc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RADIX_BITS 11
#define RADIX_SIZE (1 << RADIX_BITS)
#define RADIX_MASK (RADIX_SIZE - 1)

/* ---- order-preserving keys ------------------------------------------------------------------- */

static uint32_t key_f32(float s) {
  uint32_t b;
  if (s == 0.0f)
    s = 0.0f; /* -0 ties with +0 */
  memcpy(&b, &s, sizeof b);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

static uint64_t key_f64(double s) {
  uint64_t b;
  if (s == 0.0)
    s = 0.0;
  memcpy(&b, &s, sizeof b);
  return (b & 0x8000000000000000ull) ? ~b : (b | 0x8000000000000000ull);
}

/* ---- key extraction and LSD radix sorts ------------------------------------------------------ */

enum { NPASS32 = (32 + RADIX_BITS - 1) / RADIX_BITS, NPASS64 = (64 + RADIX_BITS - 1) / RADIX_BITS };

/* Split the scores by class into keys[1] (positives) and keys[0] (negatives), counting the radix
 * digits of each class on the way: hist[c] (NPASS, RADIX_SIZE), zeroed by the caller. Branch-free
 * on the label. Returns the index of the first NaN score, or -1. */
static int64_t split_keys_f32(const float *scores, const uint8_t *labels, int64_t n, uint32_t *keys[2],
                              int64_t *hist[2]) {
  int64_t cnt[2] = {0, 0};
  for (int64_t i = 0; i < n; i++) {
    if (isnan(scores[i]))
      return i;
    int c = labels[i] != 0;
    uint32_t k = key_f32(scores[i]);
    keys[c][cnt[c]++] = k;
#pragma GCC unroll 8
    for (int p = 0; p < NPASS32; p++)
      hist[c][p * RADIX_SIZE + ((k >> (p * RADIX_BITS)) & RADIX_MASK)]++;
  }
  return -1;
}

static int64_t split_keys_f64(const double *scores, const uint8_t *labels, int64_t n, uint64_t *keys[2],
                              int64_t *hist[2]) {
  int64_t cnt[2] = {0, 0};
  for (int64_t i = 0; i < n; i++) {
    if (isnan(scores[i]))
      return i;
    int c = labels[i] != 0;
    uint64_t k = key_f64(scores[i]);
    keys[c][cnt[c]++] = k;
#pragma GCC unroll 8
    for (int p = 0; p < NPASS64; p++)
      hist[c][p * RADIX_SIZE + ((k >> (p * RADIX_BITS)) & RADIX_MASK)]++;
  }
  return -1;
}

/* Sort keys (n) ascending using tmp (n) as scratch, given the digit counts hist (NPASS, RADIX_SIZE)
 * (consumed); returns whichever of keys and tmp holds the result. */
static uint32_t *radix_sort_u32(uint32_t *keys, uint32_t *tmp, int64_t n, int64_t *hist) {
  uint32_t *src = keys, *dst = tmp;
  for (int p = 0; p < NPASS32; p++) {
    int64_t *h = hist + p * RADIX_SIZE, sum = 0;
    int shift = p * RADIX_BITS;
    if (n == 0 || h[(src[0] >> shift) & RADIX_MASK] == n)
      continue; /* every key has the same digit: the pass would not move anything */
    for (int d = 0; d < RADIX_SIZE; d++) {
      int64_t c = h[d];
      h[d] = sum;
      sum += c;
    }
    for (int64_t i = 0; i < n; i++)
      dst[h[(src[i] >> shift) & RADIX_MASK]++] = src[i];
    uint32_t *t = src;
    src = dst;
    dst = t;
  }
  return src;
}

static uint64_t *radix_sort_u64(uint64_t *keys, uint64_t *tmp, int64_t n, int64_t *hist) {
  uint64_t *src = keys, *dst = tmp;
  for (int p = 0; p < NPASS64; p++) {
    int64_t *h = hist + p * RADIX_SIZE, sum = 0;
    int shift = p * RADIX_BITS;
    if (n == 0 || h[(src[0] >> shift) & RADIX_MASK] == n)
      continue;
    for (int d = 0; d < RADIX_SIZE; d++) {
      int64_t c = h[d];
      h[d] = sum;
      sum += c;
    }
    for (int64_t i = 0; i < n; i++)
      dst[h[(src[i] >> shift) & RADIX_MASK]++] = src[i];
    uint64_t *t = src;
    src = dst;
    dst = t;
  }
  return src;
}

/* ---- accumulation over thresholds ------------------------------------------------------------ */

typedef struct {
  int64_t npos, nneg; /* class totals P, N */
  int64_t tp, fp;     /* positives / negatives at or above the current threshold */
  uint64_t u2;        /* 2 U: sum of p * (2 * negatives_below + q); <= 2 P N <= n^2 / 2 < 2^64 for n < 6e9 */
  double ap_sum, ap_c; /* Neumaier sum of p * TP / (TP + FP) and its compensation */
  int want_ap;         /* 0: skip the AP sum (one division per threshold) */
} roc_acc;

/* One threshold, visited in decreasing score order: p positives and q negatives tie at it. */
static inline void roc_acc_step(roc_acc *a, int64_t p, int64_t q) {
  int64_t neg_below = a->nneg - a->fp - q;
  a->u2 += (uint64_t)p * (uint64_t)(2 * neg_below + q);
  a->tp += p;
  a->fp += q;
  if (p > 0 && a->want_ap) {
    double term = (double)p * ((double)a->tp / (double)(a->tp + a->fp));
    double t = a->ap_sum + term;
    if (fabs(a->ap_sum) >= fabs(term))
      a->ap_c += (a->ap_sum - t) + term;
    else
      a->ap_c += (term - t) + a->ap_sum;
    a->ap_sum = t;
  }
}

/* Walk the ascending pos (npos) and neg (nneg) keys together from the top, one step per distinct key. */
static void walk_u32(const uint32_t *pos, const uint32_t *neg, roc_acc *a) {
  int64_t i = a->npos - 1, j = a->nneg - 1;
  while (i >= 0 || j >= 0) {
    uint32_t key;
    if (i < 0)
      key = neg[j];
    else if (j < 0)
      key = pos[i];
    else
      key = pos[i] > neg[j] ? pos[i] : neg[j];
    int64_t p = 0, q = 0;
    while (i >= 0 && pos[i] == key) {
      i--;
      p++;
    }
    while (j >= 0 && neg[j] == key) {
      j--;
      q++;
    }
    roc_acc_step(a, p, q);
  }
}

static void walk_u64(const uint64_t *pos, const uint64_t *neg, roc_acc *a) {
  int64_t i = a->npos - 1, j = a->nneg - 1;
  while (i >= 0 || j >= 0) {
    uint64_t key;
    if (i < 0)
      key = neg[j];
    else if (j < 0)
      key = pos[i];
    else
      key = pos[i] > neg[j] ? pos[i] : neg[j];
    int64_t p = 0, q = 0;
    while (i >= 0 && pos[i] == key) {
      i--;
      p++;
    }
    while (j >= 0 && neg[j] == key) {
      j--;
      q++;
    }
    roc_acc_step(a, p, q);
  }
}

/* ---- argument checks and results --------------------------------------------------------------- */

/* Count the classes and check what the requested metrics need. */
static ad3d_status roc_check(const uint8_t *labels, int64_t n, int want_auc, int want_ap, roc_acc *a) {
  if (n < 0)
    return ad3d_fail(AD3D_EINVAL, "roc: negative number of scores (%lld)", (long long)n);
  memset(a, 0, sizeof *a);
  a->want_ap = want_ap;
  for (int64_t i = 0; i < n; i++)
    a->npos += labels[i] != 0;
  a->nneg = n - a->npos;
  if (want_auc && (a->npos == 0 || a->nneg == 0))
    return ad3d_fail(AD3D_EINVAL,
                     "roc_auc: only one class present in the labels (%lld positives, %lld negatives): "
                     "ROC AUC is undefined",
                     (long long)a->npos, (long long)a->nneg);
  if (want_ap && a->npos == 0)
    return ad3d_fail(AD3D_EINVAL,
                     "average_precision: no positive label among %lld: average precision is undefined",
                     (long long)n);
  return AD3D_OK;
}

static void roc_finish(const roc_acc *a, double *auc, double *ap) {
  if (auc)
    *auc = (double)((long double)a->u2 / (2.0L * (long double)a->npos * (long double)a->nneg));
  if (ap)
    *ap = (a->ap_sum + a->ap_c) / (double)a->npos;
}

static ad3d_status nan_fail(int64_t i) {
  return ad3d_fail(AD3D_ENUMERIC, "roc: score %lld is NaN", (long long)i);
}

/* ---- public functions -------------------------------------------------------------------------- */

ad3d_status roc_auc_ap_f32(const float *scores, const uint8_t *labels, int64_t n, double *auc, double *ap) {
  ad3d_status st = AD3D_OK;
  uint32_t *keys[2] = {NULL, NULL}, *tmp = NULL; /* keys[0] (N) negatives, keys[1] (P) positives */
  int64_t *hist = NULL;                          /* (2, NPASS32, RADIX_SIZE) digit counts per class */
  roc_acc a;
  ASSERT(n <= 0 || (scores && labels));
  TRY(roc_check(labels, n, auc != NULL, ap != NULL, &a));
  if (!auc && !ap)
    return AD3D_OK;
  int64_t big = a.npos > a.nneg ? a.npos : a.nneg;
  keys[0] = malloc(sizeof(uint32_t) * (size_t)(a.nneg > 0 ? a.nneg : 1));
  keys[1] = malloc(sizeof(uint32_t) * (size_t)(a.npos > 0 ? a.npos : 1));
  tmp = malloc(sizeof(uint32_t) * (size_t)(big > 0 ? big : 1));
  hist = calloc(2 * NPASS32 * RADIX_SIZE, sizeof *hist);
  if (!keys[0] || !keys[1] || !tmp || !hist) {
    st = ad3d_fail(AD3D_ENOMEM, "roc: cannot allocate sort keys for %lld scores", (long long)n);
    goto cleanup;
  }
  int64_t *hists[2] = {hist, hist + NPASS32 * RADIX_SIZE};
  int64_t bad = split_keys_f32(scores, labels, n, keys, hists);
  if (bad >= 0) {
    st = nan_fail(bad);
    goto cleanup;
  }
  /* The bigger class first: the buffer its sort leaves free (>= the smaller class) is the scratch
   * of the second sort. */
  int big_c = a.npos > a.nneg, small_c = !big_c;
  int64_t size[2] = {a.nneg, a.npos};
  const uint32_t *sorted[2];
  sorted[big_c] = radix_sort_u32(keys[big_c], tmp, size[big_c], hists[big_c]);
  sorted[small_c] = radix_sort_u32(keys[small_c], sorted[big_c] == keys[big_c] ? tmp : keys[big_c], size[small_c],
                          hists[small_c]);
  walk_u32(sorted[1], sorted[0], &a);
  roc_finish(&a, auc, ap);
cleanup:
  free(keys[0]);
  free(keys[1]);
  free(tmp);
  free(hist);
  return st;
}

ad3d_status roc_auc_ap_f64(const double *scores, const uint8_t *labels, int64_t n, double *auc, double *ap) {
  ad3d_status st = AD3D_OK;
  uint64_t *keys[2] = {NULL, NULL}, *tmp = NULL; /* keys[0] (N) negatives, keys[1] (P) positives */
  int64_t *hist = NULL;                          /* (2, NPASS64, RADIX_SIZE) digit counts per class */
  roc_acc a;
  ASSERT(n <= 0 || (scores && labels));
  TRY(roc_check(labels, n, auc != NULL, ap != NULL, &a));
  if (!auc && !ap)
    return AD3D_OK;
  int64_t big = a.npos > a.nneg ? a.npos : a.nneg;
  keys[0] = malloc(sizeof(uint64_t) * (size_t)(a.nneg > 0 ? a.nneg : 1));
  keys[1] = malloc(sizeof(uint64_t) * (size_t)(a.npos > 0 ? a.npos : 1));
  tmp = malloc(sizeof(uint64_t) * (size_t)(big > 0 ? big : 1));
  hist = calloc(2 * NPASS64 * RADIX_SIZE, sizeof *hist);
  if (!keys[0] || !keys[1] || !tmp || !hist) {
    st = ad3d_fail(AD3D_ENOMEM, "roc: cannot allocate sort keys for %lld scores", (long long)n);
    goto cleanup;
  }
  int64_t *hists[2] = {hist, hist + NPASS64 * RADIX_SIZE};
  int64_t bad = split_keys_f64(scores, labels, n, keys, hists);
  if (bad >= 0) {
    st = nan_fail(bad);
    goto cleanup;
  }
  /* The bigger class first: the buffer its sort leaves free (>= the smaller class) is the scratch
   * of the second sort. */
  int big_c = a.npos > a.nneg, small_c = !big_c;
  int64_t size[2] = {a.nneg, a.npos};
  const uint64_t *sorted[2];
  sorted[big_c] = radix_sort_u64(keys[big_c], tmp, size[big_c], hists[big_c]);
  sorted[small_c] = radix_sort_u64(keys[small_c], sorted[big_c] == keys[big_c] ? tmp : keys[big_c], size[small_c],
                          hists[small_c]);
  walk_u64(sorted[1], sorted[0], &a);
  roc_finish(&a, auc, ap);
cleanup:
  free(keys[0]);
  free(keys[1]);
  free(tmp);
  free(hist);
  return st;
}

ad3d_status roc_auc_f32(const float *scores, const uint8_t *labels, int64_t n, double *auc) {
  ASSERT(auc);
  return roc_auc_ap_f32(scores, labels, n, auc, NULL);
}

ad3d_status roc_auc_f64(const double *scores, const uint8_t *labels, int64_t n, double *auc) {
  ASSERT(auc);
  return roc_auc_ap_f64(scores, labels, n, auc, NULL);
}

ad3d_status average_precision_f32(const float *scores, const uint8_t *labels, int64_t n, double *ap) {
  ASSERT(ap);
  return roc_auc_ap_f32(scores, labels, n, NULL, ap);
}

ad3d_status average_precision_f64(const double *scores, const uint8_t *labels, int64_t n, double *ap) {
  ASSERT(ap);
  return roc_auc_ap_f64(scores, labels, n, NULL, ap);
}
