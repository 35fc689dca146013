#!/usr/bin/env bash
# ∞-AE with --device cuda against --device cpu, on the embedded dataset and a
# generated ML-1M-sized set (6,040 × 3,706): fp64 α within 1e-9 relative and
# every metric within 1e-9 or inside the oracle's near-tie range
# (tests/oracle/gpu_compare.py), on one rank (cuBLAS/cuSOLVER; exact and
# Nyström with 300 centers), one rank with K spread over GPUs by cusolverMg
# (--gpus 1, and 2 when two are visible) and two ranks (the kernel tiles and
# the factor, solves and products of infae/dist/summa.h on the GPUs; exact, on a
# sample of 1,500 users, and Nyström); fp32: the same top-10 for ≥ 99 % of
# users. Skipped (77) when no GPU is visible.
source "$(dirname "$0")/common.sh"
need_gpu
cd "$WORK"
run_mpi 1 prepare --format movielens --input "$SRC/datasets/movietweetings/ratings.dat" \
  --output mt.h5 --quiet
run_mpi 1 generate --users 6040 --items 3706 --mean-items 165 --seed 3 --output ml1m.dat --quiet
run_mpi 1 prepare --format movielens --input ml1m.dat --output ml1m.h5 --quiet

# compare A.h5 A.json B.h5 B.json, on the loop's dataset $data.h5 (near-tie ranges)
compare() { "$PYTHON" "$ORACLE/gpu_compare.py" fit "$@" --data "$data.h5"; }

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
  # distributed product of infae/dist/summa.h, its local products on the GPUs.
  for dev in cpu cuda; do
    run_mpi 2 train --data $data.h5 --device $dev --train-users 1500 --out ${data}_${dev}_s.h5 \
      --metrics-json ${data}_${dev}_s.json --quiet
  done
  compare ${data}_cuda_s.h5 ${data}_cuda_s.json ${data}_cpu_s.h5 ${data}_cpu_s.json
  # Nyström on two ranks: Φ = K_nm·L⁻ᵀ, ΦᵀΦ, ΦᵀX and α = L⁻ᵀβ are the
  # distributed solves and transposed products of infae/dist/summa.h on the GPUs.
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
  "$PYTHON" "$ORACLE/gpu_compare.py" pairs $data.h5 > users_$data.tsv
  for dev in cpu cuda; do
    run_mpi 2 recommend --model ${data}_${dev}_32.h5 --input users_$data.tsv -k 10 \
      --output rec_${data}_$dev.tsv --quiet
  done
  "$PYTHON" "$ORACLE/gpu_compare.py" top rec_${data}_cuda.tsv rec_${data}_cpu.tsv --min 0.99
done
echo "GPU and CPU agree"
