#!/usr/bin/env bash
# Files that prepare used to misread without a word (issue 24, items 9-11): a
# header line taken for an interaction, an adjacency list (`count item item
# ...`) taken for `user item` pairs, and an imported split left without AUC
# negatives. Each is now read right or refused with one clear error.
source "$(dirname "$0")/common.sh"
cd "$WORK"

# ---- 9: a header line without --header -----------------------------------
body() {  # 12 numeric lines separated by $1
  for u in 1 2 3 4; do for i in 10 20 30; do printf "%s$1%s$1%s$1%s\n" $u $i 4 0; done; done
}
{ printf 'user\titem\trating\tsplit\n'; body '\t'; } > douban.tsv
expect_error "douban.tsv:1: 'user\x09item\x09rating\x09split' looks like a header line" \
  prepare --format tsv --input douban.tsv --output out.h5
grep -q "add --header to skip it" stderr.txt || { cat stderr.txt; fail "no --header hint"; }
{ printf 'userId,movieId,rating,timestamp\n'; body ','; } > ml-latest.csv
expect_error "ml-latest.csv:1: 'userId,movieId,rating,timestamp' looks like a header line" \
  prepare --format csv --input ml-latest.csv --output out.h5
# No known column name, but ids that are non-numeric on line 1 only.
{ printf 'reader\tbook\tstars\tday\n'; body '\t'; } > odd_header.tsv
expect_error "odd_header.tsv:1: 'reader\x09book\x09stars\x09day' looks like a header line" \
  prepare --format tsv --input odd_header.tsv --output out.h5
# A header shorter than the data lines is named as such, not as line 2's length.
{ printf 'u_hash i_hash\n'; body ' '; } > short_header.tsv
expect_error "short_header.tsv:1: 'u_hash i_hash' looks like a header line" \
  prepare --format tsv --input short_header.tsv --output out.h5
# Adjacency lists: a header instead of a count.
{ printf 'n items\n'; printf '3 1 2 3\n3 1 2 4\n'; } > adj_header.dat
expect_error "adj_header.dat:1: 'n items' looks like a header line" \
  prepare --format adjacency --input adj_header.dat --output out.h5

# With --header the same file prepares, without an item named "item".
run_mpi 1 prepare --format tsv --input douban.tsv --header --output douban.h5 --quiet
"$PYTHON" "$ORACLE/check_prepare.py" --format tsv --input douban.tsv --header --data douban.h5
"$PYTHON" - douban.h5 <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
items = sorted(f["items/ids"].asstr()[...])
users = sorted(f["users/ids"].asstr()[...])
assert items == ["10", "20", "30"] and users == ["1", "2", "3", "4"], (items, users)
PY
# Ids that are strings on every line are ids, not a header; nor is one
# non-numeric id among numeric ones below line 1 (ASINs next to ISBNs).
for u in ann bob cy; do for i in b1 b2 b3; do printf '%s\t%s\t5\n' $u $i; done; done > names.tsv
run_mpi 1 prepare --format tsv --input names.tsv --output names.h5 --quiet
"$PYTHON" "$ORACLE/check_prepare.py" --format tsv --input names.tsv --data names.h5 --quiet
printf 'B0001\t1\t5\n0439\t1\t5\nB0002\t1\t5\n0439\t2\t5\n0440\t2\t5\n0441\t2\t5\n' \
  | awk '{ print $2 "\t" $1 "\t" $3 }' > asin.tsv
run_mpi 1 prepare --format tsv --input asin.tsv --output asin.h5 --quiet

# ---- 10: adjacency lists, and tsv lines of another length ------------------
"$PYTHON" - > adj.dat <<'PY'
import random
random.seed(7)
for u in range(60):
    if u == 11:
        print("0")                      # a user with no items
        continue
    n = random.choice([1, 2, 3, 5, 8, 13, 21])
    items = random.sample(range(150), n)
    if u == 5:
        items.append(items[0])          # a duplicate within the line
    print(len(items), " ".join(map(str, items)))
