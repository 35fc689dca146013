#!/usr/bin/env bash
# distill --search on 2 ranks: one Distill-CF run per configuration of a
# 2 × 1 × 2 grid; search.csv lists them all; --out is, byte for byte, the
# summary of the configuration with the best validation HR@100 (the first
# of equals; recomputed here from the CSV and from each summary's /hyper),
# and passes the oracle's checks; the same command again reuses every
# configuration and writes the same CSV; --search-groups 2 gives the same;
# --select NDCG@10 remakes the configurations made by HR@100 and chooses by
# validation NDCG@10; --binary-rule expected remakes those of the validated
# rule.
source "$(dirname "$0")/common.sh"
gen_dataset g 300 200 25
search() {
  run_mpi 2 distill --data "$WORK/g.h5" --out "$WORK/best.h5" --budget 16 --steps 10 \
    --search --taus 0.5,5 --c-cards 1e-3 --gammas 4,6 --no-ease --log-every 0 "$@"
}
search > "$WORK/first.log" 2>&1 || fail "distill --search failed: $(cat "$WORK/first.log")"
csv="$WORK/best.h5.search/search.csv"
cp "$csv" "$WORK/first.csv"
check_choice() { # CSV, --out, selection metric
  "$PYTHON" - "$@" <<'PY'
import csv, sys
import h5py
metric = sys.argv[3]
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 4, rows
assert [(r["tau"], r["gamma"]) for r in rows] == [("0.5", "4"), ("0.5", "6"), ("5", "4"), ("5", "6")]
vals = []
for r in rows:
    with h5py.File(r["summary"], "r") as f:
        h = f["hyper"].attrs
        assert float(h["tau"]) == float(r["tau"]) and int(h["gumbel_samples"]) == int(r["gamma"])
        assert h["select_metric"] == metric, h["select_metric"]
        assert abs(float(h["best_val"]) - float(r["val_" + metric])) < 1e-5
        assert abs(f["metrics/infae"].attrs["test_NDCG@10"] - float(r["test_NDCG@10"])) < 1e-5
        vals.append(float(h["best_val"]))
best = max(range(4), key=lambda k: (vals[k], -k))
assert [int(r["chosen"]) for r in rows] == [int(k == best) for k in range(4)], (vals, rows)
a, b = open(rows[best]["summary"], "rb").read(), open(sys.argv[2], "rb").read()
assert a == b, "--out is not the chosen configuration's summary"
print("distill_search: chose", rows[best]["tau"], rows[best]["gamma"], "by", metric, "of", vals)
PY
}
check_choice "$csv" "$WORK/best.h5" HR@100
"$PYTHON" "$ORACLE/distill_check.py" --data "$WORK/g.h5" --summary "$WORK/best.h5"
search > "$WORK/again.log" 2>&1 || fail "the search again failed: $(cat "$WORK/again.log")"
[ "$(grep -c "was there: reused" "$WORK/again.log")" = 4 ] || fail "not every configuration reused"
cmp -s "$csv" "$WORK/first.csv" || fail "search.csv differs when every configuration is reused"
# A summary of an earlier Distill-CF loop (no loop_revision) is made again,
# to the same numbers.
cp -r "$WORK/best.h5.search" "$WORK/old"
"$PYTHON" -c "
import h5py, sys
with h5py.File(sys.argv[1], 'r+') as f:
    del f['hyper'].attrs['loop_revision']" "$WORK/old/tau5_card0.001_gamma4.h5"
search --out "$WORK/old.h5" --search-dir "$WORK/old" > "$WORK/old.log" 2>&1 ||
  fail "the search with an old summary failed: $(cat "$WORK/old.log")"
grep -q "tau5_card0.001_gamma4.h5 was made by an earlier Distill-CF loop (revision 1, this one 2)" \
  "$WORK/old.log" || fail "an old summary was reused: $(cat "$WORK/old.log")"
[ "$(grep -c "was there: reused" "$WORK/old.log")" = 3 ] || fail "not 3 configurations reused"
cut -d, -f1-14 "$WORK/old/search.csv" | cmp -s - <(cut -d, -f1-14 "$csv") ||
  fail "the remade configuration differs: $(diff "$WORK/old/search.csv" "$csv")"
