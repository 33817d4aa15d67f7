/* m3dm.c - M3DM's point branch, as the Real3D-AD benchmark runs it (main_m3dm.py, M3DM/multiple_features.py:
 * PointFeatures): PatchCore on pre-trained Point-MAE patch features.
 *
 * Features: the LayerNorm outputs of encoder blocks 3, 7 and 11 concatenated (evenly spaced blocks on a
 * shallower model), no registration. Memory: a greedy coreset of 10% of the training features
 * (f_coreset 0.1). Score: each patch's distance to its nearest memory feature, filled to every point from its
 * nearest patch centre; object score PatchCore's re-weighted max with 3 neighbours (n_reweight 3). The
 * mechanics are maefeat.h's memory-bank core.
 * Differences from the reference: its coreset projects with a sparse random projection (eps 0.9) and starts
 * from the first feature; here PatchCore's approximate greedy sampler with a dense 128-d projection (the one
 * every ad3d memory bank uses). 1024 patches of 128 points (M3DM's own default; Real3D-AD's run used 16384:
 * num_group=16384) and the unit-sphere transform (unit_sphere=false feeds raw coordinates as the reference).
 */
#include "methods/maefeat.h"
#include "methods/method.h"

static const opt_spec m3dm_opts[] = {
    MAEFEAT_OPTS("1024", "128"),
    MAEFEAT_BANK_OPTS("0", "0.1", "false", "reweighted"),
    {NULL, 0, NULL, 0, 0, NULL},
};

static ad3d_status create(const opts_t *o, rng_t *rng, void **state) { return maefeat_bank_create("m3dm", o, rng, state); }

const method_vt method_m3dm = {
    .name = "m3dm",
    .title = "M3DM",
    .help = "M3DM point branch: pre-trained Point-MAE patch features, 10% coreset memory bank, re-weighted max",
    .opts = m3dm_opts,
    .create = create,
    .fit = maefeat_bank_fit,
    .score = maefeat_bank_score,
    .destroy = maefeat_bank_destroy,
};
