/* coreset.h - PatchCore's greedy coreset: a small subset of a memory bank that covers it.
 *
 * Greedy k-centre selection as PatchCore's reference (amazon-science/patchcore-inspection,
 * sampler.py) runs it. With a(i) the "anchor distance" of vector i:
 *   repeat m times: select s = argmax_i a(i) (the smallest index on ties); a(i) = min(a(i), |x_i - x_s|).
 * The two samplers differ only in how a starts:
 *   exact (GreedyCoresetSampler)        a(i) = the L2 norm of row i of the full n x n distance matrix
 *                                       (sqrt of sum_j |x_i - x_j|^2);
 *   approximate (ApproximateGreedyCoresetSampler)
 *                                       a(i) = the mean distance from x_i to `nstart` (10) starting
 *                                       vectors drawn at random without replacement; never the full matrix.
 * Both first map the vectors to `proj_dim` (128) dimensions by a random linear map without bias,
 * y = x W^T with W (proj_dim, d) uniform in [-1/sqrt(d), 1/sqrt(d)] (torch.nn.Linear's default
 * initialisation), unless d == proj_dim (the reference's rule; it also projects UP when d < proj_dim);
 * proj_dim = 0 here means no projection at all. The selected indices then index the original vectors.
 *
 * Differences from the reference, none changing a selection on data without near-ties: a selected
 * vector's anchor becomes -1 (the reference leaves its rounding residue), so indices never repeat even
 * when m exceeds the number of distinct vectors; the approximate sampler computes in coordinates
 * centred on the mean (float, |y|^2 + |c|^2 - 2 y.c clamped at 0, as the reference's float32 formula),
 * the exact one in double from the differences.
 *
 * Cost: the approximate sampler is O(n m D') time (one BLAS sgemv over all vectors per selection,
 * D' the working dimension: m passes over n D' floats, memory-bound) and one n x D' float copy (the
 * projection, or the centred copy without one); the exact one is O(n^2 d) time and O(n^2) memory, meant
 * for tests (n <= CORESET_EXACT_MAX_N). On Real3D-AD's millions of training points, subsample the
 * candidates first (the methods' train_stride) or expect hours.
 */
#ifndef AD3D_GEOM_CORESET_H
#define AD3D_GEOM_CORESET_H

#include <stdint.h>

#include "common/rng.h"
#include "common/status.h"

#define CORESET_EXACT_MAX_N 4096

typedef struct {
  int64_t size;  /* coreset size m (> 0); 0: use ratio */
  double ratio;  /* with size == 0: m = floor(ratio * n) (PatchCore's int(len * percentage)), in (0, 1] */
  int proj_dim;  /* dimension of the random projection (128); 0: none */
  int nstart;    /* starting vectors of the approximate sampler (10), >= 1 */
} coreset_opts;

/* size 10000, ratio 0, proj_dim 128, nstart 10 (the Real3D-AD benchmark's PatchCore settings). */
coreset_opts coreset_defaults(void);

/* The coreset size for n vectors: size (or floor(ratio n)) clamped to [min(n, 1), n]. */
int64_t coreset_size(const coreset_opts *o, int64_t n);

/* y (n, k) = x (n, d) W^T with W (k, d) drawn from rng (row-major, uniform in [-1/sqrt(d), 1/sqrt(d)]);
 * w (k, d) receives W when non-NULL. k >= 1, d >= 1, n >= 0, else AD3D_EINVAL; AD3D_ENOMEM. */
ad3d_status coreset_project(const float *x, int64_t n, int d, int k, rng_t *rng, float *w, float *y);

/* Approximate greedy selection of m of the n vectors x (n, d) (no projection here), into out (m).
 * starts (nstart) are the starting vectors' indices, or NULL to draw min(nstart, n) of them from rng
 * without replacement. 0 <= m <= n, nstart >= 1, else AD3D_EINVAL; AD3D_ENOMEM. */
ad3d_status coreset_approx(const float *x, int64_t n, int d, int64_t m, const int64_t *starts, int nstart,
                           rng_t *rng, int64_t *out);

/* Exact greedy selection (full distance matrix, double): anchors start at the rows' norms (starts NULL),
 * or at the mean distance to starts (nstart) to replay the approximate sampler. n <= CORESET_EXACT_MAX_N,
 * 0 <= m <= n, else AD3D_EINVAL; AD3D_ENOMEM. */
ad3d_status coreset_exact(const float *x, int64_t n, int d, int64_t m, const int64_t *starts, int nstart,
                          int64_t *out);

/* What the methods call: project (o->proj_dim), then the approximate sampler with o->nstart random
 * starts. *out (allocated here, free()) receives *m = coreset_size(o, n) indices into x (n, d), in
 * selection order. AD3D_EINVAL (bad options), AD3D_ENOMEM. */
ad3d_status coreset_select(const float *x, int64_t n, int d, const coreset_opts *o, rng_t *rng, int64_t **out,
                           int64_t *m);

#endif
