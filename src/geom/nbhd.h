/* nbhd.h - the neighbourhood of a point: kNN, radius, or hybrid (radius capped at max_nn).
 *
 * Normals, curvature, FPFH and GPS all work "per point over its neighbours"; this module names the
 * three neighbourhood rules Open3D offers (KDTreeSearchParamKNN / Radius / Hybrid) and runs them on a
 * kd-tree. A neighbourhood of a cloud point always contains the point itself (distance 0), first
 * unless an exact duplicate with a smaller index precedes it.
 *
 *   NBHD_KNN     the k nearest points.
 *   NBHD_RADIUS  every point within `radius` (squared distance <= radius^2).
 *   NBHD_HYBRID  the nearest `max_nn` points among those within `radius`. Open3D computes this as
 *                "kNN(max_nn), then keep d^2 < r^2": the same set except for a point at exactly r.
 *
 * Results come sorted by increasing distance (ties: smaller index first), as the kd-tree returns them.
 */
#ifndef AD3D_GEOM_NBHD_H
#define AD3D_GEOM_NBHD_H

#include <stdint.h>

#include "common/status.h"
#include "geom/kdtree.h"

typedef enum { NBHD_KNN, NBHD_RADIUS, NBHD_HYBRID } nbhd_kind;

typedef struct {
  nbhd_kind kind;
  int k;         /* NBHD_KNN: number of neighbours, > 0 */
  double radius; /* NBHD_RADIUS, NBHD_HYBRID: search radius in the cloud's units, > 0 */
  int max_nn;    /* NBHD_HYBRID: at most this many neighbours, > 0 */
} nbhd_t;

nbhd_t nbhd_knn(int k);
nbhd_t nbhd_radius(double radius);
nbhd_t nbhd_hybrid(double radius, int max_nn);

/* AD3D_EINVAL (message names `what` and the bad field) unless the parameters are valid. */
ad3d_status nbhd_check(const nbhd_t *nb, const char *what);

/* Reusable result buffers of one query stream (one per thread); zero-initialise, free with
 * nbhd_buf_free. idx / d2 hold the last query's neighbours (indices into the tree's points,
 * squared distances), `cap` entries allocated. */
typedef struct {
  int64_t *idx;
  float *d2;
  int64_t cap;
} nbhd_buf;

void nbhd_buf_free(nbhd_buf *b);

/* Neighbours of q (3) under nb, into b. Returns their count (>= 0), or -1 with AD3D_ENOMEM recorded
 * when the buffers cannot grow. nb must have passed nbhd_check. */
int64_t nbhd_query(const kdtree *t, const nbhd_t *nb, const float *q, nbhd_buf *b);

/* Short text of nb for messages and logs: "knn(30)", "radius(0.5)", "hybrid(0.5, 30)". */
void nbhd_format(const nbhd_t *nb, char *buf, int size);

#endif
