#!/usr/bin/env bash
# Prepares here (Debian packages and the CUDA toolkit installed, no GPU needed)
# what a GPU machine without those packages needs to run scripts/gpu_check.sh
# from a copy of this source tree: the CUDA build (build-cuda/) packed by
# scripts/bundle.sh into bundle/infae.tar.xz, and the reference ML-100K split
# (split.tsv, negatives.tsv, expected.json) copied into devdata/ml-100k. Both
# folders are ignored by git. Then, on the GPU machine, in the tree's root:
#   LOGS=DIR LOGS_TAR=DIR/logs.tgz scripts/gpu_check.sh bundle/infae.tar.xz ops cli ref bench
# Usage: [CUDA_ARCH=90] scripts/device_prepare.sh [REFERENCE_DIR]
#        (default: ../shared/reference/ml-100k beside the source tree)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
ref=${1:-$src/../shared/reference/ml-100k}
for f in split.tsv negatives.tsv expected.json; do
  [ -f "$ref/$f" ] || { echo "device_prepare: no $ref/$f (the reference split)" >&2; exit 2; }
done
nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
[ -x "$nvcc" ] || { echo "device_prepare: no nvcc (the CUDA toolkit)" >&2; exit 2; }
# Hopper (H100/H200) machine code: no PTX to compile there at each start.
cmake -S "$src" -B "$src/build-cuda" -DINFAE_CUDA=ON -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CUDA_COMPILER="$nvcc" -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCH:-90}" > /dev/null
cmake --build "$src/build-cuda" -j "$(nproc)" > /dev/null
"$src/scripts/bundle.sh" "$src/build-cuda" "$src/bundle/infae.tar.xz"
mkdir -p "$src/devdata/ml-100k"
cp "$ref/split.tsv" "$ref/negatives.tsv" "$ref/expected.json" "$src/devdata/ml-100k/"
echo "device_prepare: ready: $(du -sh "$src/bundle" "$src/devdata" | awk '{printf "%s %s  ", $2, $1}')"
echo "on the GPU machine: LOGS=DIR LOGS_TAR=DIR/logs.tgz scripts/gpu_check.sh bundle/infae.tar.xz ops cli ref bench"