PY
# Before item 10, tsv read line u's count as a user: now the second line's
# length is refused...
expect_error "adj.dat:2: expected " prepare --format tsv --input adj.dat --output out.h5
grep -q "fields as on line 1" stderr.txt || { cat stderr.txt; fail "no field count"; }
grep -q -- "--ragged" stderr.txt || { cat stderr.txt; fail "no --ragged hint"; }
# ...unless asked for (a tsv whose lines carry optional trailing fields).
for u in 1 2 3; do printf '%s\t1\t5\n%s\t2\t4\t881250949\n%s\t3\n' $u $u $u; done > ragged.tsv
expect_error "ragged.tsv:2: expected 3 fields as on line 1, got 4" \
  prepare --format tsv --input ragged.tsv --output out.h5
run_mpi 1 prepare --format tsv --input ragged.tsv --ragged --output ragged.h5 --quiet
"$PYTHON" "$ORACLE/check_prepare.py" --format tsv --input ragged.tsv --data ragged.h5 --quiet
# ...and --format adjacency reads it: user = 0-based line number.
run_mpi 2 prepare --format adjacency --input adj.dat --output adj.h5 --quiet
"$PYTHON" "$ORACLE/check_prepare.py" --format adjacency --input adj.dat --data adj.h5
"$PYTHON" - adj.dat adj.h5 <<'PY'
import sys, h5py
users = {}
for k, line in enumerate(open(sys.argv[1])):
    f = line.split()
    assert int(f[0]) == len(f) - 1
    users[str(k)] = set(f[1:])
kept = {u: s for u, s in users.items() if len(s) >= 3}
d = h5py.File(sys.argv[2], "r")
nnz = sum(int(d.attrs[k]) for k in ("train_nnz", "val_nnz", "test_nnz"))
assert nnz == sum(map(len, kept.values())), (nnz, sum(map(len, kept.values())))
assert set(d["users/ids"].asstr()[...]) == set(kept)
assert set(d["items/ids"].asstr()[...]) == set().union(*users.values())
assert d.attrs["source_format"] in ("adjacency", b"adjacency")
print("adjacency: %d users, %d interactions" % (len(kept), nnz))
PY
# Other layouts: `user item ...` (LightGCN's train.txt) and `item ...` lines.
awk '{ $1 = "u" NR; print }' adj.dat > user_first.dat
run_mpi 1 prepare --format adjacency --user-first --no-count --input user_first.dat \
  --output uf.h5 --quiet
"$PYTHON" "$ORACLE/check_prepare.py" --format adjacency --user-first --no-count \
  --input user_first.dat --data uf.h5 --quiet
cut -d' ' -f2- adj.dat | sed 's/^0$//' > items_only.dat
run_mpi 1 prepare --format adjacency --no-count --input items_only.dat --output io.h5 --quiet
"$PYTHON" "$ORACLE/check_prepare.py" --format adjacency --no-count --input items_only.dat \
  --data io.h5 --quiet
# Same lists, same dataset: the user ids are the line numbers in both.
"$PYTHON" - adj.h5 io.h5 <<'PY'
import sys, h5py, numpy as np
a, b = (h5py.File(p, "r") for p in sys.argv[1:])
for g in ("train", "val", "test", "negatives"):
    for d in ("indptr", "indices"):
        assert np.array_equal(a[g][d][:], b[g][d][:]), (g, d)
PY
# A count that does not match its list, and no count at all.
printf '3 1 2 3\n4 1 2 3\n' > adj_count.dat
expect_error "adj_count.dat:2: the count 4 does not match the 3 item ids that follow" \
  prepare --format adjacency --input adj_count.dat --output out.h5
printf '3 1 2 3\nx 1 2\n' > adj_nocount.dat
expect_error "adj_nocount.dat:2: expected 'count item item ...'" \
  prepare --format adjacency --input adj_nocount.dat --output out.h5
