#!/usr/bin/env bash
# IMRNet with pre-training, chained: ONE Point-MAE pre-training (`ad3d pretrain`, resumable: a rerun continues
# it, or skips it when it is finished), then `ad3d run` of an IMRNet job whose every class fine-tunes that one
# checkpoint. Extra arguments go to `ad3d run`, e.g.
#   jobs/imrnet_chain.sh                                   generated quick dataset, generated corpus
#   JOB=jobs/ablation_sampling.cfg jobs/imrnet_chain.sh    an ablation on the pre-trained model
#   CORPUS=/data/ShapeNet55 PRESET=paper GROUP_SIZE=64 PT_NGROUPS=256 PT_NPOINTS=8192 NP=64 \
#     jobs/imrnet_chain.sh --dataset anomaly_shapenet:/data/Anomaly-ShapeNet --set imrnet.ngroups=256
# Environment: NP ranks (default 2); CORPUS (default shapes:512: procedural shapes, nn/data.h); PRESET (small or
# paper, default small); GROUP_SIZE (points per patch, default 32 as jobs/quick.cfg; the paper: 64);
# PT_NGROUPS, PT_NPOINTS (pre-training patches and input points, default 128 and 2048: a patch then covers
# about the share of a shape it covers at test time on the ~2.5k-point generated clouds); PRETRAIN_DIR
# (default pretrain-imrnet); JOB (default jobs/quick.cfg, its IMRNet only); OUTPUT (default imrnet_pretrained.h5).
# The grouping is not part of the weights, so the per-class runs may use another number of patches; the patch
# size must match (the head predicts GROUP_SIZE points).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs/setup.sh
if [[ $(id -u) -eq 0 ]]; then  # Open MPI refuses root unless told (see README)
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
np=${NP:-2}
dir=${PRETRAIN_DIR:-pretrain-imrnet}
preset=${PRESET:-small}
mpirun --oversubscribe -np "$np" -x OPENBLAS_NUM_THREADS=1 build/src/cli/ad3d pretrain --preset "$preset" \
  --corpus "${CORPUS:-shapes:512}" --output "$dir" --set group_size="${GROUP_SIZE:-32}" \
  --set ngroups="${PT_NGROUPS:-128}" --set npoints="${PT_NPOINTS:-2048}"
exec mpirun --oversubscribe -np "$np" -x OPENBLAS_NUM_THREADS=1 build/src/cli/ad3d run "${JOB:-jobs/quick.cfg}" --methods imrnet \
  --set imrnet.checkpoint="$dir/last.h5" --set imrnet.group_size="${GROUP_SIZE:-32}" \
  --output "${OUTPUT:-imrnet_pretrained.h5}" "$@"
