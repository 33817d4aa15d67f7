/* kdtree.h - exact nearest-neighbour queries over 3-D points.
 *
 * The tree borrows the points (float32, (n, 3) row-major): they must outlive it and not change.
 * Queries return neighbours sorted by increasing squared Euclidean distance (ties broken by
 * smaller index, so results are deterministic), with indices into the borrowed array. Queries are
 * read-only and may run concurrently on one tree. Query coordinates must be finite.
 * Implementation: median splits on the widest axis, leaves of <= 16 points, the points copied in
 * tree order (12 + 8 bytes per point; callers keep the borrow contract all the same); squared
 * distances are float32 sums dx*dx + dy*dy + dz*dz.
 */
#ifndef AD3D_GEOM_KDTREE_H
#define AD3D_GEOM_KDTREE_H

#include <stdint.h>

#include "common/status.h"

typedef struct kdtree kdtree;

/* Build over pts (n, 3); n may be 0. */
ad3d_status kdtree_build(const float *pts, int64_t n, kdtree **out);
void kdtree_free(kdtree *t);
int64_t kdtree_size(const kdtree *t);

/* The k nearest points to q (3): idx (k), d2 (k) squared distances. Returns how many were found,
 * min(k, n). */
int kdtree_knn(const kdtree *t, const float *q, int k, int64_t *idx, float *d2);

/* kNN for m query points qs (m, 3): idx (m, k), d2 (m, k); rows padded with -1 / INFINITY when
 * k > n. */
void kdtree_knn_batch(const kdtree *t, const float *qs, int64_t m, int k, int64_t *idx, float *d2);

/* Points within radius r of q (d2 <= r*r), at most `max_nn` of them (the nearest ones; max_nn <= 0:
 * no cap). Results in *idx / *d2 (realloc'ed as needed; *cap their capacity). Returns the count.
 * (Open3D's hybrid search is max_nn > 0.) r < 0 or NaN finds nothing. Returns -1 if growing the
 * arrays fails (AD3D_ENOMEM message set; the arrays stay valid for free()). Start with
 * *idx = *d2 = NULL, *cap = 0 and reuse them across queries; the caller frees both. */
int64_t kdtree_radius(const kdtree *t, const float *q, float r, int64_t max_nn, int64_t **idx, float **d2,
                      int64_t *cap);

#endif