expect_error "--ragged is only for --format tsv or csv" \
  prepare --format adjacency --input adj.dat --ragged --output out.h5
expect_error "--no-count and --user-first are only for --format adjacency" \
  prepare --format tsv --input adj.dat --no-count --output out.h5

# ---- 11: an imported split without --negatives draws them ------------------
"$PYTHON" - > split.tsv <<'PY'
import random
random.seed(3)
print("user\titem\tsplit")
for u in range(1, 41):
    n = 130 if u == 7 else 10          # user 7: fewer than 2x50 items free
    items = random.sample(range(1, 201), n)
    for k, i in enumerate(items):
        print(f"{u}\t{i}\t{0 if k < n - 2 else (1 if k == n - 2 else 2)}")
print("1\t%d\t2" % items[0])            # a pair of user 40's train, in user 1's test
PY
run_mpi 2 prepare --format split-tsv --input split.tsv --output split.h5 --quiet
run_mpi 1 prepare --format split-tsv --input split.tsv --output split_again.h5 --quiet
run_mpi 1 prepare --format split-tsv --input split.tsv --seed 7 --output split_seed7.h5 --quiet
"$PYTHON" "$ORACLE/check_prepare.py" --format split-tsv --input split.tsv --data split.h5
"$PYTHON" - split.h5 split_again.h5 split_seed7.h5 <<'PY'
import sys, h5py, numpy as np
f, again, other = (h5py.File(p, "r") for p in sys.argv[1:])
def rows(g):
    ip, ix = f[g]["indptr"][:], f[g]["indices"][:]
    return [set(ix[ip[u]:ip[u + 1]].tolist()) for u in range(len(ip) - 1)]
tr, va, te, ng = rows("train"), rows("val"), rows("test"), rows("negatives")
n_neg = np.diff(f["negatives/indptr"][:])
assert len(ng) == 40 and np.all(n_neg == 50), n_neg
for u in range(40):
    assert not ng[u] & (tr[u] | te[u]), u
assert np.array_equal(f["negatives/indices"][:], again["negatives/indices"][:]), "not seeded"
assert not np.array_equal(f["negatives/indices"][:], other["negatives/indices"][:]), "--seed unused"
print("split-tsv: 50 negatives per user, none in train or test")
PY
# The same sampler as the generated splits: a split that prepare drew, exported
# and imported again, gets the very negatives prepare drew with it.
run_mpi 1 generate --users 300 --items 200 --mean-items 12 --seed 5 --output gen.dat --quiet
run_mpi 1 prepare --format movielens --input gen.dat --min-user-interactions 1 --output gen.h5 \
  --quiet
"$PYTHON" - gen.h5 > gen_split.tsv <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
users, items = f["users/ids"].asstr()[...], f["items/ids"].asstr()[...]
for s, g in enumerate(("train", "val", "test")):
    ip, ix = f[g]["indptr"][:], f[g]["indices"][:]
    for u in range(len(users)):
        for j in ix[ip[u]:ip[u + 1]]:
            print(users[u], items[j], s)
PY
run_mpi 1 prepare --format split-tsv --input gen_split.tsv --output gen_split.h5 --quiet
"$PYTHON" - gen.h5 gen_split.h5 <<'PY'
import sys, h5py, numpy as np
a, b = (h5py.File(p, "r") for p in sys.argv[1:])
assert list(a["items/ids"][:]) == list(b["items/ids"][:])
for g in ("train", "val", "test", "negatives"):
    for d in ("indptr", "indices"):
        assert np.array_equal(a[g][d][:], b[g][d][:]), (g, d)
PY
run_mpi 2 train --data split.h5 --model pop --metrics-json m.json --quiet
"$PYTHON" - m.json <<'PY'
import sys, json, math
m = json.load(open(sys.argv[1]))
auc = m["test"]["AUC"]
assert isinstance(auc, float) and math.isfinite(auc), auc
print("test AUC %.4f" % auc)
PY
echo "prepare_misread: $cases refused inputs checked"
