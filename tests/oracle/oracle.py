#!/usr/bin/python3
"""Independent numpy/scipy oracle for the infae evaluation protocol (DESIGN.md §2).

Written straight from the protocol text, sharing no code with the C implementation.
Run it with Debian's /usr/bin/python3 (python3-numpy, python3-scipy, python3-h5py).

Library:
    load_dataset(path)                      -> dict (CSR splits, negatives, counts, ids, attrs)
    metrics(scores, context, held, negatives, item_train_count, train_nnz) -> dict
    pop_scores(train)                       -> dense (users x items) scores
    ease_fit(train, lam)                    -> dense (items x items) B
    evaluate(dataset, model, lambdas=None)  -> {"model", "best_lambda", "val", "test"}

CLI:
    oracle.py eval --data D.h5 --model pop|ease [--lambdas 1,10] --compare OURS.json [--rtol 1e-6]
    oracle.py eval --data D.h5 --model pop|ease [--lambdas ...] --print

Conventions (module-level, so a caller can try variants).  The defaults are the ones
that reproduce /work/shared/reference/ml-100k/expected.json ("ease" section and the
∞-AE lambdas >= 1) to <= 5e-9 relative, PROVIDED users and items are indexed in
lexicographic (string) order of their original ids, as the reference did: with
numeric id order the pooled AUC differs by ~2e-6 (ties between equal scores of
different users/items are broken differently).  Other metrics are order-insensitive
there.  The residual ~2e-9 in AUC is one or two near-tied pairs flipped by FP noise.

  TIE_BREAK       ranking order among equal scores:
                  "lower_index"  : np.argsort(-s, kind="stable") (lower item index first)
                  "higher_index" : higher item index first
  TOPK_FINITE_ONLY  True: the top-k list holds only items with a finite (unmasked)
                  score, so a masked item (context) can never be a hit even when
                  k >= number of unmasked items.  False: plain order[:k].
  AUC_CONCAT      "user_held_neg" : user by user (user order): held items (ascending
                                    item index) then that user's negatives (file order)
                  "user_neg_held" : user by user: negatives then held items
                  "all_held_all_neg": all users' held items, then all users' negatives
                  "all_neg_all_held": all users' negatives, then all users' held items
  AUC_TIES        "stable"  : ranks from np.argsort(pooled, kind="stable")
                  "average" : mid-ranks for ties (Mann-Whitney)
  AUC_NEG_USERS   "with_held": negatives only of users that have held items
                  "all"      : negatives of every user
  AUC_MASKED      False (reference): AUC uses the raw, UNMASKED model scores, even
                  at test time when some negatives are validation items (context).
                  True: AUC uses the masked scores (context items -inf).
  PSP_COUNTS      "train": n_i and N from the train split at validation AND test time.
  EASE_TEST_FIT   "train": test scores = (train ∪ val) @ B with B fitted on train.
                  "train_val": B refitted on train ∪ val for the test scores.
"""

import argparse
import json
import math
import sys

import numpy as np
import scipy.linalg
import scipy.sparse as sp

TIE_BREAK = "lower_index"
TOPK_FINITE_ONLY = True
AUC_CONCAT = "user_held_neg"
AUC_TIES = "stable"
AUC_NEG_USERS = "with_held"
AUC_MASKED = False
PSP_COUNTS = "train"
EASE_TEST_FIT = "train"

PSP_A = 0.55
PSP_B = 1.5
KS = (10, 100)
METRIC_KEYS = ("HR@10", "NDCG@10", "PSP@10", "HR@100", "NDCG@100", "PSP@100", "AUC")
EASE_GRID = (1.0, 10.0, 100.0, 250.0, 500.0, 1000.0, 2500.0)


# ----------------------------------------------------------------------------------
# dataset
# ----------------------------------------------------------------------------------

def _decode_strings(ds):
    try:
        return [str(s) for s in ds.asstr()[()]]
    except (AttributeError, TypeError, ValueError):
        out = []
        for s in ds[()]:
            out.append(s.decode("utf-8") if isinstance(s, (bytes, np.bytes_)) else str(s))
        return out


def _attr(v):
    if isinstance(v, (bytes, np.bytes_)):
        return v.decode("utf-8")
    if isinstance(v, np.ndarray):
        if v.shape == ():
            return _attr(v[()])
        if v.size == 1:
            return _attr(v.reshape(-1)[0])
        return [_attr(x) for x in v.tolist()]
    if isinstance(v, np.generic):
        return v.item()
    return v


