#!/usr/bin/env bash
# ∞-AE and Distill-CF with the NTK of 2 and 3 hidden layers (--depth) against
# the numpy oracle's layer-by-layer kernel recursion: every validation metric
# per λ, the best λ and the test metrics to 1e-9 for the exact fit (depths 2
# and 3) and Nyström (depth 2) on N ranks; a depth-2 model file's attributes
# and its served scores; a depth-2 Distill-CF summary checked by
# distill_check.py (which takes the depth from /hyper) and `train
# --train-on` at its depth; bad depths refused.
source "$(dirname "$0")/common.sh"
n=${1:-2}
gen_dataset g 300 200 25
cd "$WORK"
lam=1,5,20
for depth in 2 3; do
  run_mpi "$n" train --data g.h5 --depth $depth --lambdas $lam --block-size 32 \
    --metrics-json "d$depth.json" --out "d$depth.h5" --quiet
  "$PYTHON" "$ORACLE/oracle.py" eval --data g.h5 --model infae --depth $depth --lambdas $lam \
    --compare "d$depth.json" --rtol 1e-9
done
run_mpi "$n" train --data g.h5 --depth 2 --lambdas $lam --centers 90 --out nys.h5 \
  --metrics-json nys.json --quiet
"$PYTHON" "$ORACLE/oracle.py" eval --data g.h5 --model infae --depth 2 --lambdas $lam \
  --fit-users-from nys.h5 --nystrom --compare nys.json --rtol 1e-9
# Depth 1 is not depth 2: the oracle at depth 1 must disagree with the depth-2 run.
if "$PYTHON" "$ORACLE/oracle.py" eval --data g.h5 --model infae --lambdas $lam \
  --compare d2.json --rtol 1e-9 > /dev/null 2>&1; then
  fail "depth-2 metrics equal depth 1's: the depth is not used"
fi

# The model file says its depth, and `recommend` scores with it.
run_mpi "$n" recommend --model d2.h5 --all-users -k 5 --output rec.tsv --quiet
"$PYTHON" - "$ORACLE" <<'PY'
import sys
import h5py, numpy as np
sys.path.insert(0, sys.argv[1])
import oracle
oracle.DEPTH = 2
m = h5py.File("d2.h5", "r")
assert int(m.attrs["depth"]) == 2, m.attrs["depth"]
assert "x 2" in oracle._attr(m.attrs["kernel"]), m.attrs["kernel"]
ds = oracle.load_dataset("g.h5")
fit = oracle.InfaeFit(ds["train"], m.attrs["lambda"])
err = np.abs(m["alpha"][...] - fit.alpha).max() / np.abs(fit.alpha).max()
assert err < 1e-9, err
f = h5py.File("g.h5", "r")
items = {s.decode(): i for i, s in enumerate(f["items/ids"][...])}
users = {s.decode(): u for u, s in enumerate(f["users/ids"][...])}
p = fit.scores(oracle.binary_union(ds["train"], ds["val"]))
worst, seen = 0.0, 0
for line in open("rec.tsv"):
    if line.startswith("#"):
        continue
    u, i, s, _ = line.rstrip("\n").split("\t")
    want = p[users[u], items[i]]
    worst = max(worst, abs(float(s) - want) / max(abs(want), 1e-12))
    seen += 1
assert seen == 5 * len(users) and worst < 1e-9, (seen, worst)
print("depth-2 model: α within %.1e of the oracle, %d served scores within %.1e" % (err, seen, worst))
PY

# Distill-CF at depth 2: the summary, its /hyper and its models against the oracle.
run_mpi "$n" distill --data g.h5 --out s2.h5 --depth 2 --budget 12 --steps 6 --samples 3 \
  --no-ease --quiet
"$PYTHON" - <<'PY'
import h5py
assert int(h5py.File("s2.h5", "r")["hyper"].attrs["depth"]) == 2
PY
"$PYTHON" "$ORACLE/distill_check.py" --data g.h5 --summary s2.h5
# `train --train-on` fits the summary at its own depth unless told, and warns
# when told another.
run_mpi "$n" train --data g.h5 --train-on s2.h5 --metrics-json on2.json --quiet
"$PYTHON" "$ORACLE/oracle.py" eval --data g.h5 --model infae --sample-from s2.h5 --depth 2 \
  --lambdas 1e-5,1e-3,0.1,1,5,50 --compare on2.json --rtol 1e-9
run_mpi "$n" train --data g.h5 --train-on s2.h5 --depth 1 --metrics-json on1.json > on1.log 2>&1
grep -q "NTK depth 1, but s2.h5 was distilled at depth 2" on1.log ||
  fail "no warning for --depth 1 on a depth-2 summary: $(cat on1.log)"
"$PYTHON" "$ORACLE/oracle.py" eval --data g.h5 --model infae --sample-from s2.h5 --depth 1 \
  --lambdas 1e-5,1e-3,0.1,1,5,50 --compare on1.json --rtol 1e-9

expect_error "--depth must be between 1 and 16 (got 0)" train --data g.h5 --depth 0
expect_error "--depth must be between 1 and 16 (got 17)" distill --data g.h5 --out out.h5 --depth 17
echo "depth_oracle: ok"
