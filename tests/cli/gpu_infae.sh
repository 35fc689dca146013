#!/usr/bin/env bash
# ∞-AE with --device cuda against --device cpu, on the embedded dataset and a
# generated ML-1M-sized set (6,040 × 3,706): fp64 α and every metric within
# 1e-9 relative, on one rank (cuBLAS/cuSOLVER; exact and Nyström with 300
# centers), one rank with K spread over GPUs by cusolverMg (--gpus 1, and 2
# when two are visible) and two ranks (ScaLAPACK's Cholesky, the kernel tiles,
# products and solves of infae/summa.h on the GPU; exact, on a sample of 1,500
# users, and Nyström); fp32: the same top-10 for ≥ 99 % of users.
# Skipped (77) when no GPU is visible.
source "$(dirname "$0")/common.sh"
"$INFAE" --version | grep -q "GPU(s)" || { echo "no GPU visible: skipped"; exit 77; }
cd "$WORK"
run_mpi 1 prepare --format movielens --input "$SRC/datasets/movietweetings/ratings.dat" \
  --output mt.h5 --quiet
run_mpi 1 generate --users 6040 --items 3706 --mean-items 165 --seed 3 --output ml1m.dat --quiet
run_mpi 1 prepare --format movielens --input ml1m.dat --output ml1m.h5 --quiet

compare() { # compare A.h5 A.json B.h5 B.json: fp64 α and metrics
  "$PYTHON" - "$@" <<'PY'
import json, sys
import h5py, numpy as np
ma, ja, mb, jb = sys.argv[1:5]
a, b = h5py.File(ma, "r")["alpha"][...], h5py.File(mb, "r")["alpha"][...]
err = np.abs(a - b).max() / np.abs(b).max()
print("%s vs %s: α max rel. error %.2e" % (ma, mb, err))
assert err <= 1e-9, err
ra, rb = json.load(open(ja)), json.load(open(jb))
assert ra["best_lambda"] == rb["best_lambda"], (ra["best_lambda"], rb["best_lambda"])
for split in ("test",):
    for k, v in rb[split].items():
        assert abs(ra[split][k] - v) <= 1e-9 * max(1.0, abs(v)), (split, k, ra[split][k], v)
for lam, m in rb["val"].items():
    if not isinstance(m, dict):  # a λ that failed to factor
        assert ra["val"][lam] == m, (lam, ra["val"][lam], m)
        continue
    for k, v in m.items():
        assert abs(ra["val"][lam][k] - v) <= 1e-9 * max(1.0, abs(v)), (lam, k, ra["val"][lam][k], v)
PY
}

for data in mt ml1m; do
  for n in 1 2; do
    for dev in cpu cuda; do
      run_mpi "$n" train --data $data.h5 --device $dev --out ${data}_${dev}_$n.h5 \
        --metrics-json ${data}_${dev}_$n.json --quiet
    done
    grep -Eq '"device":[[:space:]]*"cuda' ${data}_cuda_$n.json || fail "the cuda run did not report a GPU"
    compare ${data}_cuda_$n.h5 ${data}_cuda_$n.json ${data}_cpu_$n.h5 ${data}_cpu_$n.json
  done
  # One rank driving several GPUs: K in column tiles, cusolverMg.
  gpus=$("$INFAE" --version | sed -n 's/.*, \([0-9]*\) GPU(s).*/\1/p')
  for g in 1 2; do
    [ "$g" -le "$gpus" ] || { echo "--gpus $g: $gpus GPU(s) visible, not run"; continue; }
    run_mpi 1 train --data $data.h5 --device cuda --gpus $g --block-size 128 \
      --out ${data}_mg$g.h5 --metrics-json ${data}_mg$g.json --quiet
    grep -q cusolverMg ${data}_mg$g.json || fail "--gpus $g did not report cusolverMg"
    compare ${data}_mg$g.h5 ${data}_mg$g.json ${data}_cpu_1.h5 ${data}_cpu_1.json
  done
  # Nyström (--centers) on one rank: its kernels and solves on the GPU too.
  for dev in cpu cuda; do
    run_mpi 1 train --data $data.h5 --device $dev --centers 300 --out ${data}_${dev}_c.h5 \
      --metrics-json ${data}_${dev}_c.json --quiet
  done
  compare ${data}_cuda_c.h5 ${data}_cuda_c.json ${data}_cpu_c.h5 ${data}_cpu_c.json
  # Two ranks fit on a sample (--train-users): every λ's predictions are the
  # distributed product of infae/summa.h, its local products on the GPUs.
  for dev in cpu cuda; do
    run_mpi 2 train --data $data.h5 --device $dev --train-users 1500 --out ${data}_${dev}_s.h5 \
      --metrics-json ${data}_${dev}_s.json --quiet
  done
  compare ${data}_cuda_s.h5 ${data}_cuda_s.json ${data}_cpu_s.h5 ${data}_cpu_s.json
  # Nyström on two ranks: Φ = K_nm·L⁻ᵀ, ΦᵀΦ, ΦᵀX and α = L⁻ᵀβ are the
  # distributed solves and transposed products of infae/summa.h on the GPUs.
  for dev in cpu cuda; do
    run_mpi 2 train --data $data.h5 --device $dev --centers 300 --out ${data}_${dev}_c2.h5 \
      --metrics-json ${data}_${dev}_c2.json --quiet
  done
  compare ${data}_cuda_c2.h5 ${data}_cuda_c2.json ${data}_cpu_c2.h5 ${data}_cpu_c2.json
  # fp32: top-10 of every user from each model, scored the same way.
  for dev in cpu cuda; do
    run_mpi 1 train --data $data.h5 --device $dev --precision fp32 --lambdas 5 \
      --out ${data}_${dev}_32.h5 --quiet
  done
  "$PYTHON" - $data.h5 <<'PY' > users_$data.tsv
import sys
import h5py
f = h5py.File(sys.argv[1], "r")
users = [s.decode() for s in f["users/ids"][...]]
items = [s.decode() for s in f["items/ids"][...]]
ptr, ind = f["train/indptr"][...], f["train/indices"][...]
for u, name in enumerate(users):
    for i in ind[ptr[u]:ptr[u + 1]]:
        print(name, items[i])
PY
  for dev in cpu cuda; do
    run_mpi 2 recommend --model ${data}_${dev}_32.h5 --input users_$data.tsv -k 10 \
      --output rec_${data}_$dev.tsv --quiet
  done
  "$PYTHON" - rec_${data}_cpu.tsv rec_${data}_cuda.tsv <<'PY'
import sys
from collections import defaultdict
def top(path):
    t = defaultdict(set)
    for line in open(path):
        user, item = line.split()[:2]
        t[user].add(item)
    return t
a, b = top(sys.argv[1]), top(sys.argv[2])
assert a.keys() == b.keys()
same = sum(a[u] == b[u] for u in a) / len(a)
print("fp32: same top-10 for %.2f %% of %d users" % (100 * same, len(a)))
assert same >= 0.99, same
PY
done
echo "GPU and CPU agree"
