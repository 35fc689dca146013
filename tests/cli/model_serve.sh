#!/usr/bin/env bash
# Every model saved and served: `train --out` for ∞-AE and EASE, and for ∞-AE, EASE and
# Recoder fit on a Distill-CF summary (--train-on); `recommend` serves each
# file (and Recoder's from the train split). Checked against numpy: EASE's B
# and the summary ∞-AE's α refit by the oracle, Recoder by a forward pass of
# the file's weights; the recommendations of a new user, of a dataset user
# named alone and of --all-users equal the oracle's top k (scores within
# 1e-9), on 1 and 3 ranks. stdout holds only recommendations; a user whose
# items are all unknown is named in a warning.
source "$(dirname "$0")/common.sh"
gen_dataset g 240 120 20
cd "$WORK"
run_mpi 2 distill --data g.h5 --out sum.h5 --budget 15 --steps 4 --samples 2 --no-ease --quiet
recoder=(--epochs 3 --hidden 16 --batch 64)
run_mpi 2 train --data g.h5 --model ease --lambdas 10,100 --out ease.h5 --metrics-json ease.json --quiet
run_mpi 2 train --data g.h5 --model recoder "${recoder[@]}" --out rec.h5 --quiet
run_mpi 2 train --data g.h5 --lambdas 1,5 --out inf.h5 --quiet
for m in infae ease recoder; do
  run_mpi 2 train --data g.h5 --train-on sum.h5 --model "$m" "${recoder[@]}" --out "s_$m.h5" \
    --metrics-json "s_$m.json" --quiet
