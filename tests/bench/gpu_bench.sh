#!/usr/bin/env bash
# Benchmark (not a test): the full ∞-AE protocol (Gram, 6 λ of Cholesky +
# solve + validation, test) on one GPU against the same run on the CPU, on
# the ML-1M-sized 6,000 × 3,700 set and the Netflix-sample-sized
# 25,000 × 17,770 set, fp64 and fp32; also K spread by cusolverMg over GPUS
# GPUs (device "mg": --gpus $GPUS, default 1, which sets cusolverMg against
# cuSOLVER on one GPU). Prints seconds and GFLOP/s per step. DEVICES chooses
# the runs (default "cuda mg cpu"); INFAE the program instead of
# BUILD_DIR/src/infae_mpi.
# Usage: [GPUS=N] [DEVICES=...] gpu_bench.sh BUILD_DIR WORK_DIR [CPU_THREADS]
set -euo pipefail
build=${1-}
work=${2:?work dir}
threads=${3:-$(nproc)}
infae=${INFAE:-$build/src/infae_mpi}
[ -x "$infae" ] || { echo "no infae_mpi at '$infae' (BUILD_DIR with -DINFAE_CUDA=ON, or INFAE)"; exit 2; }
py=$(command -v /usr/bin/python3 || command -v python3)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p "$work"
"$infae" --version
declare -A sets=([ml1m]="6000 3700 160" [netflix25k]="25000 17770 200")
for name in ml1m netflix25k; do
  read -r users items mean <<< "${sets[$name]}"
  if [ ! -f "$work/$name.h5" ]; then
    t0=$(date +%s)
    "$infae" generate --users "$users" --items "$items" --mean-items "$mean" \
      --output "$work/$name.dat" --quiet
    "$infae" prepare --format movielens --input "$work/$name.dat" --output "$work/$name.h5" --quiet
    echo "$name: generated and prepared in $(($(date +%s) - t0)) s"
  fi
done
printf '\n%-11s %-5s %-5s %8s | %-14s | %-14s | %-14s | %-14s | %-7s | %6s | %s\n' dataset prec device \
  "total s" "gram s GF/s" "Cholesky s GF/s" "solve s GF/s" "test s GF/s" "val s" "HR@10" "host RSS"
for name in ml1m netflix25k; do
  for prec in fp64 fp32; do
    for dev in ${DEVICES:-cuda mg cpu}; do
      json="$work/${name}_${prec}_$dev.json"
      args=(--device "$dev")
      [ "$dev" != mg ] || args=(--device cuda --gpus "${GPUS:-1}")
      OPENBLAS_NUM_THREADS=$threads "$infae" train --data "$work/$name.h5" "${args[@]}" \
        --precision "$prec" --metrics-json "$json" --quiet > /dev/null
      "$py" - "$json" "$name" "$prec" "$dev" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
st = r["infae"]["steps"]
def col(*keys):
    s = sum(st[k]["seconds"] for k in keys)
    f = sum(st[k]["flops"] for k in keys)
    return "%6.3f %7.0f" % (s, f / s / 1e9 if s > 0 else 0.0)
t = r["timings_s"]
print("%-11s %-5s %-5s %8.3f | %s | %s | %s | %s | %7.3f | %6.2f | %.1f GB" % (
    sys.argv[2], sys.argv[3], sys.argv[4], t["total"], col("gram"), col("factor"), col("solve"),
    col("test_gram", "test_gemm"), t["validation"], r["test"]["HR@10"], r["peak_rss_bytes"] / 1e9))
PY
    done
  done
done

# Distill-CF at the paper's Netflix-sample setting: μ 500, γ 200, d 17,770,
# every one of the 25,000 users in each step's batch. Steps/s leave out the
# validations (host). GFLOP/s counts the device step's five μ·d·b GEMMs (the
# CPU step is sparse and does fewer flops: no rate for it).
printf '\n%-11s %-5s %9s %9s %9s\n' distill device "steps/s" "s/step" "GFLOP/s"
for dev in ${DEVICES:-cuda cpu}; do
  [ "$dev" != mg ] || continue
  json="$work/distill_$dev.json"
  OPENBLAS_NUM_THREADS=$threads "$infae" distill --data "$work/netflix25k.h5" --device "$dev" \
    --budget 500 --samples 200 --steps "${DISTILL_STEPS:-20}" --no-ease \
    --out "$work/distill_$dev.h5" --metrics-json "$json" --quiet > /dev/null
  "$py" - "$json" "$dev" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
steps = r["steps_per_s"] * r["seconds"]
per = (r["seconds"] - r["validation_seconds"]) / steps
flops = 10.0 * r["budget"] * r["items"] * r["users"]
rate = "%9.0f" % (flops / per / 1e9) if sys.argv[2] == "cuda" else "%9s" % "-"
print("%-11s %-5s %9.3f %9.3f %s" % ("netflix25k", sys.argv[2], 1 / per, per, rate))
PY
done
