#!/usr/bin/env bash
# Recoder: the model file's forward pass and metrics against numpy
# (tests/oracle/recoder_check.py), the same result on 1, 2 and 4 ranks (up to
# summation order), training on a summary, and a model that beats PopRec.
source "$(dirname "$0")/common.sh"
gen_dataset g 300 180 25
# shellcheck disable=SC2054
common=(--data "$WORK/g.h5" --model recoder --hidden 40,20 --epochs 30 --batch 32 --lr 0.01
        --quiet)
for n in 1 2 4; do
  run_mpi "$n" train "${common[@]}" --out "$WORK/rec$n.h5" --metrics-json "$WORK/rec$n.json"
done
"$PYTHON" "$ORACLE/recoder_check.py" --data "$WORK/g.h5" --model "$WORK/rec2.h5" \
  --metrics "$WORK/rec2.json" --rtol 1e-9
# MSE with confidence weights and relu, on the oracle too.
run_mpi 2 train --data "$WORK/g.h5" --model recoder --hidden 30 --activation relu --loss mse \
  --confidence 2 --epochs 6 --eval-every 2 --out "$WORK/mse.h5" --metrics-json "$WORK/mse.json" \
  --quiet
"$PYTHON" "$ORACLE/recoder_check.py" --data "$WORK/g.h5" --model "$WORK/mse.h5" \
  --metrics "$WORK/mse.json" --rtol 1e-9
run_mpi 1 train --data "$WORK/g.h5" --model pop --metrics-json "$WORK/pop.json" --quiet
# A summary (random users) as training rows.
run_mpi 2 distill --data "$WORK/g.h5" --sampler random --budget 120 --out "$WORK/s.h5" \
  --no-ease --quiet
run_mpi 2 train --data "$WORK/g.h5" --model recoder --train-on "$WORK/s.h5" --epochs 20 \
  --batch 32 --metrics-json "$WORK/on.json" --quiet
"$PYTHON" - "$WORK" <<'PY'
import json, sys, h5py, numpy as np
w = sys.argv[1]
runs = {n: json.load(open("%s/rec%d.json" % (w, n))) for n in (1, 2, 4)}
for n in (2, 4):
    for split in ("test",):
        for k, v in runs[1][split].items():
            got = runs[n][split][k]
            assert abs(got - v) <= 1e-8 * max(1, abs(v)), (n, k, got, v)
    assert runs[n]["best_epoch"] == runs[1]["best_epoch"], n
    ws = [h5py.File("%s/rec%d.h5" % (w, m), "r") for m in (1, n)]
    for name in ("W1", "b1", "W2", "b2", "W3", "b3"):
        d = np.max(np.abs(ws[0][name][...] - ws[1][name][...]))
        assert d < 1e-9, (n, name, d)
print("1, 2 and 4 ranks agree (test metrics, best epoch, weights)")
pop = json.load(open(w + "/pop.json"))["test"]
for k in ("HR@10", "NDCG@10"):
    assert runs[1]["test"][k] > pop[k], (k, runs[1]["test"][k], pop[k])
on = json.load(open(w + "/on.json"))
assert on["recoder"]["fit_users"] == 120, on["recoder"]
assert on["test"]["HR@10"] > 0.5 * pop["HR@10"], on["test"]
print("beats PopRec:", runs[1]["test"]["NDCG@10"], ">", pop["NDCG@10"],
      "; on a 120-user summary NDCG@10", on["test"]["NDCG@10"])
PY
