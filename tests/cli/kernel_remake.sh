#!/usr/bin/env bash
# The λ grid without a copy of K: with a --memory-limit between `plan`'s
# total with the copy and its total without, `train` factors K in place and
# makes it again for each λ, and says so; its model file and metrics are
# identical (bit for bit, tests/compare/compare_outputs.py) to those of the
# run with the copy, on 1, 2 and 4 ranks.
source "$(dirname "$0")/common.sh"
gen_dataset g 400 200 25
cd "$WORK"
for n in 1 2 4; do
  run_mpi 1 plan --data g.h5 --np "$n" > "plan$n.txt"
  limit=$("$PYTHON" - "plan$n.txt" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
unit = {"B": 1, "KiB": 1024, "MiB": 1024 ** 2, "GiB": 1024 ** 3}
def size(m):
    return float(m.group(1)) * unit[m.group(2)]
copy = size(re.search(r"^  total +([\d.]+) (B|KiB|MiB|GiB)$", text, re.M))
lean = size(re.search(r"without the copy of K .*: ([\d.]+) (B|KiB|MiB|GiB) per rank", text))
assert lean < copy, (lean, copy)
print(int((copy + lean) / 2))
PY
)
  mkdir -p "copy$n" "remake$n"
  run_mpi "$n" train --data g.h5 --out "copy$n/model.h5" --metrics-json "copy$n/metrics.json" \
    --quiet
  run_mpi "$n" train --data g.h5 --memory-limit "$limit" --out "remake$n/model.h5" \
    --metrics-json "remake$n/metrics.json" > "log$n.txt" 2>&1
  grep -q "K is factored in place and made again for each λ" "log$n.txt" ||
    { cat "log$n.txt"; echo "FAIL: $n ranks, limit $limit: K was copied" >&2; exit 1; }
  "$PYTHON" "$SRC/tests/compare/compare_outputs.py" "copy$n" "remake$n"
done
echo "kernel_remake: the runs without the copy of K equal the runs with it on 1, 2 and 4 ranks"