done
if ls ./*.tmp-* > /dev/null 2>&1; then fail "temporary file left behind"; fi

# Users: a new user by items, a dataset user named alone (its train and
# validation items are its context), one whose items are all unknown.
"$PYTHON" - <<'PY'
import h5py
f = h5py.File("g.h5", "r")
items = [s.decode() for s in f["items/ids"][...]]
users = [s.decode() for s in f["users/ids"][...]]
with open("users.tsv", "w") as out:
    out.write("# user item\n")
    for i in (3, 17, 42, 42, 99):
        out.write("new\t%s\n" % items[i])
    out.write("%s\n" % users[7])
    out.write("ghost no-such-item\nghost other-unknown\n")
PY
for m in inf ease rec s_infae s_ease s_recoder; do
  for n in 1 3; do
    run_mpi "$n" recommend --model "$m.h5" --input users.tsv -k 12 > "$m.np$n.tsv" 2> "$m.err$n"
    grep -q "1 user(s) name only items the model does not know, and are not scored: 'ghost'" \
      "$m.err$n" || { cat "$m.err$n"; fail "$m: no warning naming the unknown user"; }
  done
  cmp "$m.np1.tsv" "$m.np3.tsv" || fail "$m: recommendations differ between 1 and 3 ranks"
  # Only data on stdout: the header and `user item score rank` lines.
  awk -F'\t' 'NR == 1 && $0 == "# user\titem\tscore\trank" {next} NF != 4 {print; bad = 1}
              END {exit bad}' "$m.np1.tsv" || fail "$m: stdout holds more than recommendations"
  run_mpi 2 recommend --model "$m.h5" --all-users -k 12 --output "$m.all.tsv" --quiet
done

"$PYTHON" - "$ORACLE" <<'PY'
import json, sys
import h5py, numpy as np, scipy.sparse as sp
sys.path.insert(0, sys.argv[1])
import oracle
ds = oracle.load_dataset("g.h5")
train = sp.csr_matrix(ds["train"], dtype=np.float64)
ctx_all = oracle.binary_union(ds["train"], ds["val"])
f = h5py.File("g.h5", "r")
items = [s.decode() for s in f["items/ids"][...]]
users = [s.decode() for s in f["users/ids"][...]]
index = {s: i for i, s in enumerate(items)}
S = h5py.File("sum.h5", "r")["S"][...]
d = len(items)

def close(a, b, what, tol=1e-9):
    err = np.abs(a - b).max() / max(np.abs(b).max(), 1e-300)
    assert err < tol, (what, err)
    return err

def attr(m, k):
    return oracle._attr(m.attrs[k])

# The models in the files against the oracle's.
scorers = {}
for name, data, trained_on in (("ease", train, "train"), ("s_ease", S, "sum.h5")):
    m = h5py.File(name + ".h5", "r")
    assert attr(m, "format") == "infae-ease" and m.attrs["version"] == 1
    assert attr(m, "trained_on") == trained_on, attr(m, "trained_on")
    lam = m.attrs["lambda"]
    assert lam == json.load(open(name + ".json"))["best_lambda"]
    B = oracle.ease_fit(sp.csr_matrix(data), lam)
    print("%s: B within %.1e of the oracle (λ %g)" % (name, close(m["B"][...], B, name), lam))
    scorers[name] = lambda c, B=B: oracle.ease_scores(c, B)
m = h5py.File("s_infae.h5", "r")
assert attr(m, "format") == "infae-model" and attr(m, "fit") == "summary"
fit = oracle.InfaeFit(None, m.attrs["lambda"], oracle.Sample(S))
assert abs(m.attrs["lambda_prime"] - fit.lam_prime) <= 1e-12 * fit.lam_prime
close(m["fit/rows"][...], S, "fit rows", 1e-15)
print("s_infae: α within %.1e of the oracle" % close(m["alpha"][...], fit.alpha, "α"))
scorers["s_infae"] = fit.scores
m = h5py.File("inf.h5", "r")
fit = oracle.InfaeFit(ds["train"], m.attrs["lambda"])
close(m["alpha"][...], fit.alpha, "α of the exact fit")
scorers["inf"] = fit.scores
ACT = {"tanh": np.tanh, "relu": lambda x: np.maximum(x, 0), "identity": lambda x: x,
       "sigmoid": lambda x: 1 / (1 + np.exp(-x))}
for name, trained_on in (("rec", "train"), ("s_recoder", "sum.h5")):
    m = h5py.File(name + ".h5", "r")
    assert attr(m, "format") == "infae-recoder" and attr(m, "trained_on") == trained_on
    L, act = int(m.attrs["layers"]), ACT[attr(m, "activation")]
    Ws = [m["W%d" % l][...] for l in range(1, L + 1)]
    bs = [m["b%d" % l][...] for l in range(1, L + 1)]
    def forward(c, Ws=Ws, bs=bs, L=L, act=act):
        a = sp.csr_matrix(c).toarray().astype(np.float64)
        for l in range(L):
            z = a @ Ws[l].T + bs[l]
            a = act(z) if l < L - 1 else z
        return a
    scorers[name] = forward

def rows(item_lists):
    r = [i for i, l in enumerate(item_lists) for _ in l]
    c = [i for l in item_lists for i in l]
    return sp.csr_matrix((np.ones(len(c)), (r, c)), shape=(len(item_lists), d))

def check(path, labels, ctx, score, k=12):
    got = {}
    for line in open(path):
        if line.startswith("#"):
            continue
        u, item, s, r = line.rstrip("\n").split("\t")
        got.setdefault(u, []).append((item, float(s), int(r)))
    assert sorted(got) == sorted(labels), (path, sorted(got)[:5], sorted(labels)[:5])
    p = score(ctx)
    for b, u in enumerate(labels):
        s = np.array(p[b], dtype=np.float64)
        s[ctx[b].indices] = -np.inf
        order = np.argsort(-s, kind="stable")[:k]
        want = [items[i] for i in order]
        mine = [g[0] for g in got[u]]
        # Near-ties may swap places: compare sets of scores where the order differs.
        for (gi, gs, gr), wi in zip(got[u], want):
            ws = s[index[gi]]
            assert abs(gs - ws) <= 1e-9 * max(abs(ws), 1e-12), (path, u, gi, gs, ws)
        assert np.allclose(sorted(gs for _, gs, _ in got[u]), sorted(s[order]), rtol=1e-9, atol=0), (path, u)
        assert [g[2] for g in got[u]] == list(range(1, k + 1))

known = users[7]
kctx = ctx_all[7].indices
new = sorted({index[items[i]] for i in (3, 17, 42, 99)})
q = rows([new, list(kctx)])
for name, score in scorers.items():
    check(name + ".np1.tsv", ["new", known], q, score)
    check(name + ".all.tsv", users, ctx_all, score)
    print("%s: recommendations of the input users and of all %d users match" % (name, len(users)))
PY

# A user named alone that the dataset does not have: FILE:LINE, nothing written.
printf 'no-such-user\n' > stranger.tsv
expect_error "stranger.tsv:1: 'no-such-user' is not a user of" recommend --model ease.h5 \
  --input stranger.tsv --output out.h5
expect_error "give the users to score: --input FILE or --all-users" recommend --model ease.h5 \
  --input stranger.tsv --all-users
expect_error "--batch must be ≥ 1" recommend --model ease.h5 --all-users --batch 0
expect_error "PopRec's scores are the item counts" train --data g.h5 --model pop --out out.h5
echo "model_serve: ok"
