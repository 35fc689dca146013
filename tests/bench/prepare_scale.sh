#!/usr/bin/env bash
# Benchmark (not a test): generate Netflix-shaped data and time `prepare` on
# it, with peak memory. Usage: prepare_scale.sh BUILD_DIR WORK_DIR [USERS ITEMS MEAN FORMAT]
# Defaults are the full Netflix Prize shape: 480,189 × 17,770, ~100M ratings.
set -euo pipefail
build=${1:?build dir}
work=${2:?work dir}
users=${3:-480189}
items=${4:-17770}
mean=${5:-209.25}
format=${6:-netflix}
infae=${INFAE:-$build/src/infae_mpi} # INFAE: another infae_mpi (a bundle's)
mkdir -p "$work"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
measure() { /usr/bin/time -f "%e s wall, %M KiB peak RSS" "$@"; }
echo "== generate $users x $items, mean $mean, $format"
measure "$infae" generate --users "$users" --items "$items" --mean-items "$mean" --seed 1 \
  --format "$format" --output "$work/scale.$format"
lines=$(wc -l < "$work/scale.$format")
bytes=$(stat -c %s "$work/scale.$format")
echo "   $lines lines, $((bytes / 1000000)) MB"
echo "== prepare"
start=$(date +%s.%N)
measure "$infae" prepare --format "$format" --input "$work/scale.$format" \
  --output "$work/scale.h5"
end=$(date +%s.%N)
awk -v l="$lines" -v s="$start" -v e="$end" \
  'BEGIN { printf "   %.2fM lines/s end to end (parse, split, negatives, HDF5 write)\n", l / (e - s) / 1e6 }'
ls -l "$work/scale.h5"
