#!/usr/bin/env bash
# Set-up on Debian 12: install the packages ad3d needs (only those missing), then configure and
# build it in build/. `jobs/setup.sh --tests` also installs what the tests need.
# Environment: BUILD_DIR (default build), CMAKE_ARGS (extra cmake arguments).
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(build-essential cmake pkg-config openmpi-bin libopenmpi-dev libopenblas-dev libhdf5-dev
      libconfig-dev libcmocka-dev)
if [[ " $* " == *" --tests "* ]]; then
  pkgs+=(python3-numpy python3-h5py python3-sklearn python3-open3d python3-matplotlib hdf5-tools time procps slurm-wlm munge)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

build=${BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo ${CMAKE_ARGS:-} > "$build.configure.log" 2>&1 ||
  { cat "$build.configure.log"; exit 1; }
rm -f "$build.configure.log"
echo "setup: building in $build/ (log: $build.build.log)" >&2
cmake --build "$build" -j "$(nproc)" > "$build.build.log" 2>&1 || { tail -n 60 "$build.build.log"; exit 1; }
rm -f "$build.build.log"
