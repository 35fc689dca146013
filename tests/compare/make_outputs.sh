#!/usr/bin/env bash
# Makes the outputs a change that must not change results is checked with:
# the default run (∞-AE, EASE, PopRec), Recoder, a Distill-CF run and ∞-AE
# fit on its summary, and the reference's ML-100K split on 1, 2 and 4 ranks
# (exact, a user sample and Nyström; and K in column tiles), all on the CPU.
#   tests/compare/make_outputs.sh BUILD OUT [REFERENCE]
# then, after the change, again into another folder, and
#   tests/compare/compare_outputs.py OUT_BEFORE OUT_AFTER
# REFERENCE is the folder of the reference split (split.tsv, negatives.tsv;
# default ../shared/reference/ml-100k beside the checkout: skipped without it).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$1" && pwd)
out=$2
ref=${3:-$src/../shared/reference/ml-100k}
infae=$build/src/infae_mpi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
mpi() { local n=$1; shift; mpiexec --oversubscribe -n "$n" "$infae" "$@"; }
mkdir -p "$out"
cd "$out"
mpi 2 demo --outdir demo > demo.log
mpi 2 distill --data demo/dataset.h5 --out distill.h5 --budget 40 --steps 30 --samples 8 \
  --metrics-json distill.json --quiet
mpi 2 train --data demo/dataset.h5 --train-on distill.h5 --model infae --out on_summary.h5 \
  --metrics-json on_summary.json --quiet
mpi 2 train --data demo/dataset.h5 --model recoder --epochs 4 --hidden 64 --out recoder.h5 \
  --metrics-json recoder.json --quiet
if [ -f "$ref/split.tsv" ]; then
  mpi 1 prepare --format split-tsv --input "$ref/split.tsv" --negatives "$ref/negatives.tsv" \
    --output ref.h5 --quiet
  for n in 1 2 4; do
    mpi "$n" train --data ref.h5 --out "exact_np$n.h5" --metrics-json "exact_np$n.json" --quiet
    mpi "$n" train --data ref.h5 --centers 200 --out "nystrom_np$n.h5" \
      --metrics-json "nystrom_np$n.json" --quiet
  done
  for n in 1 2; do
    mpi "$n" train --data ref.h5 --train-users 300 --out "sample_np$n.h5" \
      --metrics-json "sample_np$n.json" --quiet
    # the evaluation (and Nyström's sums) in several blocks of users
    mpi "$n" train --data ref.h5 --train-users 300 --eval-block 97 --out "sample_b97_np$n.h5" \
      --metrics-json "sample_b97_np$n.json" --quiet
    mpi "$n" train --data ref.h5 --centers 200 --eval-block 97 --out "nystrom_b97_np$n.h5" \
      --metrics-json "nystrom_b97_np$n.json" --quiet
  done
  # one rank, K in column tiles over two host slices (the layout of --gpus)
  mpi 1 train --data ref.h5 --device cpu --gpus 2 --out tiles_np1.h5 \
    --metrics-json tiles_np1.json --quiet
else
  echo "make_outputs: no reference split in $ref: its runs skipped" >&2
fi
echo "make_outputs: $(ls | wc -l) outputs in $out"