def binary_csr(indptr, indices, n_cols):
    """CSR with data 1.0, keeping the given index order (no sorting, no summing)."""
    indptr = np.asarray(indptr, dtype=np.int64)
    indices = np.asarray(indices, dtype=np.int64)
    data = np.ones(indices.shape[0], dtype=np.float64)
    return sp.csr_matrix((data, indices, indptr), shape=(indptr.shape[0] - 1, n_cols))


def binary_union(a, b):
    u = (a + b).tocsr()
    u.sum_duplicates()
    u.sort_indices()
    u.data[:] = 1.0
    u.eliminate_zeros()
    return u


def load_dataset(path):
    import h5py
    with h5py.File(path, "r") as f:
        user_ids = _decode_strings(f["users/ids"])
        item_ids = _decode_strings(f["items/ids"])
        n_items = len(item_ids)
        d = {"user_ids": user_ids, "item_ids": item_ids}
        raw = {}
        for split in ("train", "val", "test", "negatives"):
            indptr = np.asarray(f[split + "/indptr"][()], dtype=np.int64)
            indices = np.asarray(f[split + "/indices"][()], dtype=np.int64)
            raw[split] = (indptr, indices)
            d[split] = binary_csr(indptr, indices, n_items)
        d["raw"] = raw
        d["item_train_count"] = np.asarray(f["items/train_count"][()], dtype=np.int64)
        d["attributes"] = {k: _attr(v) for k, v in f.attrs.items()}
    return d


# ----------------------------------------------------------------------------------
# metrics
# ----------------------------------------------------------------------------------

def psp_weights(item_train_count, train_nnz):
    n = np.asarray(item_train_count, dtype=np.float64)
    C = (math.log(float(train_nnz)) - 1.0) * (PSP_B + 1.0) ** PSP_A
    return 1.0 + C * (n + PSP_B) ** (-PSP_A)


def rank_rows(S):
    """Per row, item indices from the best score to the worst."""
    if TIE_BREAK == "lower_index":
        return np.argsort(-S, axis=1, kind="stable")
    if TIE_BREAK == "higher_index":
        d = S.shape[1]
        return (d - 1) - np.argsort(-S[:, ::-1], axis=1, kind="stable")
    raise ValueError("unknown TIE_BREAK %r" % TIE_BREAK)


def _rows(csr, u):
    return csr.indices[csr.indptr[u]:csr.indptr[u + 1]]


def auc_from_pooled(scores, labels):
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    P = int(labels.sum())
    Nn = int(labels.shape[0] - P)
    if P == 0 or Nn == 0:
        return float("nan")
    if AUC_TIES == "stable":
        order = np.argsort(scores, kind="stable")
        ranks = np.empty(scores.shape[0], dtype=np.float64)
        ranks[order] = np.arange(1, scores.shape[0] + 1, dtype=np.float64)
    elif AUC_TIES == "average":
        import scipy.stats
        ranks = scipy.stats.rankdata(scores, method="average")
    else:
        raise ValueError("unknown AUC_TIES %r" % AUC_TIES)
    return (float(ranks[labels].sum()) - P * (P + 1) / 2.0) / (float(P) * float(Nn))


