#!/usr/bin/env bash
# Messages, progress and consistency: a warning says what happened and what
# to do, with the source location only under --verbose; EASE announces each
# λ's inversion with an ETA and `study` counts k/N; distill's metrics JSON
# carries its provenance like train's; options that do not apply warn, and
# malformed option values stop the run before any work; BLAS threads that a
# rank's cores cannot run are named with the fix.
source "$(dirname "$0")/common.sh"
gen_dataset g 200 120 20
cd "$WORK"

# The embedded data has users with the same train items: K is singular at λ = 0.
run_mpi 1 prepare --format movielens --input "$SRC/datasets/movietweetings/ratings.dat" \
  --output twins.h5 --quiet
run_mpi 2 train --data twins.h5 --lambdas 0,5 > out.txt 2> err.txt
grep -q "warning: λ = 0 skipped, the other λ of the grid go on: K + λ'I is not positive definite" \
  err.txt || { cat err.txt; fail "no skip warning"; }
grep -q "at λ = 0 two users with the same train items make K singular; use a larger λ" err.txt \
  || { cat err.txt; fail "the warning does not say why or what to do"; }
if grep -q '\.c:[0-9]' err.txt; then cat err.txt; fail "a source location without --verbose"; fi
run_mpi 2 train --data twins.h5 --lambdas 0,5 --verbose > out.txt 2> err.txt
grep -q 'use a larger λ (infae_fit.c:[0-9]*)' err.txt \
  || { cat err.txt; fail "--verbose should name the source location"; }

# EASE: a line before each λ's inversion, with an ETA from the second on.
run_mpi 2 train --data g.h5 --model ease --lambdas 10,100,500 > ease.txt
grep -q "EASE λ = 10 (1/3): inverting XᵀX + λI, 120 × 120" ease.txt || { cat ease.txt; fail "no EASE λ line"; }
grep -q "EASE λ = 500 (3/3): inverting .*; ETA [0-9]* s" ease.txt || { cat ease.txt; fail "no EASE ETA"; }

# study: a k/N counter with an ETA.
run_mpi 2 study --data g.h5 --out-dir st --budgets 20 --samplers random,head --models infae \
  --no-plot > study.txt
grep -q "\[study\] 1/3: noise 0 %, random, budget 20" study.txt || { cat study.txt; fail "no k/N"; }
grep -q "\[study\] 3/3: noise 0 %, full, budget [0-9]* (.* so far, ETA" study.txt \
  || { cat study.txt; fail "no ETA in the study counter"; }

# distill's metrics JSON: command, dataset (path, sha256, sizes), version, like train's.
run_mpi 2 distill --data g.h5 --out sum.h5 --budget 10 --steps 2 --samples 2 --no-ease \
  --metrics-json d.json --quiet
run_mpi 1 train --data g.h5 --model pop --metrics-json t.json --quiet
"$PYTHON" - <<'PY'
import json
d, t = json.load(open("d.json")), json.load(open("t.json"))
assert d["command"].split()[1:3] == ["distill", "--data"], d["command"]
assert d["infae_version"] == t["infae_version"]
for k in ("path", "source_sha256", "users", "items", "train_nnz"):
    assert d["dataset"][k] == t["dataset"][k], (k, d["dataset"][k], t["dataset"][k])
assert d["ranks"] == 2 and d["out"] == "sum.h5"
PY

# Options that do not apply: said, then ignored.
run_mpi 1 train --data g.h5 --model pop --lambdas 5 --epochs 3 --quiet 2> err.txt
grep -q "warning: --lambdas: --model pop has no λ" err.txt || { cat err.txt; fail "pop --lambdas"; }
grep -q "warning: --epochs is a Recoder option" err.txt || { cat err.txt; fail "pop --epochs"; }
run_mpi 1 train --data g.h5 --train-users 5000 --lambdas 5 --quiet 2> err.txt
grep -q "warning: --train-users 5000 is not fewer than the [0-9]* users" err.txt \
  || { cat err.txt; fail "--train-users ≥ users"; }

# Malformed values: one error, before any work.
expect_error "got '1,,5' (an empty entry)" train --data g.h5 --lambdas 1,,5
expect_error "got ',5' (an empty entry)" distill --data g.h5 --out out.h5 --lambdas ,5
expect_error "got '20,' (an empty entry)" study --data g.h5 --out-dir st2 --budgets 20,
expect_error "--lambdas: every λ must be ≥ 0 (got -1)" train --data g.h5 --lambdas -1
expect_error "--lambdas: every λ must be ≥ 0 (got -1)" distill --data g.h5 --out out.h5 --lambdas -1
expect_error "--seed must be ≥ 0 (got -5)" prepare --format movielens --input "$WORK/g.dat" \
  --output out.h5 --seed -5
# BLAS threads the rank's cores cannot run: one warning naming the fix
# (a rank pinned to one core by taskset, unbound by mpiexec); none with one thread.
OPENBLAS_NUM_THREADS=2 taskset -c 0 "$MPIEXEC" --bind-to none -n 1 "$INFAE" train --data g.h5 \
  --lambdas 5 > out.txt 2> err.txt
n=$(grep -c "warning: 2 BLAS threads asked for, but rank 0 may run on 1 core(s), so OpenBLAS runs [12]: give each rank its threads' cores (mpiexec --bind-to none, or --map-by slot:PE=2)" err.txt || true)
[ "$n" -eq 1 ] || { cat err.txt; fail "$n warnings (want 1) for 2 threads on one core"; }
OPENBLAS_NUM_THREADS=1 taskset -c 0 "$MPIEXEC" --bind-to none -n 1 "$INFAE" train --data g.h5 \
  --lambdas 5 > out.txt 2> err.txt
if grep -q "BLAS threads\|OpenBLAS threads" err.txt; then cat err.txt; fail "a thread warning for one thread"; fi
rm -f out.txt err.txt
echo "messages: ok ($cases error cases)"
