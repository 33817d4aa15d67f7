/* nnsearch.h - exact k-nearest-neighbour search among feature vectors of any dimension, through BLAS.
 *
 * The memory-bank methods (BTF(FPFH), PatchCore, Reg3D-AD's feature bank) compare every test feature
 * (33-d FPFH, 66-d FPFH+xyz, 1152-d Point-MAE) with every memory feature: a kd-tree does not help in
 * such dimensions, a matrix product does. An index borrows the base vectors (they must outlive it and
 * not change) and computes in coordinates centred on their mean: distances do not change, the norms
 * shrink, and with them the cancellation below.
 *
 * Query (nnsearch_knn), per block of queries Q and block of base vectors B:
 *   1. approximate squared distances |q|^2 + |b|^2 - 2 q.b with one cblas_sgemm per block pair;
 *   2. per query, the k + NNSEARCH_MARGIN smallest approximate values are candidates;
 *   3. the candidates' distances are recomputed exactly (sum of squared differences in double) and the
 *      k nearest kept, sorted by increasing distance, ties broken by smaller index;
 *   4. with qc, bc the centred vectors, the float error of step 1 is at most
 *      e(q) = (2 D + 10) FLT_EPSILON (|qc|^2 + max |bc|^2) (the rounding of the centring, of the norms
 *      and of a D-term dot product). If the k-th exact distance is not below the largest candidate's
 *      approximate value minus e(q), a vector outside the candidates could be nearer: that query is
 *      redone by brute force. So results are exact whatever the data.
 * Results therefore equal nnsearch_knn_brute's (the reference: every distance in double, ordered by
 * distance, then index).
 * Distances come back squared, as float (the double value rounded).
 *
 * Threads: the products use OpenBLAS's threads (set by the caller, e.g. run.blas_threads); the rest
 * is serial. Memory: the index holds D + n floats (the mean, the centred norms); a query call
 * allocates NNSEARCH_QBLOCK * NNSEARCH_BBLOCK floats of products, a centred block of each side and
 * the candidate lists.
 * Vectors must be finite (nnsearch_build checks the base; queries are the caller's responsibility).
 */
#ifndef AD3D_GEOM_NNSEARCH_H
#define AD3D_GEOM_NNSEARCH_H

#include <stdint.h>

#include "common/status.h"

#define NNSEARCH_MARGIN 8    /* extra candidates per query kept from the approximate pass */
#define NNSEARCH_QBLOCK 256  /* queries per product block */
#define NNSEARCH_BBLOCK 2048 /* base vectors per product block */

typedef struct nnsearch nnsearch;

/* Index the n vectors base (n, d) (borrowed: must outlive the index). n >= 0, d >= 1.
 * AD3D_EINVAL (d < 1, n < 0), AD3D_ENUMERIC (a NaN or Inf in base), AD3D_ENOMEM. */
ad3d_status nnsearch_build(const float *base, int64_t n, int d, nnsearch **out);
void nnsearch_free(nnsearch *t);
int64_t nnsearch_size(const nnsearch *t);
int nnsearch_dim(const nnsearch *t);

/* The k nearest base vectors of each of the m queries qs (m, d): idx (m, k) indices into base,
 * d2 (m, k) squared Euclidean distances, increasing, ties by smaller index. When k > n the rows are
 * padded with -1 / INFINITY. k >= 1, else AD3D_EINVAL; AD3D_ENOMEM. */
ad3d_status nnsearch_knn(const nnsearch *t, const float *qs, int64_t m, int k, int64_t *idx, float *d2);

/* The same by brute force over base (n, d) (the reference for tests; O(m n d), no BLAS; allocates only
 * when k > 64, so it cannot fail for k <= 64 and d >= 1). Same outputs and padding.
 * AD3D_EINVAL (k < 1, d < 1), AD3D_ENOMEM. */
ad3d_status nnsearch_knn_brute(const float *base, int64_t n, int d, const float *qs, int64_t m, int k,
                               int64_t *idx, float *d2);

/* Squared distance of two d-vectors, summed in double. */
double nnsearch_dist2(const float *a, const float *b, int d);

#endif
