#!/usr/bin/env bash
# distill --search on 2 ranks: one Distill-CF run per configuration of a
# 2 × 1 × 2 grid; search.csv lists them all; --out is, byte for byte, the
# summary of the configuration with the best validation HR@100 (the first
# of equals; recomputed here from the CSV and from each summary's /hyper),
# and passes the oracle's checks; the same command again reuses every
# configuration and writes the same CSV.
source "$(dirname "$0")/common.sh"
gen_dataset g 300 200 25
search() {
  run_mpi 2 distill --data "$WORK/g.h5" --out "$WORK/best.h5" --budget 16 --steps 10 \
    --search --taus 0.5,5 --c-cards 1e-3 --gammas 4,6 --no-ease --log-every 0 "$@"
}
search > "$WORK/first.log" 2>&1 || fail "distill --search failed: $(cat "$WORK/first.log")"
csv="$WORK/best.h5.search/search.csv"
cp "$csv" "$WORK/first.csv"
"$PYTHON" - "$csv" "$WORK/best.h5" <<'PY'
import csv, sys
import h5py
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 4, rows
assert [(r["tau"], r["gamma"]) for r in rows] == [("0.5", "4"), ("0.5", "6"), ("5", "4"), ("5", "6")]
vals = []
for r in rows:
    with h5py.File(r["summary"], "r") as f:
        h = f["hyper"].attrs
        assert float(h["tau"]) == float(r["tau"]) and int(h["gumbel_samples"]) == int(r["gamma"])
        assert abs(float(h["best_val_HR@100"]) - float(r["val_HR@100"])) < 1e-5
        assert abs(f["metrics/infae"].attrs["test_NDCG@10"] - float(r["test_NDCG@10"])) < 1e-5
        vals.append(float(h["best_val_HR@100"]))
best = max(range(4), key=lambda k: (vals[k], -k))
assert [int(r["chosen"]) for r in rows] == [int(k == best) for k in range(4)], (vals, rows)
a, b = open(rows[best]["summary"], "rb").read(), open(sys.argv[2], "rb").read()
assert a == b, "--out is not the chosen configuration's summary"
print("distill_search: chose", rows[best]["tau"], rows[best]["gamma"], "of", vals)
PY
"$PYTHON" "$ORACLE/distill_check.py" --data "$WORK/g.h5" --summary "$WORK/best.h5"
search > "$WORK/again.log" 2>&1 || fail "the search again failed: $(cat "$WORK/again.log")"
[ "$(grep -c "was there: reused" "$WORK/again.log")" = 4 ] || fail "not every configuration reused"
cmp -s "$csv" "$WORK/first.csv" || fail "search.csv differs when every configuration is reused"
echo "distill_search: 4 configurations, the best by validation, resumed"
