#!/usr/bin/env bash
# ∞-AE's evaluation a block of users at a time: with --eval-block 37 (many
# blocks, a partial last one, ranks whose last block is short or empty) the
# model files and metrics equal, bit for bit (tests/compare/compare_outputs.py),
# those of the default (one block at this size): the exact fit on 1, 2 and 4
# ranks, a user sample on 1 and 2 (λ > 0: at λ = 0 the sample's K is
# near-singular and its predictions are rounding), with NTK(C, X_fit) kept
# and made per block (--cross-kernel stream), and K in column tiles (--device
# cpu --gpus 2). Nyström sums ΦᵀΦ and ΦᵀX over the blocks, and made per
# block predicts through K_nm·α rather than Φ·β: the same up to the order of
# the sums (relative 1e-7 of each array's largest value: AUC counts pairs of
# nearly equal scores), on 1 and 2 ranks, kept and streamed.
source "$(dirname "$0")/common.sh"
gen_dataset g 500 180 20
cd "$WORK"
runs=0
both() { # DIR NAME RANKS ARGS...: one block (whole) and blocks of 37
  local dir=$1 name=$2 n=$3
  shift 3
  mkdir -p "$dir/whole" "$dir/blocks"
  run_mpi "$n" train --data g.h5 --out "$dir/whole/$name.h5" \
    --metrics-json "$dir/whole/$name.json" --quiet "$@"
  run_mpi "$n" train --data g.h5 --out "$dir/blocks/$name.h5" \
    --metrics-json "$dir/blocks/$name.json" --quiet --eval-block 37 "$@"
  runs=$((runs + 1))
}
for n in 1 2 4; do both exact "exact_np$n" "$n"; done
both exact tiles_np1 1 --device cpu --gpus 2
"$PYTHON" "$SRC/tests/compare/compare_outputs.py" exact/whole exact/blocks
sample=(--train-users 200 --lambdas 1,5,20)
for n in 1 2; do
  run_mpi "$n" train --data g.h5 --out "s$n.h5" --metrics-json "s$n.json" --quiet "${sample[@]}"
  for mode in keep stream; do
    mkdir -p "sample_$mode"
    run_mpi "$n" train --data g.h5 --out "sample_$mode/s$n.h5" --metrics-json \
      "sample_$mode/s$n.json" --quiet --eval-block 37 --cross-kernel "$mode" "${sample[@]}"
    runs=$((runs + 1))
  done
done
mkdir -p sample_whole && mv s?.h5 s?.json sample_whole/
for mode in keep stream; do
  "$PYTHON" "$SRC/tests/compare/compare_outputs.py" sample_whole "sample_$mode"
done
for n in 1 2; do
  run_mpi "$n" train --data g.h5 --out "n$n.h5" --metrics-json "n$n.json" --quiet --centers 120
  for mode in keep stream; do
    mkdir -p "nystrom_$mode"
    run_mpi "$n" train --data g.h5 --out "nystrom_$mode/n$n.h5" --metrics-json \
      "nystrom_$mode/n$n.json" --quiet --eval-block 37 --cross-kernel "$mode" --centers 120
    runs=$((runs + 1))
  done
done
mkdir -p nystrom_whole && mv n?.h5 n?.json nystrom_whole/
for mode in keep stream; do
  "$PYTHON" "$SRC/tests/compare/compare_outputs.py" --rtol 1e-7 nystrom_whole "nystrom_$mode"
done
grep -q '"users"' exact/blocks/exact_np4.json
echo "eval_blocks: $runs runs in blocks of 37 users equal the runs in one block"
