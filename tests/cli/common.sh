# Shared by the end-to-end tests. ctest sets INFAE, MPIEXEC, MPIEXEC_PREFLAGS,
# PYTHON (Debian's python3 with numpy/scipy/h5py) and SRC.
set -euo pipefail
: "${INFAE:?run through ctest}" "${MPIEXEC:?}" "${PYTHON:?}" "${SRC:?}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ORACLE="$SRC/tests/oracle"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/infae-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# Exits 77 (ctest's "skipped") when infae_mpi sees no GPU, with its reason.
need_gpu() {
  local v
  v=$("$INFAE" --version)
  grep -q "GPU(s)" <<< "$v" || { echo "no GPU visible ($v): skipped"; exit 77; }
}

# run_mpi N ARGS...: infae_mpi on N ranks, bounded in time so a hang fails.
run_mpi() {
  local n=$1; shift
  # shellcheck disable=SC2086
  timeout 300 "$MPIEXEC" -n "$n" ${MPIEXEC_PREFLAGS:-} "$INFAE" "$@"
}

# A small generated dataset, prepared: gen_dataset NAME USERS ITEMS MEAN
gen_dataset() {
  local name=$1 users=$2 items=$3 mean=$4
  run_mpi 1 generate --users "$users" --items "$items" --mean-items "$mean" --seed 5 \
    --output "$WORK/$name.dat" --quiet
  run_mpi 1 prepare --format movielens --input "$WORK/$name.dat" --output "$WORK/$name.h5" \
    --quiet
}

# expect_error WANT ARGS...: run on 2 ranks (EXPECT_RANKS), the single error line must
# contain WANT; no out.h5, out.json or temporary file may be left in the current folder.
cases=0
expect_error() {
  local want=$1; shift
  cases=$((cases + 1))
  rm -f out.h5 out.json
  set +e
  run_mpi "${EXPECT_RANKS:-2}" "$@" > stdout.txt 2> stderr.txt
  local rc=$?
  set -e
  [ "$rc" -ne 0 ] || fail "exit 0 for: $*"
  [ "$rc" -ne 124 ] || fail "timed out (hang) for: $*"
  local n
  n=$(grep -c "error:" stderr.txt || true)
  [ "$n" -eq 1 ] || { cat stderr.txt; fail "$n error lines (want 1) for: $*"; }
  grep -F -q -- "$want" stderr.txt || { cat stderr.txt; fail "message lacks '$want' for: $*"; }
  [ ! -e out.h5 ] || fail "out.h5 left behind for: $*"
  [ ! -e out.json ] || fail "out.json left behind for: $*"
  if ls ./*.tmp-* > /dev/null 2>&1; then fail "temporary file left behind for: $*"; fi
}

# interrupted_distill CKPT ARGS...: a Distill-CF run on 2 ranks stopped by SIGUSR1
# after its fifth step, leaving its checkpoint CKPT (exit status 3).
interrupted_distill() {
  local ckpt=$1; shift
  local log
  log=$(mktemp "$WORK/interrupted.XXXXXX")
  # shellcheck disable=SC2086
  "$MPIEXEC" -n 2 ${MPIEXEC_PREFLAGS:-} "$INFAE" distill "$@" --checkpoint "$ckpt" \
    --steps 100000 --patience 100000 --log-every 1 --checkpoint-every 0 > "$log" 2>&1 &
  local pid=$! rc=0
  for _ in $(seq 600); do
    grep -q "step    5/" "$log" && break
    sleep 0.1
  done
  kill -s USR1 "$pid"
  wait "$pid" || rc=$?
  [ "$rc" -eq 3 ] && [ -e "$ckpt" ] || { cat "$log"; fail "no checkpoint $ckpt (exit $rc)"; }
}
