#!/usr/bin/env bash
# Benchmark (not a test): ∞-AE training time and GFLOP/s per step against the
# measured GEMM peak, fp64 and fp32, on 1 and 2 ranks.
# Usage: infae_bench.sh BUILD_DIR WORK_DIR DATASET.h5... (prepared datasets)
# With no dataset, generates the ML-1M-sized 6,000 × 3,700 set.
set -euo pipefail
build=${1:?build dir}
work=${2:?work dir}
shift 2
infae="$build/src/infae_mpi"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
mpi() { local n=$1; shift; mpirun --oversubscribe -n "$n" "$@"; }
mkdir -p "$work"
if [ $# -eq 0 ]; then
  "$infae" generate --users 6000 --items 3700 --output "$work/ml1m.dat" --quiet
  "$infae" prepare --format movielens --input "$work/ml1m.dat" --output "$work/ml1m.h5" --quiet
  set -- "$work/ml1m.h5"
fi
declare -A peak
for n in 1 2; do
  line=$(mpi "$n" "$build/tests/gemm_peak" 3000)
  echo "$line"
  peak[fp64_$n]=$(echo "$line" | sed -E 's/.*DGEMM [0-9.]+ GFLOP\/s per rank, ([0-9.]+) in all.*/\1/')
  peak[fp32_$n]=$(echo "$line" | sed -E 's/.*SGEMM [0-9.]+ per rank, ([0-9.]+) in all.*/\1/')
done
printf '\n%-14s %-5s %2s %8s | %-22s | %-22s | %-22s | %-22s | %6s %9s\n' dataset prec np "total s" \
  "gram s GF/s %peak" "Cholesky s GF/s %peak" "solve s GF/s %peak" "test s GF/s %peak" "HR@10" "peak RSS"
for data in "$@"; do
  for prec in fp64 fp32; do
    for n in 1 2; do
      json="$work/bench_$(basename "$data" .h5)_${prec}_$n.json"
      mpi "$n" "$infae" train --data "$data" --precision "$prec" --metrics-json "$json" \
        --quiet > /dev/null
      /usr/bin/python3 - "$json" "$(basename "$data" .h5)" "$prec" "$n" "${peak[${prec}_$n]}" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
name, prec, n, peak = sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
st = r["infae"]["steps"]
def col(*keys):
    s = sum(st[k]["seconds"] for k in keys)
    f = sum(st[k]["flops"] for k in keys)
    g = f / s / 1e9 if s > 0 else 0.0
    return "%6.2f %6.1f %5.0f%%" % (s, g, 100 * g / peak)
print("%-14s %-5s %2d %8.2f | %s | %s | %s | %s | %6.2f %6.0f MB  (λ=%g of %d)" % (
    name, prec, n, r["timings_s"]["total"], col("gram"), col("factor"), col("solve"),
    col("test_gram", "test_gemm"), r["test"]["HR@10"], r["peak_rss_bytes"] / 1e6 * n,
    r["best_lambda"], len(r["val"])))
PY
    done
  done
done
echo "(peak RSS: of the largest rank × ranks; %peak: of the measured GEMM peak for that precision and rank count)"
