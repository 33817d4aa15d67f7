/* register.h - rigid registration of a point cloud onto another: RANSAC over FPFH correspondences, then
 * optional point-to-plane ICP, as Reg3D-AD (Real3D-AD's benchmark code) runs it through Open3D 0.16.
 *
 * Preparation (reg_cloud_prepare), as Real3D-AD's preprocess_point_cloud: voxel-grid downsampling with
 * edge v (sampling.h), normals over hybrid(2v, 30) neighbourhoods (unoriented, the sign Open3D gives),
 * FPFH over hybrid(5v, 100) (fpfh.h), and a kd-tree over the downsampled points.
 *
 * RANSAC (reg_ransac), as Open3D's registration_ransac_based_on_feature_matching with Real3D-AD's
 * arguments (mutual_filter True, max_correspondence_distance 1.5 v, TransformationEstimationPointToPoint
 * without scaling, ransac_n 3, checkers EdgeLength(0.9) and Distance(1.5 v), RANSACConvergenceCriteria
 * (100000, 0.999)):
 *   1. correspondences: each source point's nearest target point in FPFH space (exact, nnsearch.h); with
 *      the mutual filter, only pairs that are each other's nearest are kept, unless fewer than a tenth
 *      of the source points survive (Open3D's mutual_consistent_ratio 0.1), then all are kept;
 *   2. each iteration draws ransac_n correspondences (distinct here; Open3D draws with replacement) and
 *      fits the least-squares rotation and translation (reg_kabsch);
 *   3. checkers, cheap, before validation: edge length - for every pair of drawn correspondences, with
 *      ds, dt the distances between the two source and the two target points, reject when
 *      ds < edge_ratio dt or dt < edge_ratio ds; distance - reject when a drawn source point, transformed,
 *      lies farther than checker_dist from its target point;
 *   4. validation: fitness = fraction of (downsampled) source points whose transformed position has a
 *      target point within max_corr_dist (strictly), inlier_rmse = RMS of those distances; a result is
 *      better if its fitness is higher, or equal with a lower RMSE;
 *   5. on a better result, with r the fraction of all correspondences that the transform brings within
 *      max_corr_dist, the iteration budget drops to ceil(log(1 - confidence) / log(1 - r^ransac_n))
 *      when that is smaller (Open3D's early exit); the loop stops there or at max_iter.
 *   Open3D runs the iterations over OpenMP threads; here they run in order, one random stream.
 *   Nothing found (too few points or correspondences, every draw rejected): the identity, fitness 0.
 *
 * ICP (reg_icp), as Open3D's registration_icp with TransformationEstimationPointToPlane: from the
 * current transform, pair each transformed source point with its nearest target point within
 * icp_dist, solve the linearised point-to-plane least squares (6 x 6 normal equations; rotation
 * Rz(c) Ry(b) Rx(a)), compose, and repeat until fitness and RMSE change by less than icp_rel_fitness
 * and icp_rel_rmse, or icp_max_iter times. It runs on the downsampled clouds with the target's normals.
 *
 * Transforms are 4 x 4 row-major doubles T mapping source coordinates to target ones: p' = R p + t.
 */
#ifndef AD3D_GEOM_REGISTER_H
#define AD3D_GEOM_REGISTER_H

#include <stdint.h>

#include "common/cloud.h"
#include "common/rng.h"
#include "common/status.h"
#include "geom/kdtree.h"

