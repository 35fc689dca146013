#!/usr/bin/env bash
# Benchmark (not a test): ∞-AE's evaluation in blocks of users against one
# block (the whole evaluation at once, as before blocks existed), on an
# ML-1M-sized generated set (6,040 × 3,706, ~1M interactions), 2 ranks, λ
# 5 and 20: validation, test and total seconds and peak RSS per rank
# (medians of RUNS runs), for the exact fit, a user sample and Nyström; with
# a sample and Nyström also NTK(C, X_fit) made per block for each use
# (--cross-kernel stream) instead of kept.
#   tests/bench/eval_blocks_bench.sh BUILD WORK [RUNS] [OTHER_INFAE_MPI]
# OTHER_INFAE_MPI: a binary to compare with (e.g. one built before blocks).
set -euo pipefail
runs=${3:-3}
other=${4:-}
source "$(dirname "$0")/ml1m_set.sh" "${1:-}" "${2:-}"
: > bench.txt
configs=("blocks-whole:$infae:" "blocks-1024:$infae:--eval-block 1024"
  "stream-whole:$infae:--cross-kernel stream"
  "stream-1024:$infae:--eval-block 1024 --cross-kernel stream")
[ -n "$other" ] && configs=("other:$other:" "${configs[@]}")
for _ in $(seq "$runs"); do
  for cfg in "${configs[@]}"; do
    IFS=: read -r name bin extra <<< "$cfg"
    for mode in "exact:" "sample:--train-users 2000" "nystrom:--centers 1000"; do
      IFS=: read -r fit args <<< "$mode"
      [ "${name%%-*}" = stream ] && [ "$fit" = exact ] && continue
      # shellcheck disable=SC2086
      mpiexec --oversubscribe -n 2 "$bin" train --data ml1m.h5 --lambdas 5,20 $extra $args \
        --quiet --metrics-json r.json > /dev/null
      /usr/bin/python3 -c "
import json; j = json.load(open('r.json')); t = j['timings_s']
print('$name', '$fit', t['validation'], t['test'], t['total'], j['peak_rss_bytes'])" >> bench.txt
    done
  done
done
/usr/bin/python3 - <<'PY'
import collections, statistics
d = collections.defaultdict(list)
for line in open("bench.txt"):
    name, fit, *v = line.split()
    d[(fit, name)].append([float(x) for x in v])
print("%-8s %-13s %8s %8s %8s %10s %9s" % ("fit", "evaluation", "val s", "test s", "total s",
                                          "peak MiB", "vs whole"))
for (fit, name), rows in sorted(d.items()):
    med = [statistics.median(r[i] for r in rows) for i in range(4)]
    whole = [statistics.median(r[2] for r in d[(fit, "blocks-whole")])]
    print("%-8s %-13s %8.3f %8.3f %8.3f %10.0f %+8.1f%%" % (fit, name, med[0], med[1], med[2],
          med[3] / 2**20, 100 * (med[2] / whole[0] - 1)))
PY
