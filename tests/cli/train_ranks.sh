#!/usr/bin/env bash
# The same training on 1, 2 and 4 ranks gives the same metrics (summation
# order only: 1e-12 relative).
source "$(dirname "$0")/common.sh"
gen_dataset g 300 200 25
for n in 1 2 4; do
  run_mpi "$n" train --data "$WORK/g.h5" --model ease --lambdas 10,100 \
    --metrics-json "$WORK/ease$n.json" --quiet
done
"$PYTHON" - "$WORK"/ease1.json "$WORK"/ease2.json "$WORK"/ease4.json <<'PY'
import json, sys
runs = [json.load(open(p)) for p in sys.argv[1:]]
base = runs[0]
for r in runs[1:]:
    assert r["best_lambda"] == base["best_lambda"]
    for lam in base["val"]:
        for k, v in base["val"][lam].items():
            w = r["val"][lam][k]
            assert abs(w - v) <= 1e-12 * abs(v), (lam, k, v, w)
    for k, v in base["test"].items():
        assert abs(r["test"][k] - v) <= 1e-12 * abs(v), (k, v, r["test"][k])
print("1, 2 and 4 ranks agree")
PY
