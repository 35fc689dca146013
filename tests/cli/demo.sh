#!/usr/bin/env bash
# `mpirun -np 2 infae_mpi` with no arguments runs the pipeline on the
# embedded dataset and writes its metrics, which must be the numpy oracle's
# (tests/oracle/oracle.py) for each model on the default λ grids.
source "$(dirname "$0")/common.sh"
cd "$WORK"
run_mpi 2 > out.txt
cat out.txt
"$PYTHON" - <<'PY'
import json
for m in ("infae", "pop", "ease"):
    r = json.load(open(f"infae_demo/metrics_{m}.json"))
    assert r["model"] == m
    assert r["dataset"]["users"] == 1107, r["dataset"]["users"]  # users with >= 3 ratings
    for k in ("HR@10", "NDCG@10", "PSP@10", "HR@100", "NDCG@100", "PSP@100", "AUC"):
        assert 0 <= r["test"][k] <= 100, (m, k, r["test"][k])
import h5py
with h5py.File("infae_demo/model.h5", "r") as f:
    assert f["alpha"].shape == (1107, f.attrs["items"]), f["alpha"].shape
print("demo outputs present")
PY
# 1e-9 relative: both sides are fp64. Near ties (users with the same train
# items, EASE items with equal columns) may break either way: a value outside
# 1e-9 must lie in the oracle's near-tie range (its default --tie-rtol).
# EASE's oracle (8 inverses of 3,096 × 3,096) runs beside the other two.
check() {
  "$PYTHON" "$ORACLE/oracle.py" eval --data infae_demo/dataset.h5 --model "$1" \
    --compare "infae_demo/metrics_$1.json" --rtol 1e-9 > "oracle_$1.txt" 2>&1
}
check ease &
ease=$!
for m in infae pop; do check $m || { kill $ease; cat oracle_$m.txt; fail "$m: metrics differ from the oracle's"; }; done
wait $ease || { cat oracle_ease.txt; fail "ease: metrics differ from the oracle's"; }
tail -n 1 oracle_*.txt
