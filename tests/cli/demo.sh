#!/usr/bin/env bash
# `mpirun -np 2 infae_mpi` with no arguments runs the pipeline on the
# embedded dataset and writes its metrics.
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
