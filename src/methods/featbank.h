/* featbank.h - what the feature memory-bank baselines share: FPFH as the Real3D-AD benchmark computes
 * it, a memory bank of D-dimensional features with exact 1-NN distances, the 1-NN fill-back of scores
 * from scored points to all points, the object-score rule, and registration onto a template.
 *
 * Used by BTF(FPFH) (btf_fpfh.c), PatchCore(FPFH) and PatchCore(FPFH+Raw) (patchcore.c) and
 * Reg3D-AD (reg3dad.c), and BTF(Raw) (btf.c) with xyz as a 3-d feature.
 */
#ifndef AD3D_METHODS_FEATBANK_H
#define AD3D_METHODS_FEATBANK_H

#include <stdint.h>

#include "common/cloud.h"
#include "common/rng.h"
#include "common/status.h"
#include "geom/kdtree.h"
#include "geom/nnsearch.h"
#include "geom/register.h"
#include "methods/objscore.h"

/* FPFH (33-d) of every point of pts (n, 3), as Real3D-AD's benchmark calls Open3D: normals over
 * hybrid(2 voxel, 30) neighbourhoods, unoriented; FPFH over hybrid(5 voxel, 100). feat (n, 33). */
ad3d_status featbank_fpfh(const float *pts, int64_t n, double voxel, float *feat);

/* A memory bank: dim-dimensional features, searched exactly (kd-tree for dim 3, BLAS otherwise). */
typedef struct {
  int dim;
  int64_t n;
  float *mem;      /* (n, dim), owned */
  kdtree *tree;    /* dim == 3 */
  nnsearch *index; /* dim != 3 */
} featbank;

/* Take ownership of mem (n, dim) (freed on failure too) and index it. n >= 1, else AD3D_EINVAL. */
ad3d_status featbank_build(featbank *b, float *mem, int64_t n, int dim);
void featbank_free(featbank *b);

/* Distances dist (m) from the queries q (m, dim) to their nearest memory entry, and its index idx (m)
 * (or NULL). AD3D_ENOMEM. */
ad3d_status featbank_nn(const featbank *b, const float *q, int64_t m, float *dist, int64_t *idx);

/* Object score of scored features q (m, dim) with 1-NN distances dist (m) and indices idx (m) under
 * `rule` (objscore.h): max, top-k mean, or the re-weighted max with reweight_k neighbours. m >= 1. */
double featbank_object(const featbank *b, objscore_rule rule, int64_t topk, int reweight_k, const float *q,
                       const float *dist, const int64_t *idx, int64_t m);

/* Score queries against the bank, the step every bank method ends with: each query q (m, dim) gets its 1-NN
 * distance, which 1-NN fill back (featbank_fill) spreads from the query sites sp (m, 3) to every point of pts
 * (n, 3) into point_scores (n) (sp NULL: the queries are the points themselves, m == n, and point_scores are
 * the distances), and *object the object score (featbank_object). m >= 1. AD3D_ENOMEM. */
ad3d_status featbank_score(const featbank *b, const float *q, const float *sp, int64_t m, const float *pts, int64_t n,
                           objscore_rule rule, int64_t topk, int reweight_k, float *point_scores, double *object);

/* Strided subset: the rows 0, s, 2s, ... of x (n, dim) into a new array *out of *m rows (ceil(n / s);
 * free()). AD3D_ENOMEM. */
ad3d_status featbank_stride(const float *x, int64_t n, int dim, int64_t s, float **out, int64_t *m);

/* 1-NN fill back: every point of pts (n, 3) takes the value of its nearest scored point: sp (m, 3)
 * with values sv (m); out (n). m >= 1. AD3D_ENOMEM. */
ad3d_status featbank_fill(const float *sp, const float *sv, int64_t m, const float *pts, int64_t n, float *out);

/* Registration onto a template, as Reg3D-AD: the template prepared once, each cloud aligned onto it. */
typedef struct {
  reg_opts o;
  reg_cloud tmpl;
} featbank_reg;

/* Prepare template pts (n, 3) with registration voxel `voxel`, ICP on or off, RANSAC max_iter. */
ad3d_status featbank_reg_init(featbank_reg *r, const float *pts, int64_t n, double voxel, int icp, int64_t max_iter);
void featbank_reg_free(featbank_reg *r);
/* out (n, 3) = pts (n, 3) moved onto the template (identity when RANSAC finds nothing). */
ad3d_status featbank_reg_apply(const featbank_reg *r, const float *pts, int64_t n, rng_t *rng, float *out);

#endif
