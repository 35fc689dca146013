#!/usr/bin/env bash
# The same results on 4, 8 and 16 oversubscribed ranks (grids 2x2, 4x2, 4x4)
# as on one: exact and Nyström ∞-AE (every metric within 1e-9) and
# Distill-CF (S within 1e-11, logits within 1e-9, the same best step).
source "$(dirname "$0")/common.sh"
gen_dataset g 500 300 25
for n in 1 4 8 16; do
  run_mpi "$n" train --data "$WORK/g.h5" --lambdas 1,5,20 --block-size 16 \
    --metrics-json "$WORK/e$n.json" --quiet
  run_mpi "$n" train --data "$WORK/g.h5" --lambdas 1,5,20 --block-size 16 --centers 100 \
    --metrics-json "$WORK/n$n.json" --quiet
  run_mpi "$n" distill --data "$WORK/g.h5" --out "$WORK/s$n.h5" --budget 32 --samples 8 \
    --steps 60 --no-ease --log-every 0 --quiet
done
cd "$WORK" || exit 1
"$PYTHON" - <<'PY'
import json
import h5py, numpy as np
for tag, name in (("e", "exact"), ("n", "Nyström")):
    base = json.load(open(tag + "1.json"))
    for n in (4, 8, 16):
        r = json.load(open("%s%d.json" % (tag, n)))
        w = 0.0
        for lam in base["val"]:
            for k, v in base["val"][lam].items():
                w = max(w, abs(r["val"][lam][k] - v) / max(abs(v), 1e-300))
        for k, v in base["test"].items():
            w = max(w, abs(r["test"][k] - v) / max(abs(v), 1e-300))
        assert r["best_lambda"] == base["best_lambda"] and w <= 1e-9, (tag, n, w)
        print("%s ∞-AE, %2d ranks (grid %s) vs 1: max rel diff %.2g"
              % (name, n, r["infae"]["grid"], w))
with h5py.File("s1.h5", "r") as a:
    for n in (4, 8, 16):
        with h5py.File("s%d.h5" % n, "r") as b:
            ds = np.abs(a["S"][...] - b["S"][...]).max()
            dl = np.abs(a["logits"][...] - b["logits"][...]).max()
            assert ds <= 1e-11 and dl <= 1e-9, (n, ds, dl)
            assert a["hyper"].attrs["best_step"] == b["hyper"].attrs["best_step"], n
            print("Distill-CF, %2d ranks vs 1: max |ΔS| %.2g, max |Δlogits| %.2g" % (n, ds, dl))
PY
