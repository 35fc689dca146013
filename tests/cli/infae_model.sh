#!/usr/bin/env bash
# Model files and `recommend`: the file's α and λ' match the oracle's fit at
# the chosen λ, and the recommendations of known and brand-new users match
# NTK(user, X)·α computed by the oracle, on 1 and 3 ranks.
source "$(dirname "$0")/common.sh"
gen_dataset g 300 200 25
cd "$WORK"
run_mpi 2 train --data g.h5 --lambdas 1,5,20 --block-size 16 --out model.h5 \
  --metrics-json m.json --quiet
if ls ./*.tmp-* > /dev/null 2>&1; then fail "temporary file left behind"; fi
# Users to score: user 0's train items (a known user) under a new label, a
# brand-new user, and a line naming an item the model does not know.
"$PYTHON" - <<'PY'
import h5py
f = h5py.File("g.h5", "r")
ids = [s.decode() for s in f["items/ids"][...]]
ptr, ind = f["train/indptr"][...], f["train/indices"][...]
with open("users.tsv", "w") as out:
    out.write("# user item\n")
    for i in ind[ptr[0]:ptr[1]]:
        out.write("known\t%s\n" % ids[i])
    for i in (3, 17, 42, 42, 99):
        out.write("new %s\n" % ids[i])
    out.write("new no-such-item\n")
PY
for n in 1 3; do
  run_mpi "$n" recommend --model model.h5 --input users.tsv -k 15 --output rec$n.tsv \
    2> err$n.txt
  grep -q "1 input line(s) name items the model does not know" err$n.txt \
    || { cat err$n.txt; fail "no warning for the unknown item"; }
done
cmp rec1.tsv rec3.tsv || fail "recommendations differ between 1 and 3 ranks"
"$PYTHON" - "$ORACLE" <<'PY'
import json, sys
import h5py, numpy as np, scipy.sparse as sp
sys.path.insert(0, sys.argv[1])
import oracle
ds = oracle.load_dataset("g.h5")
ours = json.load(open("m.json"))
lam = ours["best_lambda"]
fit = oracle.InfaeFit(ds["train"], lam)
m = h5py.File("model.h5", "r")
assert m.attrs["format"] in (b"infae-model", "infae-model"), m.attrs["format"]
assert m.attrs["version"] == 1
assert m.attrs["lambda"] == lam
assert abs(m.attrs["lambda_prime"] - fit.lam_prime) <= 1e-12 * fit.lam_prime
alpha = m["alpha"][...]
assert alpha.shape == fit.alpha.shape, (alpha.shape, fit.alpha.shape)
err = np.abs(alpha - fit.alpha).max() / np.abs(fit.alpha).max()
assert err < 1e-9, err
x = sp.csr_matrix((np.ones(len(m["fit/indices"])), m["fit/indices"][...], m["fit/indptr"][...]),
                  shape=alpha.shape)
assert (x != sp.csr_matrix(ds["train"])).nnz == 0, "fit rows differ from the train split"
json.loads(m.attrs["metrics"])
# Peak RSS in bytes (getrusage gives KiB): an MPI rank holds tens of MB at least.
assert 1e7 < ours["peak_rss_bytes"] < 8e9, ours["peak_rss_bytes"]
ids = [s.decode() for s in m["items/ids"][...]]
index = {s: i for i, s in enumerate(ids)}
# The oracle's recommendations.
users = {}
for line in open("users.tsv"):
    if line.startswith("#"):
        continue
    u, i = line.split()
    if i in index:
        users.setdefault(u, set()).add(index[i])
got = {}
for line in open("rec1.tsv"):
    if line.startswith("#"):
        continue
    u, item, score, rank = line.split("\t")
    got.setdefault(u, []).append((item, float(score), int(rank)))
for u, items in users.items():
    q = sp.csr_matrix((np.ones(len(items)), (np.zeros(len(items), int), sorted(items))),
                      shape=(1, alpha.shape[1]))
    s = fit.scores(q)[0]
    s[sorted(items)] = -np.inf
    order = np.argsort(-s, kind="stable")[:15]
    want = [(ids[i], s[i]) for i in order]
    assert [g[0] for g in got[u]] == [w[0] for w in want], (u, got[u], want)
    for (gi, gs, gr), (wi, ws) in zip(got[u], want):
        assert abs(gs - ws) <= 1e-9 * max(abs(ws), 1e-12), (u, gi, gs, ws)
    assert [g[2] for g in got[u]] == list(range(1, 16))
print("model file: α within %.1e of the oracle; recommendations of %d users match" % (err, len(users)))
PY
