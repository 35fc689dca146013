#!/usr/bin/env bash
# Recoder with --device cuda (cuBLAS GEMMs, the kernels of kernels/, NCCL on
# two ranks) against --device cpu, on 1 and 2 ranks, softmax and MSE: the same
# best epoch, every weight within 1e-9 and every test metric within 1e-9
# relative (the dropout draws are the same counter-based stream; only
# summation order differs); the CUDA model passes the numpy oracle.
# Skipped (77) when no GPU is visible.
source "$(dirname "$0")/common.sh"
need_gpu
cd "$WORK"
gen_dataset g 600 400 30

compare() { # compare A B: A.h5 and A.json against B.h5 and B.json
  "$PYTHON" - "$@" <<'PY'
import json, sys
import h5py, numpy as np
a, b = h5py.File(sys.argv[1] + ".h5", "r"), h5py.File(sys.argv[2] + ".h5", "r")
ja, jb = json.load(open(sys.argv[1] + ".json")), json.load(open(sys.argv[2] + ".json"))
assert ja["best_epoch"] == jb["best_epoch"], (ja["best_epoch"], jb["best_epoch"])
layers = int(b.attrs["layers"])
worst = 0.0
for l in range(1, layers + 1):
    for name in ("W%d" % l, "b%d" % l):
        wa, wb = a[name][...], b[name][...]
        assert wa.shape == wb.shape, (name, wa.shape, wb.shape)
        worst = max(worst, float(np.abs(wa - wb).max()))
for k, v in jb["test"].items():
    assert abs(ja["test"][k] - v) <= 1e-9 * max(1.0, abs(v)), (k, ja["test"][k], v)
print("%s vs %s: best epoch %d, weights max abs. difference %.2e"
      % (sys.argv[1], sys.argv[2], jb["best_epoch"], worst))
assert worst <= 1e-9, worst
PY
}

for n in 1 2; do
  for loss in softmax mse; do
    for dev in cpu cuda; do
      run_mpi "$n" train --data g.h5 --model recoder --device $dev --loss $loss --hidden 64,32 \
        --epochs 12 --eval-every 3 --batch 64 --lr 0.005 --out ${dev}_${n}_$loss.h5 \
        --metrics-json ${dev}_${n}_$loss.json --quiet
    done
    grep -Eq '"device":[[:space:]]*"cuda' cuda_${n}_$loss.json || fail "the cuda run did not report a GPU"
    compare cuda_${n}_$loss cpu_${n}_$loss
  done
done
"$PYTHON" "$ORACLE/recoder_check.py" --data g.h5 --model cuda_2_softmax.h5 \
  --metrics cuda_2_softmax.json --rtol 1e-9
echo "GPU and CPU Recoder agree"
