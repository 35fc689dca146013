#!/usr/bin/env bash
# Benchmark (not a test): Nyström ∞-AE (--centers M) against exact ∞-AE and
# against ∞-AE fit on a random user sample of the same size (--train-users M),
# on one prepared dataset: test metrics, best λ, time, GFLOP of the fit.
# Usage: nystrom_quality.sh BUILD_DIR WORK_DIR DATASET.h5 RANKS M [M ...]
set -euo pipefail
build=${1:?build dir}
work=${2:?work dir}
data=${3:?prepared dataset}
np=${4:?ranks}
shift 4
infae="$build/src/infae_mpi"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
mkdir -p "$work"
name=$(basename "$data" .h5)
run() { # run TAG ARGS...
  local tag=$1; shift
  mpirun --oversubscribe -n "$np" "$infae" train --data "$data" --quiet \
    --metrics-json "$work/${name}_$tag.json" "$@"
}
run exact
for m in "$@"; do
  run "nys$m" --centers "$m"
  run "smp$m" --train-users "$m"
done
/usr/bin/python3 - "$work" "$name" "$@" <<'PY'
import json, sys
work, name, ms = sys.argv[1], sys.argv[2], sys.argv[3:]
def load(tag):
    return json.load(open("%s/%s_%s.json" % (work, name, tag)))
ex = load("exact")
print("%s: %d users x %d items, %d ranks" % (name, ex["dataset"]["users"], ex["dataset"]["items"],
                                             ex["ranks"]))
print("%-22s %6s %6s %8s %8s %8s %8s %7s %8s %10s" % ("fit", "M", "best λ", "HR@10", "NDCG@10",
      "HR@100", "PSP@10", "AUC", "time s", "GFLOP"))
def row(label, m, j):
    t = j["test"]
    inf = j["infae"]
    gf = sum(s["flops"] for s in inf["steps"].values()) / 1e9
    print("%-22s %6s %6g %8.2f %8.2f %8.2f %8.2f %7.4f %8.1f %10.1f" % (label, m, j["best_lambda"],
          t["HR@10"], t["NDCG@10"], t["HR@100"], t["PSP@10"], t["AUC"], j["timings_s"]["total"], gf))
row("exact", ex["dataset"]["users"], ex)
for m in ms:
    ny, sm = load("nys" + m), load("smp" + m)
    row("Nyström (--centers)", ny["infae"]["fit_users"], ny)
    row("user sample", sm["infae"]["fit_users"], sm)
PY
