#!/usr/bin/env bash
# The quick benchmark: set up and build, then run jobs/quick.cfg under mpirun on the embedded,
# self-generated dataset and print the result tables. Extra arguments go to `ad3d run`
# (e.g. --set run.output=/tmp/q.h5). Ranks: NP, default one per core plus the master, which only
# hands out tasks and records results (it sleeps while it waits).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs/setup.sh
if [[ $(id -u) -eq 0 ]]; then  # Open MPI refuses root unless told (see README)
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
exec mpirun --oversubscribe -np "${NP:-$(($(nproc) + 1))}" -x OPENBLAS_NUM_THREADS=1 build/src/cli/ad3d run jobs/quick.cfg "$@"
