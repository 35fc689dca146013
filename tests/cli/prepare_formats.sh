#!/usr/bin/env bash
# Every input format, prepared by infae_mpi, checked by an independent parser
# and protocol check (tests/oracle/check_prepare.py); the same data in every
# format gives the same dataset.
source "$(dirname "$0")/common.sh"
cd "$WORK"
for fmt in movielens tsv csv netflix; do
  run_mpi 1 generate --users 500 --items 300 --mean-items 12 --seed 3 --format "$fmt" \
    --output "g.$fmt" --quiet
done
run_mpi 2 prepare --format movielens --input g.movielens --output ml.h5 --quiet
run_mpi 2 prepare --format tsv --input g.tsv --output tsv.h5 --quiet
run_mpi 2 prepare --format csv --input g.csv --output csv.h5 --quiet
run_mpi 2 prepare --format netflix --input g.netflix --output nf.h5 --quiet
"$PYTHON" "$ORACLE/check_prepare.py" --format movielens --input g.movielens --data ml.h5
"$PYTHON" "$ORACLE/check_prepare.py" --format tsv --input g.tsv --data tsv.h5
"$PYTHON" "$ORACLE/check_prepare.py" --format csv --input g.csv --data csv.h5
"$PYTHON" "$ORACLE/check_prepare.py" --format netflix --input g.netflix --data nf.h5

# A Netflix directory of per-movie files, and Amazon-style column order.
mkdir -p nfdir
awk -v dir=nfdir '/:$/ { f = sprintf("%s/mv_%07d.txt", dir, substr($0, 1, length($0) - 1)) }
                  { print > f }' g.netflix
run_mpi 1 prepare --format netflix --input nfdir --output nfdir.h5 --quiet
awk -F, '{ print $2 "," $1 "," $3 "," $4 }' g.csv > amazon.csv
run_mpi 1 prepare --format csv --input amazon.csv --user-col 2 --item-col 1 --output amazon.h5 \
  --quiet
"$PYTHON" "$ORACLE/check_prepare.py" --format csv --input amazon.csv --user-col 2 --item-col 1 \
  --data amazon.h5

# Same interactions → same split and negatives, whatever the format or line order.
"$PYTHON" - ml.h5 tsv.h5 csv.h5 nf.h5 nfdir.h5 amazon.h5 <<'PY'
import sys, h5py, numpy as np
ref = h5py.File(sys.argv[1], "r")
for path in sys.argv[2:]:
    f = h5py.File(path, "r")
    for g in ("train", "val", "test", "negatives"):
        for d in ("indptr", "indices"):
            assert np.array_equal(f[g][d][:], ref[g][d][:]), (path, g, d)
    assert list(f["users/ids"][:]) == list(ref["users/ids"][:]), path
print("all formats give the same dataset")
PY

# Import of an exact split with negatives (the reference's layout), including
# a pair listed in two splits, which is kept in both.
printf 'user\titem\tsplit\n' > split.tsv
"$PYTHON" - >> split.tsv <<'PY'
import random
random.seed(1)
for u in range(1, 41):
    items = random.sample(range(1, 61), 8)
    for k, i in enumerate(items):
        print(f"{u}\t{i}\t{0 if k < 6 else (1 if k == 6 else 2)}")
print("1\t%d\t2" % 0)  # a new item, test only
PY
first=$(sed -n 2p split.tsv | cut -f1,2)
printf '%s\t2\n' "$first" >> split.tsv   # the same pair in train and test
printf 'user\titem\n' > negatives.tsv
for u in $(seq 1 40); do for i in 61 62 63; do printf '%s\t%s\n' "$u" "$i"; done; done >> negatives.tsv
printf '1\t61\t0\n' >> split.tsv          # item 61 exists in the split
printf '2\t62\t0\n3\t63\t0\n' >> split.tsv
run_mpi 2 prepare --format split-tsv --input split.tsv --negatives negatives.tsv \
  --output split.h5 > split.log 2>&1
cat split.log
grep -q "1 (user,item) pairs are listed in two splits" split.log || fail "two-split pair not reported"
"$PYTHON" "$ORACLE/check_prepare.py" --format split-tsv --input split.tsv \
  --negatives negatives.tsv --data split.h5
