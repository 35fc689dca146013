#!/usr/bin/env bash
# Benchmark (not a test): strong and weak scaling of ∞-AE's steps (Gram,
# Cholesky, solves) and of Distill-CF steps over rank counts.
#   strong: the same problem on each rank count;
#   weak:   users grow with the ranks so that the Gram's work per rank
#           (U²·d / P) stays constant: U·√P users.
# Usage: scaling.sh BUILD_DIR WORK_DIR [USERS ITEMS RANKS...]  (default 4000 3700 1 2)
# Efficiency = (time on 1 rank × work ratio) / (time on P ranks × P), from GF/s per rank.
set -euo pipefail
build=${1:?build dir}
work=${2:?work dir}
users=${3:-4000}
items=${4:-3700}
shift $(( $# >= 4 ? 4 : $# ))
ranks=("$@")
[ ${#ranks[@]} -gt 0 ] || ranks=(1 2)
infae="$build/src/infae_mpi"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
mkdir -p "$work"
gen() { # gen USERS -> $work/u$USERS.h5
  [ -s "$work/u$1.h5" ] && return
  "$infae" generate --users "$1" --items "$items" --seed 11 --output "$work/u$1.dat" --quiet
  "$infae" prepare --format movielens --input "$work/u$1.dat" --output "$work/u$1.h5" --quiet
}
run_train() { # run_train P USERS TAG
  mpirun --oversubscribe -n "$1" "$infae" train --data "$work/u$2.h5" --lambdas 1,5 \
    --metrics-json "$work/$3.json" --quiet > /dev/null
}
report() { # report TAG P USERS MODE
  /usr/bin/python3 - "$work/$1.json" "$2" "$3" "$4" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); p, u, mode = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
st = r["infae"]["steps"]
def col(k):
    s, f = st[k]["seconds"], st[k]["flops"]
    return "%7.2f s %6.1f GF/s/rank" % (s, f / s / 1e9 / p)
print("%-6s P=%-2d U=%-6d | gram %s | Cholesky %s | solve %s | total %.1f s" % (
    mode, p, u, col("gram"), col("factor"), col("solve"), r["timings_s"]["total"]))
PY
}
echo "∞-AE, fp64, $items items, λ ∈ {1, 5} (2 factorizations)"
gen "$users"
for p in "${ranks[@]}"; do
  run_train "$p" "$users" "strong_$p"
  report "strong_$p" "$p" "$users" strong
done
for p in "${ranks[@]}"; do
  u=$(/usr/bin/python3 -c "import math; print(round($users * math.sqrt($p)))")
  gen "$u"
  run_train "$p" "$u" "weak_$p"
  report "weak_$p" "$p" "$u" weak
done
echo "Distill-CF, μ = 200, γ = 50, batch = all users, 20 steps"
for p in "${ranks[@]}"; do
  for mode in strong weak; do
    u=$users
    [ "$mode" = weak ] && u=$(/usr/bin/python3 -c "import math; print(round($users * $p))")
    gen "$u"
    start=$(date +%s.%N)
    mpirun --oversubscribe -n "$p" "$infae" distill --data "$work/u$u.h5" --budget 200 --steps 20 \
      --samples 50 --no-ease --patience 1000 --out "$work/d_${mode}_$p.h5" > "$work/d_${mode}_$p.log" 2>&1
    rate=$(sed -n 's/.*s, \([0-9.]*\) steps\/s; best.*/\1/p' "$work/d_${mode}_$p.log")
    printf '%-6s P=%-2d users=%-6d | %s steps/s (loop only) | %.1f s in all\n' "$mode" "$p" "$u" \
      "$rate" "$(/usr/bin/python3 -c "print($(date +%s.%N) - $start)")"
  done
done
