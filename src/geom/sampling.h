/* sampling.h - choosing points of a cloud: random, farthest point, voxel grid, geometry-aware (GPS),
 * and the kNN patches around chosen centres.
 *
 * All samplers return indices into the cloud (except the voxel grid, which makes new points) and are
 * deterministic: the random one draws only from the rng_t passed in; ties are broken by smaller index.
 *
 * Random (sample_random): m distinct indices of 0..n-1, every m-subset equally likely (selection
 * sampling, Knuth's Algorithm S: O(n) time, no allocation), returned in ascending order.
 *
 * Farthest point sampling (sample_fps): the first centre is `start`; each next one is the point whose
 * squared distance (float, x y z summed in that order) to its nearest chosen centre is largest, the
 * smallest index on ties. O(n m) time with a running min-distance array (n floats). If the cloud has
 * fewer than m distinct points, the later picks repeat locations (never indices).
 *
 * Voxel grid (sample_voxel), as Open3D's voxel_down_sample: with lo = (min over the cloud) - v/2 per
 * axis (double), point p goes to voxel floor((p - lo) / v) (double); each occupied voxel gives the
 * centroid of its points (summed in double in index order, divided by the count). Output order: the
 * order in which voxels are first met scanning points 0..n-1 (Open3D's order is its hash map's).
 * O(n) with a hash table.
 *
 * Geometry-aware sampling (sample_gps, IMRNet's GPS; DESIGN.md section 5):
 *   1. normal n_i and curvature c_i of every point over `normal_nb` (normals.h; unoriented, the rate
 *      below uses |n_i . n_j| so signs do not matter);
 *   2. rate of change R_i = mean over J_i of (1 - |n_i . n_j| + |c_i - c_j|) / |p_i - p_j|, where J_i
 *      is the `rate_nb` neighbourhood of i without i itself and without points at distance 0 (exact
 *      duplicates, which would divide by zero); R_i = 0 if J_i is empty;
 *   3. rank the points by R, highest first (smaller index on ties); the first n_s = round(tau n) are
 *      the salient set S, the others the rest T;
 *   4. allocate so that a salient point is `salient_ratio` (rho, default 2) times as likely to become a
 *      centre as another point: m_s = round(m rho tau / (rho tau + 1 - tau)) centres in S (m = 256,
 *      tau = 0.3, rho = 2: m_s = 118), then clamped to min(n_s, m) and to at least m - |T|;
 *   5. centres: FPS inside S starting at its most salient point; then FPS inside T, its running
 *      distances starting from the distances to the m_s salient centres (so T's centres also keep away
 *      from S's); if m_s = 0 it starts at T's most salient point. Ties inside a set go to the more
 *      salient point (the earlier one in the ranking).
 *   Output: m indices, the m_s salient centres first.
 *
 * Patches (sample_group_knn): the k nearest cloud points of each centre, nearest first (the centre
 * itself first when it is a cloud point), as Point-MAE groups them.
 */
#ifndef AD3D_GEOM_SAMPLING_H
#define AD3D_GEOM_SAMPLING_H

#include <stdint.h>

#include "common/cloud.h"
#include "common/rng.h"
#include "common/status.h"
#include "geom/kdtree.h"
#include "geom/nbhd.h"

/* m distinct indices of 0..n-1 in ascending order into out (m); 0 <= m <= n, else AD3D_EINVAL. */
ad3d_status sample_random(int64_t n, int64_t m, rng_t *rng, int64_t *out);

/* Farthest point sampling of m of the n points pts (n, 3), starting at index `start` (0 <= start < n):
 * out (m). 0 <= m <= n, else AD3D_EINVAL; AD3D_ENOMEM. */
ad3d_status sample_fps(const float *pts, int64_t n, int64_t m, int64_t start, int64_t *out);

/* Voxel-grid centroids of pts (n, 3) with voxel edge `voxel` (> 0) into *out (allocated here; free with
 * cloud_free). assign (n) or NULL: the output index of each input point's voxel.
 * AD3D_EINVAL (voxel not > 0, grid wider than INT_MAX voxels, non-finite points), AD3D_ENOMEM. */
ad3d_status sample_voxel(const float *pts, int64_t n, double voxel, cloud_t *out, int64_t *assign);

typedef struct {
  nbhd_t normal_nb;     /* neighbourhood of the normals and curvature (default kNN 16) */
  nbhd_t rate_nb;       /* neighbourhood of the rate of change (default kNN 16) */
  double tau;           /* salient fraction of the points, in [0, 1] (default 0.3) */
  double salient_ratio; /* centres per salient point / centres per other point, > 0 (default 2) */
} gps_opts;

gps_opts gps_defaults(void);

/* Rate of change R (n) of every point (steps 1-2 above). t: a kd-tree over exactly pts, or NULL. */
ad3d_status gps_rate(const float *pts, int64_t n, const kdtree *t, const gps_opts *o, float *rate);

/* GPS: m centres of pts (n, 3) into out (m), the salient ones first; *m_salient (or NULL) their count.
 * t: a kd-tree over exactly pts, or NULL. 0 <= m <= n and valid options, else AD3D_EINVAL; AD3D_ENOMEM. */
ad3d_status sample_gps(const float *pts, int64_t n, int64_t m, const kdtree *t, const gps_opts *o, int64_t *out,
                       int64_t *m_salient);

/* Patches: idx (m, k), the k nearest points of t to each centre of centres (m, 3), nearest first.
 * 1 <= k <= kdtree_size(t), else AD3D_EINVAL. */
ad3d_status sample_group_knn(const kdtree *t, const float *centres, int64_t m, int k, int64_t *idx);

/* out (m, 3) = pts[idx[j]] for j < m. */
void sample_gather(const float *pts, const int64_t *idx, int64_t m, float *out);

#endif
