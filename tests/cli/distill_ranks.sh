#!/usr/bin/env bash
# Distill-CF gives the same summary on 1, 2 and 4 ranks (up to summation
# order in the gradient all-reduce).
source "$(dirname "$0")/common.sh"
gen_dataset g 300 200 25
for n in 1 2 4; do
  run_mpi "$n" distill --data "$WORK/g.h5" --out "$WORK/s$n.h5" --budget 15 --samples 6 \
    --steps 60 --no-ease --log-every 0 --quiet
done
"$PYTHON" - "$WORK"/s{1,2,4}.h5 <<'PY'
import sys
import h5py
import numpy as np
f = [h5py.File(p, "r") for p in sys.argv[1:]]
for g, n in zip(f[1:], (2, 4)):
    for k, tol in (("S", 1e-11), ("logits", 1e-9), ("curve/val_HR@100", 1e-9)):
        diff = np.abs(f[0][k][...] - g[k][...]).max()
        print("%d ranks vs 1: max |Δ %s| = %.3g" % (n, k, diff))
        assert diff <= tol, (n, k, diff)
    a, b = dict(f[0]["metrics/infae"].attrs), dict(g["metrics/infae"].attrs)
    for k in a:
        if k.startswith("test_"):
            assert abs(a[k] - b[k]) <= 1e-9 * abs(a[k]), (n, k, a[k], b[k])
    assert f[0]["hyper"].attrs["best_step"] == g["hyper"].attrs["best_step"]
print("OK: the same summary on 1, 2 and 4 ranks")
PY
