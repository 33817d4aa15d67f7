/* patchcore_pointmae.c - PatchCore(PointMAE), as the Real3D-AD benchmark runs it (main_patchcore_pointmae.py,
 * patchcore/patchcore.py: _embed_pointmae, fit_with_limit_size_pmae, predict_pmae).
 *
 * Features: a pre-trained Point-MAE encoder's per-patch tokens, the LayerNorm outputs of encoder blocks 3, 7
 * and 11 concatenated (1152-d on the paper configuration; on a shallower model, `blocks` = auto takes evenly
 * spaced blocks: 0, 2, 3 of the small preset's 4), every cloud first registered onto the first training
 * sample (RANSAC on FPFH) as the reference does. Memory: 10000 features by PatchCore's approximate greedy
 * coreset. Score: 1-NN distance of each patch, filled to every point from its nearest patch centre; object
 * score the max. The mechanics are maefeat.h's memory-bank core.
 * Differences from the reference, each an option: 1024 patches of 128 points (the reference takes 16384 on a
 * GPU: num_group=16384 follows it), and the clouds mapped into the unit sphere by the first training
 * sample's transform (the reference feeds raw millimetres to a network trained on the unit sphere:
 * unit_sphere=false follows it).
 */
#include "methods/maefeat.h"
#include "methods/method.h"

static const opt_spec patchcore_pointmae_opts[] = {
    MAEFEAT_OPTS("1024", "128"),
    MAEFEAT_BANK_OPTS("10000", "0.1", "true", "max"),
    {NULL, 0, NULL, 0, 0, NULL},
};

static ad3d_status create(const opts_t *o, rng_t *rng, void **state) {
  return maefeat_bank_create("patchcore_pointmae", o, rng, state);
}

const method_vt method_patchcore_pointmae = {
    .name = "patchcore_pointmae",
    .title = "PatchCore(PointMAE)",
    .help = "pre-trained Point-MAE patch features (blocks 3, 7, 11), greedy coreset memory bank, 1-NN (PatchCore)",
    .opts = patchcore_pointmae_opts,
    .create = create,
    .fit = maefeat_bank_fit,
    .score = maefeat_bank_score,
    .destroy = maefeat_bank_destroy,
};
