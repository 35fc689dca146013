#!/usr/bin/env bash
# `infae_mpi study` on generated data: every sampler, two budgets, three
# models, a noise level. Checks the CSV (every row present, the all-users
# ∞-AE equal to the summary-free path), the summaries (tests/oracle/
# distill_check.py, random interactions included), the noisy dataset against
# its definition, the plots, and that a second run reuses the summaries.
source "$(dirname "$0")/common.sh"
gen_dataset g 240 150 20
# shellcheck disable=SC2054
args=(study --data "$WORK/g.h5" --out-dir "$WORK/st" --budgets 30,80,5000 --steps 20
      --samples 5 --batch 100 --noise 0,4 --noise-budget 60 --models infae,ease,recoder
      --recoder-epochs 8 --quiet)
run_mpi 2 "${args[@]}"
for s in random head interactions distill; do
  "$PYTHON" "$ORACLE/distill_check.py" --data "$WORK/g.h5" --summary "$WORK/st/summaries/noise0_${s}_80.h5"
done
# The all-users summary through ∞-AE is `train --model infae` with the same grid.
run_mpi 2 train --data "$WORK/g.h5" --model infae --lambdas 1e-5,1e-3,0.1,1,5,50 \
  --metrics-json "$WORK/full.json" --quiet
if command -v gnuplot > /dev/null; then
  for f in sampling_infae sampling_ease sampling_recoder noise_infae noise_ease noise_recoder; do
    [ -s "$WORK/st/$f.png" ] || fail "no plot $f.png"
  done
fi
cp "$WORK/st/study.csv" "$WORK/first.csv"
touch "$WORK/mark"
run_mpi 2 "${args[@]}"
"$PYTHON" - "$WORK" <<'PY'
import csv, json, os, sys
import numpy as np
sys.path.insert(0, os.environ["SRC"] + "/tests/oracle")
import oracle
w = sys.argv[1]
rows = list(csv.DictReader(open(w + "/st/study.csv")))
keys = {(r["noise_pct"], r["sampler"], r["budget"], r["model"]) for r in rows}
n = str(oracle.load_dataset(w + "/g.h5")["train"].shape[0])   # users after prepare
want = set()
for m in ("infae", "ease", "recoder"):
    for s in ("random", "head", "interactions", "distill"):
        for b in ("30", "80"):
            want.add(("0", s, b, m))
        want.add(("0", s, "60", m))   # the noise budget, on clean data too
        want.add(("4", s, "60", m))
    want.add(("0", "full", n, m))
    want.add(("4", "full", n, m))
assert keys == want, sorted(keys ^ want)
assert len(rows) == len(want), len(rows)
full = json.load(open(w + "/full.json"))["test"]
r = [x for x in rows if x["sampler"] == "full" and x["model"] == "infae" and x["noise_pct"] == "0"][0]
for k, v in full.items():
    if k == "users":
        continue
    assert abs(float(r[k]) - v) <= 1e-9 * max(1, abs(v)), (k, r[k], v)
print("all-users ∞-AE row equals train --model infae:", r["NDCG@10"])
# A second run reuses every summary and gives the same table.
first = list(csv.DictReader(open(w + "/first.csv")))
for a, b in zip(first, rows):
    for k in a:
        if k != "seconds":
            assert a[k] == b[k], (k, a[k], b[k])
for f in os.listdir(w + "/st/summaries"):
    assert os.path.getmtime(w + "/st/summaries/" + f) < os.path.getmtime(w + "/mark"), f
print("second run: summaries reused, same results")
# The noisy copy: validation, test and negatives kept; each train row differs
# from the clean one in round(4 % of 150) = 6 items, none held out.
clean, noisy = oracle.load_dataset(w + "/g.h5"), oracle.load_dataset(w + "/st/noisy_4.h5")
for s in ("val", "test", "negatives"):
    assert (clean[s] != noisy[s]).nnz == 0, s
diff = (clean["train"] != noisy["train"]).astype(np.int64)
flips = np.asarray(diff.sum(axis=1)).ravel()
assert (flips == 6).all(), np.unique(flips)
held = (clean["val"] + clean["test"]).astype(bool)
assert diff.multiply(held).nnz == 0
assert (np.asarray(noisy["train"].sum(axis=0)).ravel() == noisy["item_train_count"]).all()
print("noisy copy: 6 flips per user, outside validation and test; item counts updated")
PY