def metrics(scores, context_csr, held_csr, negatives_csr, item_train_count, train_nnz):
    """All metrics of DESIGN §2 for one (scores, context, held) triple.

    scores: dense (users x items) model scores (not yet masked).
    context_csr: items to mask (-inf) per user. held_csr: held-out items per user.
    negatives_csr: AUC negatives per user, indices in file order.
    """
    raw = np.asarray(scores, dtype=np.float64)
    n_users, n_items = raw.shape
    S = raw.copy()
    ctx = sp.csr_matrix(context_csr)
    crow = np.repeat(np.arange(n_users), np.diff(ctx.indptr))
    S[crow, ctx.indices] = -np.inf

    held = sp.csr_matrix(held_csr)
    negs = negatives_csr
    w = psp_weights(item_train_count, train_nnz)
    kmax = max(KS)
    order = rank_rows(S)[:, :kmax]
    finite_count = np.isfinite(S).sum(axis=1)
    disc = 1.0 / np.log2(np.arange(kmax) + 2.0)

    sums = {k: 0.0 for k in METRIC_KEYS if k != "AUC"}
    n_eval = 0
    auc_user_pos, auc_user_neg = [], []
    auc_src = S if AUC_MASKED else raw
    for u in range(n_users):
        h = np.unique(np.asarray(_rows(held, u), dtype=np.int64))
        nu = np.asarray(negs.indices[negs.indptr[u]:negs.indptr[u + 1]], dtype=np.int64)
        if h.size == 0:
            if AUC_NEG_USERS == "all":
                auc_user_pos.append(np.empty(0))
                auc_user_neg.append(auc_src[u, nu])
            continue
        n_eval += 1
        auc_user_pos.append(auc_src[u, h])
        auc_user_neg.append(auc_src[u, nu])
        hset = np.zeros(n_items, dtype=bool)
        hset[h] = True
        wh = np.sort(w[h])[::-1]
        for k in KS:
            kk = min(k, n_items)
            if TOPK_FINITE_ONLY:
                kk = min(kk, int(finite_count[u]))
            top = order[u, :kk]
            hit = hset[top]
            m = min(h.size, k)
            sums["HR@%d" % k] += hit.sum() / m
            sums["NDCG@%d" % k] += disc[:kk][hit].sum() / disc[:m].sum()
            sums["PSP@%d" % k] += (w[top[hit]].sum() / m) / wh[:m].sum()

    out = {}
    for k in KS:
        for name in ("HR", "NDCG", "PSP"):
            key = "%s@%d" % (name, k)
            out[key] = 100.0 * sums[key] / n_eval if n_eval else float("nan")

    if AUC_CONCAT == "user_held_neg":
        parts = []
        for p, n in zip(auc_user_pos, auc_user_neg):
            parts.append((p, True))
            parts.append((n, False))
    elif AUC_CONCAT == "user_neg_held":
        parts = []
        for p, n in zip(auc_user_pos, auc_user_neg):
            parts.append((n, False))
            parts.append((p, True))
    elif AUC_CONCAT == "all_held_all_neg":
        parts = [(p, True) for p in auc_user_pos] + [(n, False) for n in auc_user_neg]
    elif AUC_CONCAT == "all_neg_all_held":
        parts = [(n, False) for n in auc_user_neg] + [(p, True) for p in auc_user_pos]
    else:
        raise ValueError("unknown AUC_CONCAT %r" % AUC_CONCAT)
    if parts:
        pooled = np.concatenate([np.asarray(a, dtype=np.float64) for a, _ in parts])
        labels = np.concatenate([np.full(len(a), lab, dtype=bool) for a, lab in parts])
        out["AUC"] = auc_from_pooled(pooled, labels)
    else:
        out["AUC"] = float("nan")
    return {k: float(out[k]) for k in METRIC_KEYS}


# ----------------------------------------------------------------------------------
# models
# ----------------------------------------------------------------------------------

def item_counts(train):
    return np.asarray(sp.csr_matrix(train).sum(axis=0)).ravel()


def pop_scores(train, n_users=None):
    c = item_counts(train).astype(np.float64)
    n = train.shape[0] if n_users is None else n_users
    return np.broadcast_to(c, (n, c.shape[0])).copy()


def ease_fit(train, lam):
    X = sp.csr_matrix(train, dtype=np.float64)
    G = np.asarray((X.T @ X).todense(), dtype=np.float64)
    d = G.shape[0]
    A = G + float(lam) * np.eye(d)
    cf = scipy.linalg.cho_factor(A, lower=False)
    P = scipy.linalg.cho_solve(cf, np.eye(d))
    B = np.eye(d) - P / np.diag(P)[None, :]
    np.fill_diagonal(B, 0.0)
    return B


def ease_scores(context, B):
    return np.asarray(sp.csr_matrix(context, dtype=np.float64) @ B)


def _lam_key(lam):
    return str(float(lam))


def evaluate(dataset, model, lambdas=None):
    train, val, test = dataset["train"], dataset["val"], dataset["test"]
    negs = dataset["negatives"]
    if PSP_COUNTS == "train":
        counts = item_counts(train)
        nnz = int(train.nnz)
    else:
        raise ValueError("unknown PSP_COUNTS %r" % PSP_COUNTS)
    trval = binary_union(train, val)
    res = {"model": model}
    if model == "pop":
        s_val = pop_scores(train)
        res["best_lambda"] = None
        res["val"] = {"none": metrics(s_val, train, val, negs, counts, nnz)}
        res["test"] = metrics(s_val, trval, test, negs, counts, nnz)
        return res
    if model != "ease":
        raise ValueError("unknown model %r" % model)
    lambdas = list(EASE_GRID if lambdas is None else lambdas)
    res["val"] = {}
    best, best_hr, best_B = None, -np.inf, None
    for lam in lambdas:
        B = ease_fit(train, lam)
        m = metrics(ease_scores(train, B), train, val, negs, counts, nnz)
        res["val"][_lam_key(lam)] = m
        if m["HR@100"] > best_hr:  # strictly greater: first lambda wins ties
            best, best_hr, best_B = float(lam), m["HR@100"], B
    res["best_lambda"] = best
    if EASE_TEST_FIT == "train":
        Bt = best_B
    elif EASE_TEST_FIT == "train_val":
        Bt = ease_fit(trval, best)
    else:
        raise ValueError("unknown EASE_TEST_FIT %r" % EASE_TEST_FIT)
    res["test"] = metrics(ease_scores(trval, Bt), trval, test, negs, counts, nnz)
    return res


