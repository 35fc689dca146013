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
# fp32: the same protocol in single precision stays within 1e-3 of fp64.
run_mpi "$n" train --data "$WORK/g.h5" --lambdas $lam --block-size 32 --precision fp32 \
  ${grid:+--grid $grid} --metrics-json "$WORK/fp32.json" --quiet
"$PYTHON" "$ORACLE/oracle.py" eval --data "$WORK/g.h5" --model infae --lambdas $lam \
  --compare "$WORK/fp32.json" --rtol 1e-3
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
