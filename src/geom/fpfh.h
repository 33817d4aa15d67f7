/* fpfh.h - Fast Point Feature Histograms (Rusu et al. 2009), 33 bins, as PCL and Open3D 0.16 compute them.
 *
 * Pair features of a source point (p_s, n_s) and a target (p_t, n_t), d = |p_t - p_s| > 0:
 *   if angle(n_s, p_t - p_s) is farther from 0/180 degrees than angle(n_t, p_t - p_s), i.e.
 *   |n_s . (p_t - p_s)| < |n_t . (p_t - p_s)|, the two points swap roles (so the frame sits on the
 *   point whose normal is closer to the line between them); then, with dp = p_t - p_s:
 *     u = n_s,  v = dp x u / |dp x u|,  w = u x v
 *     theta = atan2(w . n_t, u . n_t)   in [-pi, pi]
 *     alpha = v . n_t                   in [-1, 1]
 *     phi   = u . dp / d                in [-1, 1]
 *   d = 0, or dp parallel to u, gives theta = alpha = phi = d = 0 (bins 5, 5, 5 below).
 * SPFH of point i: over its neighbours j != i (the neighbourhood minus its first, nearest, entry:
 * i itself, or an exact duplicate of i, the same zero-distance pair either way), each feature falls
 * in one of 11 equal bins of its range (bin = floor(11 (x - lo) / (hi - lo)), clamped to 0..10), each
 * pair adding 100 / (neighbours - 1): three 11-bin histograms that each sum to 100.
 * Columns: 0-10 theta, 11-21 alpha, 22-32 phi.
 * FPFH of point i: FPFH_i = SPFH_i + sum_j SPFH_j / d_ij^2 over the same neighbours with d_ij > 0,
 * where each 11-bin block of the sum is first rescaled to sum to 100 (weights are 1 / squared
 * distance, the distances PCL and Open3D pass). A point with no other neighbour gets all zeros.
 *
 * The features depend on the normals' signs: give them the signs the peer uses (normals.h).
 * Cost: O(n k) pair features and one neighbourhood query per point, plus a second one per point
 * unless the neighbour lists of the first pass fit FPFH_CACHE_MAX_BYTES (kNN and hybrid neighbourhoods:
 * n (k - 1) 4-byte indices; the result is the same either way). Scratch: the SPFH (n, 33) in float and a
 * Z-order visiting order (zorder.h) of n indices. Single-threaded.
 */
#ifndef AD3D_GEOM_FPFH_H
#define AD3D_GEOM_FPFH_H

#include <stdint.h>

#include "common/status.h"
#include "geom/kdtree.h"
#include "geom/nbhd.h"

#define FPFH_DIM 33
#define FPFH_BINS 11
/* Largest neighbour-list cache (bytes) fpfh_compute allocates to avoid re-querying the kd-tree. */
#define FPFH_CACHE_MAX_BYTES (256.0 * 1024.0 * 1024.0)

/* Pair features of (ps, ns) -> (pt, nt), normals of unit length: f (4) = theta, alpha, phi, d. */
void fpfh_pair(const double ps[3], const double ns[3], const double pt[3], const double nt[3], double f[4]);

/* FPFH of the n points pts (n, 3) with unit normals (n, 3) over neighbourhoods nb.
 * t: a kd-tree over exactly pts, or NULL to build one here. feat (n, 33), written.
 * Returns AD3D_EINVAL (bad neighbourhood, tree of another size), AD3D_ENOMEM. */
ad3d_status fpfh_compute(const float *pts, const float *normals, int64_t n, const kdtree *t, const nbhd_t *nb,
                         float *feat);

#endif
