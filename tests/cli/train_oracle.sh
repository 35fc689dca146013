#!/usr/bin/env bash
# PopRec and EASE on N ranks against the numpy oracle (tests/oracle/oracle.py).
source "$(dirname "$0")/common.sh"
n=${1:-1}
gen_dataset g 400 250 30
run_mpi "$n" train --data "$WORK/g.h5" --model pop --metrics-json "$WORK/pop.json" --quiet
run_mpi "$n" train --data "$WORK/g.h5" --model ease --lambdas 1,10,100,1000 \
  --metrics-json "$WORK/ease.json" --quiet
# 1e-9 relative: both sides are fp64; EASE's inverse differs by rounding only.
"$PYTHON" "$ORACLE/oracle.py" eval --data "$WORK/g.h5" --model pop \
  --compare "$WORK/pop.json" --rtol 1e-9
"$PYTHON" "$ORACLE/oracle.py" eval --data "$WORK/g.h5" --model ease --lambdas 1,10,100,1000 \
  --compare "$WORK/ease.json" --rtol 1e-9
# The generated data has taste clusters: EASE must beat popularity.
"$PYTHON" - "$WORK/pop.json" "$WORK/ease.json" <<'PY'
import json, sys
pop, ease = (json.load(open(p)) for p in sys.argv[1:3])
for k in ("HR@10", "NDCG@10", "HR@100"):
    assert ease["test"][k] > pop["test"][k], (k, ease["test"][k], pop["test"][k])
print("EASE beats PopRec:", {k: (round(ease["test"][k], 2), round(pop["test"][k], 2))
                             for k in ("HR@10", "NDCG@10", "HR@100")})
PY
