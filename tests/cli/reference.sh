#!/usr/bin/env bash
# ∞-AE on N ranks against the reference's expected.json, on the reference's
# own ML-100K split and negatives (../shared/reference/ml-100k beside the
# source tree, or INFAE_REFERENCE): trace(K), the four K samples, every
# validation metric of λ ≥ 1, the best λ and the test metrics
# (tests/oracle/check_reference.py). The reference is not part of the tree:
# exits 77 (skipped) when the folder is absent.
source "$(dirname "$0")/common.sh"
n=${1:-1}
ref=${INFAE_REFERENCE:-$SRC/../shared/reference/ml-100k}
for f in split.tsv negatives.tsv expected.json; do
  [ -s "$ref/$f" ] || { echo "SKIP: no reference $ref/$f"; exit 77; }
done
run_mpi 1 prepare --format split-tsv --input "$ref/split.tsv" --negatives "$ref/negatives.tsv" \
  --output "$WORK/ref.h5" --quiet
run_mpi "$n" train --data "$WORK/ref.h5" --kernel-samples 1:1,1:10,108:117,99:101 \
  --metrics-json "$WORK/ref.json" --quiet
# 1e-8 relative: both are fp64; the worst difference, 2–5e-9 in the pooled
# AUC, is one or two near-tied pairs that the two summation orders flip.
"$PYTHON" "$ORACLE/check_reference.py" "$ref/expected.json" "$WORK/ref.json" --rtol 1e-8