typedef struct {
  double voxel;           /* v, the downsampling voxel edge (> 0) */
  double normal_radius;   /* normals: hybrid(normal_radius, normal_max_nn); 2 v */
  int normal_max_nn;      /* 30 */
  double fpfh_radius;     /* FPFH: hybrid(fpfh_radius, fpfh_max_nn); 5 v */
  int fpfh_max_nn;        /* 100 */
  int mutual;             /* mutual filter on the correspondences (1) */
  double max_corr_dist;   /* RANSAC validation inlier distance; 1.5 v */
  double edge_ratio;      /* edge-length checker similarity in (0, 1); 0.9 (0: checker off) */
  double checker_dist;    /* distance checker threshold; 1.5 v (0: checker off) */
  int ransac_n;           /* correspondences per hypothesis, >= 3; 3 */
  int64_t max_iter;       /* 100000 */
  double confidence;      /* in (0, 1]; 0.999 */
  int icp;                /* run point-to-plane ICP after RANSAC (0) */
  double icp_dist;        /* ICP correspondence distance; v */
  int icp_max_iter;       /* 30 */
  double icp_rel_fitness; /* 1e-6 */
  double icp_rel_rmse;    /* 1e-6 */
} reg_opts;

/* The Real3D-AD settings above for voxel edge v (ICP off). */
reg_opts reg_defaults(double voxel);
/* AD3D_EINVAL unless every field is in range (the message names the field). */
ad3d_status reg_opts_check(const reg_opts *o);

/* A cloud prepared for registration (owns everything). Zero-initialise; reg_cloud_free accepts that. */
typedef struct {
  cloud_t down;   /* voxel-downsampled points */
  float *normals; /* (down.n, 3) unit normals, unoriented */
  float *feat;    /* (down.n, 33) FPFH */
  kdtree *tree;   /* over down.xyz */
} reg_cloud;

/* Prepare pts (n, 3) with o's voxel, normals and FPFH settings. AD3D_EINVAL (bad options, non-finite
 * points), AD3D_ENOMEM. An empty cloud gives an empty reg_cloud. */
ad3d_status reg_cloud_prepare(const float *pts, int64_t n, const reg_opts *o, reg_cloud *out);
void reg_cloud_free(reg_cloud *c);

typedef struct {
  double T[4][4];       /* source -> target */
  double fitness;       /* after the last stage (RANSAC: over max_corr_dist; ICP: over icp_dist) */
  double inlier_rmse;
  int64_t ncorr;        /* feature correspondences used by RANSAC */
  int64_t iterations;   /* RANSAC iterations run */
  int icp_iterations;   /* ICP iterations run (0 without ICP) */
} reg_result;

/* Feature correspondences: for each of the ns source features fs (ns, d), its nearest of the nt target
 * features ft (nt, d); with `mutual`, the filter of step 1. *pairs (allocated here, free()) holds
 * *npairs rows (source index, target index), in increasing source index. AD3D_ENOMEM. */
ad3d_status reg_correspondences(const float *fs, int64_t ns, const float *ft, int64_t nt, int d, int mutual,
                                int64_t **pairs, int64_t *npairs);

/* RANSAC of src onto dst (both prepared with the same options). */
ad3d_status reg_ransac(const reg_cloud *src, const reg_cloud *dst, const reg_opts *o, rng_t *rng, reg_result *res);

/* ICP of src onto dst starting from res->T; res->T, fitness, inlier_rmse and icp_iterations are updated. */
ad3d_status reg_icp(const reg_cloud *src, const reg_cloud *dst, const reg_opts *o, reg_result *res);

/* RANSAC, then ICP when o->icp. */
ad3d_status reg_align(const reg_cloud *src, const reg_cloud *dst, const reg_opts *o, rng_t *rng, reg_result *res);

/* Least-squares rigid transform T (no scaling) mapping p (n, 3) onto q (n, 3), i.e. minimising
 * sum |R p_i + t - q_i|^2 over rotations R (det +1) and translations t: Horn's unit-quaternion solution
 * (equal to Umeyama's SVD solution with the reflection fix). n >= 1; fewer than 3 non-collinear points
 * leave the rotation undetermined (some minimiser is returned). */
void reg_kabsch(const double *p, const double *q, int64_t n, double T[4][4]);

/* out (n, 3) = T applied to pts (n, 3); out may equal pts. */
void reg_transform(const double T[4][4], const float *pts, int64_t n, float *out);

/* Rotation angle of T's rotation in degrees (0 for the identity), and the norm of its translation. */
double reg_rotation_deg(const double T[4][4]);

#endif