# ----------------------------------------------------------------------------------
# comparison
# ----------------------------------------------------------------------------------

def _is_missing(x):
    return x is None or (isinstance(x, float) and math.isnan(x))


def rel_diff(a, b, atol=0.0):
    """Relative difference; 0 when both are missing/NaN or equal; inf if one is missing."""
    if _is_missing(a) and _is_missing(b):
        return 0.0
    if _is_missing(a) or _is_missing(b):
        return float("inf")
    a, b = float(a), float(b)
    if a == b:
        return 0.0
    diff = abs(a - b)
    if diff <= atol:
        return 0.0
    return diff / max(abs(a), abs(b))


def compare(oracle, ours, rtol=1e-6, atol=0.0, out=sys.stdout):
    """Compare oracle result with ours; returns list of failure strings."""
    if isinstance(ours.get(oracle["model"]), dict) and "val" in ours[oracle["model"]]:
        ours = ours[oracle["model"]]  # e.g. the reference expected.json's "ease" section
    fails = []
    maxrel = {k: 0.0 for k in METRIC_KEYS}

    def check(where, mo, mu):
        for k in METRIC_KEYS:
            if k not in mu:
                fails.append("%s: metric %s missing in ours" % (where, k))
                continue
            r = rel_diff(mo[k], mu[k], atol)
            maxrel[k] = max(maxrel[k], r)
            if r > rtol:
                fails.append("%s %s: oracle %r ours %r (rel %.3g)" % (where, k, mo[k], mu[k], r))

    ov, uv = oracle["val"], ours.get("val", {})
    if oracle["best_lambda"] is None:
        if len(uv) != 1:
            fails.append("val: expected exactly one entry for model %s, ours has %d"
                         % (oracle["model"], len(uv)))
        else:
            check("val", next(iter(ov.values())), next(iter(uv.values())))
        if ours.get("best_lambda") is not None:
            fails.append("best_lambda: oracle null, ours %r" % (ours.get("best_lambda"),))
    else:
        umap = {}
        for k, v in uv.items():
            try:
                umap[float(k)] = (k, v)
            except ValueError:
                fails.append("val: unparsable lambda key %r in ours" % k)
        for k, v in ov.items():
            lam = float(k)
            if lam not in umap:
                fails.append("val: lambda %s missing in ours" % k)
                continue
            check("val[%s]" % k, v, umap[lam][1])
        for lam, (k, _) in umap.items():
            if _lam_key(lam) not in ov:
                fails.append("val: ours has lambda %s that the oracle did not evaluate" % k)
        ob, ub = oracle["best_lambda"], ours.get("best_lambda")
        try:
            ok = ub is not None and float(ub) == float(ob)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            fails.append("best_lambda: oracle %r ours %r" % (ob, ub))
    if "test" not in ours:
        fails.append("test: missing in ours")
    else:
        check("test", oracle["test"], ours["test"])
    for k in METRIC_KEYS:
        print("max rel diff %-9s %.3e" % (k, maxrel[k]), file=out)
    return fails


def _parse_lambdas(s):
    return [float(x) for x in s.split(",") if x.strip()]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    ev = sub.add_parser("eval")
    ev.add_argument("--data", required=True)
    ev.add_argument("--model", required=True, choices=("pop", "ease"))
    ev.add_argument("--lambdas", type=_parse_lambdas, default=None)
    g = ev.add_mutually_exclusive_group(required=True)
    g.add_argument("--compare", metavar="OURS.json")
    g.add_argument("--print", action="store_true")
    ev.add_argument("--rtol", type=float, default=1e-6)
    ev.add_argument("--atol", type=float, default=0.0)
    a = ap.parse_args(argv)

    ds = load_dataset(a.data)
    res = evaluate(ds, a.model, a.lambdas)
    if a.print:
        json.dump(res, sys.stdout, indent=1)
        print()
        return 0
    with open(a.compare) as f:
        ours = json.load(f)
    fails = compare(res, ours, a.rtol, a.atol)
    if fails:
        print("MISMATCH (%d):" % len(fails))
        for s in fails:
            print("  " + s)
        return 1
    print("OK: %s matches the oracle (rtol %g)" % (a.compare, a.rtol))
    return 0


if __name__ == "__main__":
    sys.exit(main())
