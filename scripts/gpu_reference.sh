#!/usr/bin/env bash
# ∞-AE with --device cuda against --device cpu and against the independent
# numpy reference, on the reference's own ML-100K split and negatives
# (split.tsv, negatives.tsv, expected.json, as in ../shared/reference/ml-100k):
#   fp64, 1 and 2 ranks: every run passes tests/oracle/check_reference.py,
#        and cuda equals cpu (α and every metric within 1e-9 relative, or
#        inside the oracle's near-tie range: tests/oracle/gpu_compare.py);
#   fp32, 1 rank, λ = 1: the same top-10 for ≥ 99 % of users.
# The CPU runs alone are ctest reference_np1/2/4 (tests/cli/reference.sh).
# Exits 77 when no GPU is visible. INFAE, MPIEXEC and
# PYTHON (Debian's python3 with numpy and h5py) may be set.
# Usage: scripts/gpu_reference.sh REF_DIR [WORK_DIR]
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
ref=$(cd "${1:?reference folder (split.tsv, negatives.tsv, expected.json)}" && pwd)
work=${2:-$(mktemp -d "${TMPDIR:-/tmp}/infae-ref.XXXXXX")}
infae=${INFAE:-$src/build/src/infae_mpi}
mpiexec=${MPIEXEC:-mpiexec}
py=${PYTHON:-/usr/bin/python3}
oracle=$src/tests/oracle
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
"$infae" --version | grep -q "GPU(s)" || { echo "no GPU visible ($("$infae" --version)): skipped"; exit 77; }
mkdir -p "$work"
cd "$work"
run() { local n=$1; shift; timeout 300 "$mpiexec" -n "$n" "$infae" "$@"; }

run 1 prepare --format split-tsv --input "$ref/split.tsv" --negatives "$ref/negatives.tsv" \
  --output ref.h5 --quiet
for n in 1 2; do
  for dev in cpu cuda; do
    run "$n" train --data ref.h5 --device $dev --kernel-samples 1:1,1:10,108:117,99:101 \
      --out ${dev}_$n.h5 --metrics-json ${dev}_$n.json --quiet
    "$py" "$oracle/check_reference.py" "$ref/expected.json" ${dev}_$n.json
  done
  grep -Eq '"device":[[:space:]]*"cuda' cuda_$n.json || { echo "FAIL: no GPU reported"; exit 1; }
  "$py" "$oracle/gpu_compare.py" fit cuda_$n.h5 cuda_$n.json cpu_$n.h5 cpu_$n.json --data ref.h5
done
"$py" "$oracle/gpu_compare.py" pairs ref.h5 > users.tsv
for dev in cpu cuda; do
  run 1 train --data ref.h5 --device $dev --precision fp32 --lambdas 1 --out ${dev}_32.h5 --quiet
  run 1 recommend --model ${dev}_32.h5 --input users.tsv -k 10 --output rec_$dev.tsv --quiet
done
"$py" "$oracle/gpu_compare.py" top rec_cuda.tsv rec_cpu.tsv --min 0.99
echo "reference ML-100K: GPU, CPU and the reference agree"
