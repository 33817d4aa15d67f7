#!/usr/bin/env bash
# Every test: set up (packages for the tests included), build, and run ctest.
# Environment: BUILD_DIR (default build), CMAKE_ARGS (e.g. -DAD3D_SANITIZE=ON), CTEST_ARGS.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs/setup.sh --tests
if [[ $(id -u) -eq 0 ]]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j "$(nproc)" ${CTEST_ARGS:-}
