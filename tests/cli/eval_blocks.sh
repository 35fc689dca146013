#!/usr/bin/env bash
# ∞-AE's evaluation a block of users at a time: with --eval-block 37 (many
# blocks, a partial last one, ranks whose last block is short or empty) the
# model files and metrics equal, bit for bit (tests/compare/compare_outputs.py),
# those of the default (one block at this size): the exact fit on 1, 2 and 4
# ranks, Nyström on 1 and 2, a user sample on 1 and 2 (λ > 0: at λ = 0 the
# sample's K is near-singular and its predictions are rounding), and K in
# column tiles (--device cpu --gpus 2).
source "$(dirname "$0")/common.sh"
gen_dataset g 500 180 20
cd "$WORK"
runs=0
both() { # NAME RANKS ARGS...
  local name=$1 n=$2
  shift 2
  mkdir -p whole blocks
  run_mpi "$n" train --data g.h5 --out "whole/$name.h5" --metrics-json "whole/$name.json" \
    --quiet "$@"
  run_mpi "$n" train --data g.h5 --out "blocks/$name.h5" --metrics-json "blocks/$name.json" \
    --quiet --eval-block 37 "$@"
  runs=$((runs + 1))
}
for n in 1 2 4; do both "exact_np$n" "$n"; done
for n in 1 2; do both "nystrom_np$n" "$n" --centers 120; done
for n in 1 2; do both "sample_np$n" "$n" --train-users 200 --lambdas 1,5,20; done
both tiles_np1 1 --device cpu --gpus 2
"$PYTHON" "$SRC/tests/compare/compare_outputs.py" whole blocks
grep -q '"users"' blocks/exact_np4.json
echo "eval_blocks: $runs runs in blocks of 37 users equal the runs in one block"
