#!/usr/bin/env bash
# Installs infae's build and test dependencies from Debian 12 packages.
# Usage: scripts/install-deps.sh   (as root, or with sudo available)
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  openmpi-bin libopenmpi-dev
  libscalapack-openmpi-dev
  libhdf5-openmpi-dev hdf5-tools
  libopenblas-dev liblapacke-dev
  libcjson-dev librandom123-dev libcmocka-dev libssl-dev
  python3 python3-numpy python3-scipy python3-h5py procps
  slurm-wlm munge gnuplot-nox
)

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
