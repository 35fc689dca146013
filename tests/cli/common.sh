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
