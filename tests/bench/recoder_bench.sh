#!/usr/bin/env bash
# Benchmark (not a test): Recoder training speed — steps/s, GFLOP/s of the
# dense products (counted per GEMM: 2·m·n·k) and peak RSS — on a generated
# set, for several batch sizes, hidden widths and rank counts.
# Usage: recoder_bench.sh BUILD_DIR WORK_DIR [USERS ITEMS]   (default 6000 3700)
# One step costs about 2·B·d·h (first layer) + 2·B·h·|I| (sampled outputs),
# three times over for forward and backward less the input's gradient, with
# B users, d items, h hidden units and |I| sampled items.
set -euo pipefail
build=${1:?build dir}
work=${2:?work dir}
users=${3:-6000}
items=${4:-3700}
infae="$build/src/infae_mpi"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
mkdir -p "$work"
data="$work/r$users.h5"
if [ ! -s "$data" ]; then
  "$infae" generate --users "$users" --items "$items" --seed 11 --output "$work/r$users.dat" --quiet
  "$infae" prepare --format movielens --input "$work/r$users.dat" --output "$data" --quiet
fi
printf "%-6s %-6s %-8s %-6s %10s %10s %10s %12s %10s\n" ranks batch hidden loss steps/s GFLOP/s \
  "s/epoch" "test NDCG@10" "RSS MiB"
for ranks in 1 2; do
  for cfg in "256 200 softmax" "1024 200 softmax" "256 600,200 softmax" "256 200 mse"; do
    read -r batch hidden loss <<< "$cfg"
    /usr/bin/time -f "%M" -o "$work/rss" mpirun --oversubscribe -n "$ranks" "$infae" train \
      --data "$data" --model recoder --batch "$batch" --hidden "$hidden" --loss "$loss" \
      --epochs 3 --eval-every 3 --metrics-json "$work/rb.json" --quiet
    /usr/bin/python3 - "$work/rb.json" "$ranks" "$batch" "$hidden" "$loss" "$(cat "$work/rss")" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
r = j["recoder"]
epochs = r["epochs"]
print("%-6s %-6s %-8s %-6s %10.2f %10.1f %10.2f %12.3f %10.0f" % (
    sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], r["steps_per_s"],
    r["train_gflops_per_s"], j["timings_s"]["fit"] / epochs, j["test"]["NDCG@10"],
    float(sys.argv[6]) / 1024))
PY
  done
done
