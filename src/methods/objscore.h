/* objscore.h - object scores from point scores, shared by the memory-bank methods.
 *
 * Rules (DESIGN.md section 4), selected per method by its "object_score" option:
 *   "max"        the largest point score (PatchCore, Reg3D-AD);
 *   "reweighted" PatchCore's re-weighted max (BTF, M3DM): s* = max over test features of the
 *                distance to their nearest memory feature; with m_test that feature and m* its
 *                nearest memory entry, take the k nearest memory entries of m* (m* itself first) and
 *                drop the first; w = 1 - exp(s* / sqrt(D)) / sum_j exp(|m_test - m_j| / sqrt(D));
 *                s = w s*  (as the BTF / Real3D-AD benchmark code computes it);
 *   "topk_mean"  the mean of the k largest point scores.
 */
#ifndef AD3D_METHODS_OBJSCORE_H
#define AD3D_METHODS_OBJSCORE_H

#include <stdint.h>

#include "common/opts.h"
#include "common/status.h"

typedef enum { OBJSCORE_MAX, OBJSCORE_REWEIGHTED, OBJSCORE_TOPK_MEAN } objscore_rule;

/* Parse "max" | "reweighted" | "topk_mean". */
ad3d_status objscore_parse(const char *name, objscore_rule *rule);

/* Largest value of scores (n >= 1). */
double objscore_max(const float *scores, int64_t n);
/* Mean of the k largest of scores (k clamped to [1, n]). */
double objscore_topk_mean(const float *scores, int64_t n, int64_t k);

/* Re-weighted max for D-dimensional features (any D >= 1): feats (n, D) test features, nn_dist (n) their
 * distances to the memory bank mem (nmem, D), nn_idx (n) the index of each one's nearest memory entry
 * (or NULL: m* is then found here by brute force). The k nearest memory entries of m* (ties: smaller
 * index) are found by brute force (O(nmem D)); k is clamped to [2, 16]. n >= 1, nmem >= 1. */
double objscore_reweighted(const float *feats, int D, const float *nn_dist, const int64_t *nn_idx, int64_t n,
                           const float *mem, int64_t nmem, int k);

#endif
