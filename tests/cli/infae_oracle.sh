#!/usr/bin/env bash
# ∞-AE on N ranks (optionally on a given grid) against the numpy oracle:
# trace(K), every validation metric per λ, best λ and test metrics to 1e-9.
# Block size 32 puts several blocks on every rank.
source "$(dirname "$0")/common.sh"
n=${1:-1}
grid=${2:-}
gen_dataset g 400 250 30
lam=1,5,20,100
run_mpi "$n" train --data "$WORK/g.h5" --lambdas $lam --block-size 32 ${grid:+--grid $grid} \
  --metrics-json "$WORK/infae.json" --quiet
"$PYTHON" "$ORACLE/oracle.py" eval --data "$WORK/g.h5" --model infae --lambdas $lam \
  --compare "$WORK/infae.json" --rtol 1e-9
# A random sample of fit users (--train-users): the oracle fits on the same
# users, listed in the model file, and scores every user.
run_mpi "$n" train --data "$WORK/g.h5" --lambdas $lam --block-size 32 --train-users 150 \
  ${grid:+--grid $grid} --out "$WORK/sample.h5" --metrics-json "$WORK/sample.json" --quiet
"$PYTHON" "$ORACLE/oracle.py" eval --data "$WORK/g.h5" --model infae --lambdas $lam \
  --fit-users-from "$WORK/sample.h5" --compare "$WORK/sample.json" --rtol 1e-9
# Nyström (--centers): every user fit through 120 centers, against the
# oracle's normal equations with the centers listed in the model file; with
# every distinct row as a center it is exact ∞-AE (the same metrics).
run_mpi "$n" train --data "$WORK/g.h5" --lambdas $lam --block-size 32 --centers 120 \
  ${grid:+--grid $grid} --out "$WORK/nys.h5" --metrics-json "$WORK/nys.json" --quiet
"$PYTHON" "$ORACLE/oracle.py" eval --data "$WORK/g.h5" --model infae --lambdas $lam \
  --fit-users-from "$WORK/nys.h5" --nystrom --compare "$WORK/nys.json" --rtol 1e-9
"$PYTHON" - "$ORACLE" "$WORK" <<'PY'
import json, sys
import h5py, numpy as np
sys.path.insert(0, sys.argv[1])
import oracle
w = sys.argv[2]
ds = oracle.load_dataset(w + "/g.h5")
lam = json.load(open(w + "/nys.json"))["best_lambda"]
with h5py.File(w + "/nys.h5", "r") as m:
    assert m.attrs["fit"] in (b"nystrom", "nystrom")
    centers = m["fit/user_index"][...]
    alpha = m["alpha"][...]
rows = {tuple(ds["train"][int(c)].indices) for c in centers}
assert len(rows) == len(centers), "two centers have the same train row"
fit = oracle.NystromFit(ds["train"], lam, oracle.Centers(centers))
err = np.abs(alpha - fit.alpha).max() / np.abs(fit.alpha).max()
assert err < 1e-8, err
print("Nyström model file: %d distinct centers, α within %.2g of the oracle's" % (len(centers), err))
PY
run_mpi "$n" train --data "$WORK/g.h5" --lambdas $lam --block-size 32 --centers 100000 \
  ${grid:+--grid $grid} --metrics-json "$WORK/nys_all.json" --quiet
"$PYTHON" - "$WORK/nys_all.json" "$WORK/infae.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["infae"]["fit"] == "nystrom" and b["infae"]["fit"] == "exact"
worst = 0.0
for where in [("val", lam) for lam in b["val"]] + [("test",)]:
    ma, mb = a, b
    for k in where:
        ma, mb = ma[k], mb[k]
    for k, v in mb.items():
        worst = max(worst, abs(ma[k] - v) / max(abs(v), 1e-300))
assert worst <= 1e-9 and a["best_lambda"] == b["best_lambda"], (worst, a["best_lambda"])
print("Nyström with all %d distinct rows as centers = exact ∞-AE (max rel diff %.2g)"
      % (a["infae"]["fit_users"], worst))
PY
# fp32: the same protocol in single precision stays within 1e-3 of fp64.
run_mpi "$n" train --data "$WORK/g.h5" --lambdas $lam --block-size 32 --precision fp32 \
  ${grid:+--grid $grid} --metrics-json "$WORK/fp32.json" --quiet
"$PYTHON" "$ORACLE/oracle.py" eval --data "$WORK/g.h5" --model infae --lambdas $lam \
  --compare "$WORK/fp32.json" --rtol 1e-3
# One rank with K spread over devices (--gpus; here host slices of the same
# layout, --device cpu): 13 column tiles of 32 over 3 slices, and more slices
# than tiles of X; the same metrics, and fp32 within 1e-3. λ = 0 fails to
# factor part way: K is remade for the next λ.
if [ "$n" = 1 ] && [ -z "$grid" ]; then
  run_mpi 1 train --data "$WORK/g.h5" --lambdas 0,$lam --block-size 32 --device cpu --gpus 3 \
    --out "$WORK/md.h5" --metrics-json "$WORK/md.json" --quiet
  "$PYTHON" "$ORACLE/oracle.py" eval --data "$WORK/g.h5" --model infae --lambdas 0,$lam \
    --compare "$WORK/md.json" --rtol 1e-9
  grep -Eq '"device":[[:space:]]*"3 host slices' "$WORK/md.json" || fail "--gpus 3 did not report its slices"
  run_mpi 1 train --data "$WORK/g.h5" --lambdas $lam --block-size 32 --device cpu \
    --out "$WORK/one.h5" --quiet
  "$PYTHON" - "$WORK/md.h5" "$WORK/one.h5" <<'PY'
import sys
import h5py, numpy as np
a, b = (h5py.File(p, "r")["alpha"][...] for p in sys.argv[1:3])
err = np.abs(a - b).max() / np.abs(b).max()
print("--gpus 3 model file: α within %.2g of one device's" % err)
assert err < 1e-12, err  # the same solve, in another summation order
PY
  run_mpi 1 train --data "$WORK/g.h5" --lambdas $lam --block-size 32 --device cpu --gpus 11 \
    --precision fp32 --metrics-json "$WORK/md32.json" --quiet
  "$PYTHON" "$ORACLE/oracle.py" eval --data "$WORK/g.h5" --model infae --lambdas $lam \
    --compare "$WORK/md32.json" --rtol 1e-3
fi
# ∞-AE must beat popularity on clustered data.
run_mpi "$n" train --data "$WORK/g.h5" --model pop --metrics-json "$WORK/pop.json" --quiet
"$PYTHON" - "$WORK/pop.json" "$WORK/infae.json" <<'PY'
import json, sys
pop, inf = (json.load(open(p)) for p in sys.argv[1:3])
for k in ("HR@10", "NDCG@10", "HR@100"):
    assert inf["test"][k] > pop["test"][k], (k, inf["test"][k], pop["test"][k])
print("∞-AE beats PopRec:", {k: (round(inf["test"][k], 2), round(pop["test"][k], 2))
                              for k in ("HR@10", "NDCG@10", "HR@100")})
PY
