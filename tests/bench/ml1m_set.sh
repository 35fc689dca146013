# Sourced by the benchmarks on an ML-1M-sized generated set: after
# `source ml1m_set.sh BUILD WORK`, $infae is BUILD's infae_mpi (or $INFAE,
# e.g. a bundle's, with BUILD empty), the shell is in WORK and WORK/ml1m.h5
# holds 6,040 users × 3,706 items (~1M interactions, seed 3, made once).
work=${2:?work dir}
if [ -n "${INFAE:-}" ]; then
  infae=$INFAE
else
  infae="$(cd "${1:?build dir}" && pwd)/src/infae_mpi"
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
mkdir -p "$work"
cd "$work"
[ -f ml1m.h5 ] || {
  "$infae" generate --users 6040 --items 3706 --mean-items 165.6 --seed 3 --format movielens \
    --output ml1m.dat --quiet
  "$infae" prepare --format movielens --input ml1m.dat --output ml1m.h5 --quiet
}