# --search-groups 2: the two ranks run configurations side by side, one rank
# each; every configuration must equal the 2-rank one's (up to summation
# order) and the same one be chosen.
search --search-groups 2 --out "$WORK/g2.h5" --search-dir "$WORK/g2" > "$WORK/g2.log" 2>&1 ||
  fail "--search-groups 2 failed: $(cat "$WORK/g2.log")"
grep -q "4 configurations over 2 groups of about 1 ranks" "$WORK/g2.log" ||
  fail "no line about the groups: $(cat "$WORK/g2.log")"
"$PYTHON" - "$csv" "$WORK/g2/search.csv" <<'PY'
import csv, sys
import h5py
import numpy as np
a, b = (list(csv.DictReader(open(p))) for p in sys.argv[1:])
assert len(a) == len(b) == 4
for x, y in zip(a, b):
    assert (x["tau"], x["gamma"], x["chosen"], x["best_step"]) == \
        (y["tau"], y["gamma"], y["chosen"], y["best_step"]), (x, y)
    for k in x:
        if k.startswith(("val_", "test_", "binary_")):
            assert abs(float(x[k]) - float(y[k])) <= 1e-6 * max(1, abs(float(x[k]))), (k, x[k], y[k])
    s, t = (h5py.File(r["summary"], "r")["S"][...] for r in (x, y))
    assert np.abs(s - t).max() <= 1e-11, np.abs(s - t).max()
print("--search-groups 2: the same 4 configurations and choice")
PY
# --select NDCG@10 in a copy of the search: every configuration made by
# HR@100 is made again, and the choice is by validation NDCG@10.
cp -r "$WORK/best.h5.search" "$WORK/sel"
search --select NDCG@10 --out "$WORK/sel.h5" --search-dir "$WORK/sel" > "$WORK/sel.log" 2>&1 ||
  fail "--select NDCG@10 failed: $(cat "$WORK/sel.log")"
[ "$(grep -c "other options .* selection metric); it is made again" "$WORK/sel.log")" = 4 ] ||
  fail "configurations of another selection metric reused: $(cat "$WORK/sel.log")"
check_choice "$WORK/sel/search.csv" "$WORK/sel.h5" NDCG@10
"$PYTHON" "$ORACLE/distill_check.py" --data "$WORK/g.h5" --summary "$WORK/sel.h5"
# --binary-rule expected in a copy: every configuration is remade (its
# /binary was validated), to the same S and validation, with each row's
# expected items in /binary.
cp -r "$WORK/best.h5.search" "$WORK/exp"
search --binary-rule expected --out "$WORK/exp.h5" --search-dir "$WORK/exp" > "$WORK/exp.log" 2>&1 ||
  fail "--binary-rule expected failed: $(cat "$WORK/exp.log")"
[ "$(grep -c "has its /binary by the rule validated, not expected_items; it is made again" \
  "$WORK/exp.log")" = 4 ] || fail "summaries of another /binary rule reused: $(cat "$WORK/exp.log")"
cut -d, -f1-13 "$WORK/exp/search.csv" | cmp -s - <(cut -d, -f1-13 "$csv") ||
  fail "another /binary rule changed S: $(diff "$WORK/exp/search.csv" "$csv")"
"$PYTHON" "$ORACLE/distill_check.py" --data "$WORK/g.h5" --summary "$WORK/exp.h5"
expect_error "--search-groups must be between 1 and the number of ranks (2; got 3)" distill \
  --data "$WORK/g.h5" --out "$WORK/g3.h5" --search --search-groups 3 --search-dir "$WORK/g3"
# A grid value that is wrong, or given twice, stops the search before its
# first configuration runs (nothing in the search folder).
for bad in "--taus 5,-1|--taus: every value must be > 0 (got -1)" \
  "--gammas 4,1e12|--gammas: every value must be a whole number in [1, 2^24) (got 1e+12)" \
  "--c-cards 1e-3,-1|--c-cards: every value must be ≥ 0 (got -1)" \
  "--taus 5,0.5,5|--search: τ 5, c_card 0.001, γ 200 is given twice" \
  "--taus 5,5.0000001|name the same configuration file"; do
  # shellcheck disable=SC2086
  expect_error "${bad#*|}" distill --data "$WORK/g.h5" --out "$WORK/bad.h5" --search \
    ${bad%%|*} --steps 2 --search-dir "$WORK/bad"
  [ -z "$(ls -A "$WORK/bad" 2> /dev/null)" ] || fail "${bad%%|*}: the search began"
done
echo "distill_search: 4 configurations, the best by validation, resumed, on 2 groups"
