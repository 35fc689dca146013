#!/usr/bin/python3
"""Independent numpy/scipy oracle for the infae evaluation protocol (docs/protocol.md).

Written straight from the protocol text, sharing no code with the C implementation.
Run it with Debian's /usr/bin/python3 (python3-numpy, python3-scipy, python3-h5py).

Library:
    load_dataset(path)                      -> dict (CSR splits, negatives, counts, ids, attrs)
    metrics(scores, context, held, negatives, item_train_count, train_nnz) -> dict
    metrics_bounds(..., tie_rtol)           -> (exact, lo, hi) over near-tie reorderings
    pop_scores(train)                       -> dense (users x items) scores
    ease_fit(train, lam)                    -> dense (items x items) B
    evaluate(dataset, model, lambdas=None, tie_rtol=None)
                                            -> {"model", "best_lambda", "val", "test"[, "bounds"]}
    compare(oracle_result, ours, rtol)      -> list of mismatches

CLI:
    oracle.py eval --data D.h5 --model pop|ease|infae [--lambdas 1,10] --compare OURS.json
                   [--rtol 1e-6] [--atol 0] [--tie-rtol 1e-10]
    oracle.py eval --data D.h5 --model pop|ease [--lambdas ...] --print
  --compare exits 0 when every validation metric (per lambda, keys matched by float
  value), best_lambda and every test metric agree, 1 otherwise (one line per
  mismatch).  OURS.json may also be a file whose "<model>" entry holds those keys
  (the reference expected.json).

Near ties.  On sparse data EASE produces many mathematically equal scores (items
with identical columns of XᵀX), which floating-point noise (~1e-14 of the row's
largest score) turns into an implementation-dependent order; NDCG/HR/PSP then
differ by up to a few % between two correct implementations (seen on movietweetings
and filmtrust; Cholesky vs inv inside this oracle gives the same spread).  So by
default --compare accepts a value outside rtol when it lies in the range the metric
can take when such near-ties are reordered (--tie-rtol, relative to the row's largest
|score|; see _groups for what may move: bitwise-equal scores and exact zeros keep the
stable order).  --tie-rtol 0 compares strictly; use it against the reference.

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
TIE_RTOL_DEFAULT = 1e-10  # CLI --compare default; see metrics_bounds()

PSP_A = 0.55
PSP_B = 1.5
KS = (10, 100)
METRIC_KEYS = ("HR@10", "NDCG@10", "PSP@10", "HR@100", "NDCG@100", "PSP@100", "AUC")
EASE_GRID = (1.0, 10.0, 100.0, 250.0, 500.0, 1000.0, 2500.0)
INFAE_GRID = (0.0, 1.0, 5.0, 20.0, 50.0, 100.0)
NTK_W2 = 2.0   # W_std = sqrt(2)
NTK_B2 = 0.01  # b_std = 0.1


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


def _stable_ranks(scores):
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(scores.shape[0], dtype=np.float64)
    ranks[order] = np.arange(1, scores.shape[0] + 1, dtype=np.float64)
    return order, ranks


def auc_from_pooled(scores, labels):
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    P = int(labels.sum())
    Nn = int(labels.shape[0] - P)
    if P == 0 or Nn == 0:
        return float("nan")
    if AUC_TIES == "stable":
        _, ranks = _stable_ranks(scores)
    elif AUC_TIES == "average":
        import scipy.stats
        ranks = scipy.stats.rankdata(scores, method="average")
    else:
        raise ValueError("unknown AUC_TIES %r" % AUC_TIES)
    return (float(ranks[labels].sum()) - P * (P + 1) / 2.0) / (float(P) * float(Nn))


def _groups(sorted_vals, tol):
    """Runs of a sorted array within which the order is free.

    Neighbours are near-tied when they differ by at most tol (a scalar, or one
    tolerance per element: then the larger of the two).  A run is a maximal chain of
    near-tied neighbours; it is free (may be reordered) only when it holds at least
    two distinct values: a run of bitwise-equal values keeps its stable order, since
    exact ties (integer PopRec counts, ...) are exact in any implementation and their
    order is part of the protocol.  Exact 0.0 never joins nonzero values: EASE scores
    of items without train interactions are structural zeros, exact everywhere.
    Returns (starts, ends, free)."""
    n = sorted_vals.shape[0]
    if n == 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z, np.zeros(0, dtype=bool)
    a, b = sorted_vals[:-1], sorted_vals[1:]
    with np.errstate(invalid="ignore"):
        gap = np.abs(b - a)
    gap = np.where(np.isnan(gap), 0.0, gap)  # inf - inf: same value
    t = np.asarray(tol, dtype=np.float64)
    if t.ndim:
        t = np.maximum(t[:-1], t[1:])
    near = (gap <= t) & ~((a == 0) ^ (b == 0))
    brk = np.flatnonzero(~near) + 1
    starts, ends = np.r_[0, brk], np.r_[brk, n]
    cdist = np.r_[0, np.cumsum(gap > 0)]  # distinct-value changes up to each position
    free = (cdist[ends - 1] - cdist[starts]) > 0
    return starts, ends, free


def auc_bounds(scores, labels, tol):
    """Smallest and largest pooled AUC over the free reorderings of near-tied scores
    (see _groups; tol: one tolerance per pooled score)."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    P = int(labels.sum())
    Nn = int(labels.shape[0] - P)
    if P == 0 or Nn == 0:
        return float("nan"), float("nan")
    order, ranks = _stable_ranks(scores)
    starts, ends, free = _groups(scores[order], np.asarray(tol, dtype=np.float64)[order])
    lab = labels[order].astype(np.int64)
    cpos = np.r_[0, np.cumsum(lab)]
    csum = np.r_[0.0, np.cumsum(lab * np.arange(1, lab.shape[0] + 1, dtype=np.float64))]
    p = cpos[ends] - cpos[starts]
    s = starts.astype(np.float64)
    ln = (ends - starts).astype(np.float64)
    pf = p.astype(np.float64)
    exact = csum[ends] - csum[starts]  # stable ranks of the positives of each run
    # free runs: positives first (smallest ranks) / last (largest ranks); 1-based ranks
    lo_sum = float(np.sum(np.where(free, pf * (s + 1) + pf * (pf - 1) / 2, exact)))
    hi_sum = float(np.sum(np.where(free, pf * (s + ln - pf + 1) + pf * (pf - 1) / 2, exact)))
    base = P * (P + 1) / 2.0
    den = float(P) * float(Nn)
    return (lo_sum - base) / den, (hi_sum - base) / den


def _user_metrics(top_by_k, hset, w, m_by_k, wh_desc, disc, acc):
    for k, top in top_by_k.items():
        hit = hset[top]
        m = m_by_k[k]
        acc["HR@%d" % k] += hit.sum() / m
        acc["NDCG@%d" % k] += disc[:top.shape[0]][hit].sum() / disc[:m].sum()
        acc["PSP@%d" % k] += (w[top[hit]].sum() / m) / wh_desc[:m].sum()


def _metrics_core(scores, context_csr, held_csr, negatives_csr, item_train_count, train_nnz,
                  tie_rtol=None):
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
    full = rank_rows(S)
    order = full[:, :kmax]
    finite_count = np.isfinite(S).sum(axis=1)
    disc = 1.0 / np.log2(np.arange(max(kmax, n_items)) + 2.0)

    names = [k for k in METRIC_KEYS if k != "AUC"]
    acc = {k: 0.0 for k in names}
    acc_lo = {k: 0.0 for k in names}
    acc_hi = {k: 0.0 for k in names}
    n_eval = 0
    auc_user_pos, auc_user_neg, auc_user_tol = [], [], []
    auc_src = S if AUC_MASKED else raw
    row_scale = np.zeros(n_users)
    if tie_rtol is not None:
        fin_abs = np.where(np.isfinite(S), np.abs(S), 0.0)
        row_scale = tie_rtol * fin_abs.max(axis=1) if n_items else row_scale
    for u in range(n_users):
        h = np.unique(np.asarray(_rows(held, u), dtype=np.int64))
        nu = np.asarray(negs.indices[negs.indptr[u]:negs.indptr[u + 1]], dtype=np.int64)
        if h.size == 0:
            if AUC_NEG_USERS == "all":
                auc_user_pos.append(np.empty(0))
                auc_user_neg.append(auc_src[u, nu])
                auc_user_tol.append(row_scale[u])
            continue
        n_eval += 1
        auc_user_pos.append(auc_src[u, h])
        auc_user_neg.append(auc_src[u, nu])
        auc_user_tol.append(row_scale[u])
        hset = np.zeros(n_items, dtype=bool)
        hset[h] = True
        wh = np.sort(w[h])[::-1]
        n_rank = int(finite_count[u]) if TOPK_FINITE_ONLY else n_items
        kk = {k: min(k, n_items, n_rank) for k in KS}
        m_by_k = {k: min(h.size, k) for k in KS}
        _user_metrics({k: order[u, :kk[k]] for k in KS}, hset, w, m_by_k, wh, disc, acc)
        if tie_rtol is None:
            continue
        # best / worst arrangement of near-tied runs (hits first by descending weight /
        # hits last by ascending weight): bounds of every metric at once
        row = S[u, full[u, :n_rank]]
        starts, ends, free = _groups(row, row_scale[u])
        best, worst = [], []
        for s0, e0, fr in zip(starts, ends, free):
            if s0 >= kmax:
                break
            g = full[u, s0:e0]
            if not fr:
                best.append(g)
                worst.append(g)
                continue
            hg = g[hset[g]]
            ng = g[~hset[g]]
            hd = hg[np.argsort(-w[hg], kind="stable")]
            best.append(np.r_[hd, ng])
            worst.append(np.r_[ng, hd[::-1]])
        best = np.concatenate(best) if best else np.zeros(0, dtype=np.int64)
        worst = np.concatenate(worst) if worst else np.zeros(0, dtype=np.int64)
        _user_metrics({k: best[:kk[k]] for k in KS}, hset, w, m_by_k, wh, disc, acc_hi)
        _user_metrics({k: worst[:kk[k]] for k in KS}, hset, w, m_by_k, wh, disc, acc_lo)

    def finish(a):
        return {k: (100.0 * a[k] / n_eval if n_eval else float("nan")) for k in names}

    out, lo, hi = finish(acc), finish(acc_lo), finish(acc_hi)

    trip = list(zip(auc_user_pos, auc_user_neg, auc_user_tol))
    if AUC_CONCAT == "user_held_neg":
        parts = []
        for p, n, t in trip:
            parts += [(p, True, t), (n, False, t)]
    elif AUC_CONCAT == "user_neg_held":
        parts = []
        for p, n, t in trip:
            parts += [(n, False, t), (p, True, t)]
    elif AUC_CONCAT == "all_held_all_neg":
        parts = [(p, True, t) for p, _, t in trip] + [(n, False, t) for _, n, t in trip]
    elif AUC_CONCAT == "all_neg_all_held":
        parts = [(n, False, t) for _, n, t in trip] + [(p, True, t) for p, _, t in trip]
    else:
        raise ValueError("unknown AUC_CONCAT %r" % AUC_CONCAT)
    out["AUC"] = lo["AUC"] = hi["AUC"] = float("nan")
    if parts:
        pooled = np.concatenate([np.asarray(a, dtype=np.float64) for a, _, _ in parts])
        labels = np.concatenate([np.full(len(a), lab, dtype=bool) for a, lab, _ in parts])
        out["AUC"] = auc_from_pooled(pooled, labels)
        if tie_rtol is not None:
            tol = np.concatenate([np.full(len(a), t) for a, _, t in parts])
            lo["AUC"], hi["AUC"] = auc_bounds(pooled, labels, tol)
    order_keys = list(METRIC_KEYS)
    out = {k: float(out[k]) for k in order_keys}
    lo = {k: float(lo[k]) for k in order_keys}
    hi = {k: float(hi[k]) for k in order_keys}
    return out, lo, hi


def metrics(scores, context_csr, held_csr, negatives_csr, item_train_count, train_nnz):
    """All metrics of docs/protocol.md §3 for one (scores, context, held) triple.

    scores: dense (users x items) model scores (not yet masked).
    context_csr: items to mask (-inf) per user. held_csr: held-out items per user.
    negatives_csr: AUC negatives per user, indices in file order.
    Returns {"HR@10", "NDCG@10", "PSP@10", "HR@100", "NDCG@100", "PSP@100" (x100), "AUC"}.
    """
    return _metrics_core(scores, context_csr, held_csr, negatives_csr, item_train_count,
                         train_nnz)[0]


def metrics_bounds(scores, context_csr, held_csr, negatives_csr, item_train_count, train_nnz,
                   tie_rtol=1e-10):
    """(exact, lo, hi): exact = metrics(...); lo/hi = the smallest/largest value each
    metric can take when scores that differ by at most tie_rtol times the largest
    finite |score| of their row (pooled scores for AUC) are ordered arbitrarily.
    Floating-point noise makes mathematically tied scores (EASE on sparse data has
    many: items with identical columns) come out in implementation-dependent order;
    an implementation is correct up to that when its value lies in [lo, hi]."""
    return _metrics_core(scores, context_csr, held_csr, negatives_csr, item_train_count,
                         train_nnz, tie_rtol)


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


# The NTK's hidden layers (infae's --depth); set by `eval --depth` and by
# distill_check.py from a summary's /hyper.
DEPTH = 1


def ntk(gram, nx, ny, d, pairs=False, depth=None):
    """NTK of Dense(W, b) -> ReLU -> Dense (docs/protocol.md §2), from the Gram
    x.y and the squared norms of the two sets of rows (pairs: of the pairs
    x_i, y_i, gram a vector); with depth > 1 (default DEPTH), `depth` hidden
    Dense -> ReLU layers, by the layer-by-layer kernel recursion (ntk_layers)."""
    depth = DEPTH if depth is None else depth
    if depth != 1:
        return ntk_layers(gram, nx, ny, d, depth, pairs)
    qxy = NTK_W2 * gram / d + NTK_B2
    qx = NTK_W2 * np.asarray(nx, dtype=np.float64) / d + NTK_B2
    qy = NTK_W2 * np.asarray(ny, dtype=np.float64) / d + NTK_B2
    s = np.sqrt(qx * qy if pairs else np.outer(qx, qy))
    c = np.clip(qxy / s, -1.0, 1.0)
    th = np.arccos(c)
    krelu = s * (np.sin(th) + (np.pi - th) * c) / (2.0 * np.pi)
    return NTK_W2 * krelu + NTK_B2 + NTK_W2 * qxy * (np.pi - th) / (2.0 * np.pi)


def ntk_layers(gram, nx, ny, d, depth, pairs=False):
    """The NTK of `depth` hidden layers as a composition of layer maps on the
    kernel state (nngp = E[f(x) f(y)], the two variances, ntk), as in
    neural-tangents' stax with the NTK parameterization: a Dense layer maps
    nngp -> W2 nngp + b2 (each variance alike) and ntk -> (that new nngp)
    + W2 ntk; a ReLU maps nngp to the arc-cosine kernel of degree 1, each
    variance v -> v / 2, and ntk -> ntk times the arc-cosine kernel of
    degree 0, (pi - theta) / (2 pi). Input: nngp = x.y / d, ntk = 0."""
    vx = np.asarray(nx, dtype=np.float64) / d
    vy = np.asarray(ny, dtype=np.float64) / d
    k = {"nngp": np.asarray(gram, dtype=np.float64) / d, "vx": vx, "vy": vy,
         "ntk": np.zeros(np.shape(gram))}

    def dense(k):
        nngp = NTK_W2 * k["nngp"] + NTK_B2
        return {"nngp": nngp, "vx": NTK_W2 * k["vx"] + NTK_B2,
                "vy": NTK_W2 * k["vy"] + NTK_B2, "ntk": nngp + NTK_W2 * k["ntk"]}

    def relu(k):
        prod = k["vx"] * k["vy"] if pairs else np.outer(k["vx"], k["vy"])
        norm = np.sqrt(prod)
        theta = np.arccos(np.clip(k["nngp"] / norm, -1.0, 1.0))
        j1 = (np.sin(theta) + (np.pi - theta) * np.cos(theta)) / (2.0 * np.pi)
        j0 = (np.pi - theta) / (2.0 * np.pi)
        return {"nngp": norm * j1, "vx": k["vx"] / 2.0, "vy": k["vy"] / 2.0,
                "ntk": k["ntk"] * j0}

    for _ in range(depth):
        k = relu(dense(k))
    return dense(k)["ntk"]


def ntk_rows(a, b):
    """NTK between the rows of a and of b (binary sparse, or dense real rows)."""
    a = sp.csr_matrix(a, dtype=np.float64)
    b = sp.csr_matrix(b, dtype=np.float64)
    gram = np.asarray((a @ b.T).todense())
    na = np.asarray(a.multiply(a).sum(axis=1)).ravel()
    nb = np.asarray(b.multiply(b).sum(axis=1)).ravel()
    return ntk(gram, na, nb, a.shape[1])


class Sample:
    """Fit on these dense rows (a Distill-CF summary) instead of the train rows."""

    def __init__(self, s):
        self.s = np.asarray(s, dtype=np.float64)


def fit_rows(train, fit_users):
    if isinstance(fit_users, Sample):
        return sp.csr_matrix(fit_users.s)
    return sp.csr_matrix(train if fit_users is None else train[fit_users])


class InfaeFit:
    """alpha = (K + lam' I)^-1 X, K = NTK(X, X), lam' = lam tr(K) / n, X = the
    fit users' train rows; raises numpy.linalg.LinAlgError when not SPD."""

    def __init__(self, train, lam, fit_users=None):
        self.x = fit_rows(train, fit_users)
        k = ntk_rows(self.x, self.x)
        self.trace = float(np.trace(k))
        self.lam_prime = float(lam) * self.trace / k.shape[0]
        cf = scipy.linalg.cho_factor(k + self.lam_prime * np.eye(k.shape[0]), lower=True)
        self.alpha = scipy.linalg.cho_solve(cf, self.x.toarray())

    def scores(self, context):
        # P = NTK(C, X) alpha, computed directly (not through X - lam' alpha).
        return ntk_rows(context, self.x) @ self.alpha


class Centers:
    """Nystrom centers: fit every user through these users' train rows."""

    def __init__(self, users):
        self.users = np.asarray(users, dtype=np.int64)


class NystromFit:
    """Subset-of-regressors ridge regression with M centers c, by its normal
    equations: alpha = (K_nm^T K_nm + lam' (K_mm + delta I))^-1 K_nm^T X,
    K_nm = NTK(X, X_c), lam' = lam tr(K_nn) / n over all n users, jitter
    delta = eps tr(K_mm) (float64 eps); scores NTK(C, X_c) alpha."""

    def __init__(self, train, lam, centers):
        x = sp.csr_matrix(train, dtype=np.float64)
        self.xc = x[centers.users]
        knm = ntk_rows(x, self.xc)
        kmm = ntk_rows(self.xc, self.xc)
        kmm += np.finfo(np.float64).eps * np.trace(kmm) * np.eye(kmm.shape[0])
        nx = np.asarray(x.sum(axis=1), dtype=np.float64).ravel()
        self.trace = float(np.sum(ntk(nx, nx, nx, x.shape[1], pairs=True)))
        self.lam_prime = float(lam) * self.trace / x.shape[0]
        a = knm.T @ knm + self.lam_prime * kmm
        self.alpha = scipy.linalg.solve(a, knm.T @ x.toarray(), assume_a="sym")

    def scores(self, context):
        return ntk_rows(context, self.xc) @ self.alpha


def infae_fit(train, lam, fit_users):
    if isinstance(fit_users, Centers):
        return NystromFit(train, lam, fit_users)
    return InfaeFit(train, lam, fit_users)


def _lam_key(lam):
    return str(float(lam))


def _split_inputs(dataset):
    train, val, test = dataset["train"], dataset["val"], dataset["test"]
    if PSP_COUNTS != "train":
        raise ValueError("unknown PSP_COUNTS %r" % PSP_COUNTS)
    return train, val, test, binary_union(train, val), item_counts(train), int(train.nnz)


def _eval_one(scores, ctx, held, dataset, counts, nnz, tie_rtol):
    negs = dataset["negatives"]
    if tie_rtol is None:
        return metrics(scores, ctx, held, negs, counts, nnz), None
    ex, lo, hi = metrics_bounds(scores, ctx, held, negs, counts, nnz, tie_rtol)
    return ex, {"lo": lo, "hi": hi}


def test_at(dataset, model, lam, tie_rtol=None, B=None, fit_users=None):
    """Test metrics (and bounds) of `model` at lambda `lam` (None for pop)."""
    train, val, test, trval, counts, nnz = _split_inputs(dataset)
    if model == "infae":
        fit = B if B is not None else infae_fit(train, lam, fit_users)
        s = fit.scores(trval)
    elif model == "pop":
        s = pop_scores(train)
    elif EASE_TEST_FIT == "train":
        s = ease_scores(trval, ease_fit(fit_rows(train, fit_users), lam) if B is None else B)
    elif EASE_TEST_FIT == "train_val":
        s = ease_scores(trval, ease_fit(trval, lam))
    else:
        raise ValueError("unknown EASE_TEST_FIT %r" % EASE_TEST_FIT)
    return _eval_one(s, trval, test, dataset, counts, nnz, tie_rtol)


def evaluate(dataset, model, lambdas=None, tie_rtol=None, fit_users=None, select="HR@100"):
    """The protocol: validation (context train, held val, train masked) for every
    lambda, best lambda by validation HR@100 (or the metric select; first on
    ties), test (context
    train ∪ val, held test, train ∪ val masked) at it.  With tie_rtol, the result
    also has "bounds": {"val": {lam: {"lo", "hi"}}, "test": {"lo", "hi"}}."""
    train, val, test, trval, counts, nnz = _split_inputs(dataset)
    res = {"model": model}
    bounds = {"val": {}}
    if model == "pop":
        m, b = _eval_one(pop_scores(train), train, val, dataset, counts, nnz, tie_rtol)
        res["best_lambda"] = None
        res["val"] = {"none": m}
        bounds["val"]["none"] = b
        res["test"], bounds["test"] = test_at(dataset, "pop", None, tie_rtol)
    elif model == "ease":
        lambdas = list(EASE_GRID if lambdas is None else lambdas)
        res["val"] = {}
        best, best_val, best_B = None, -np.inf, None
        for lam in lambdas:
            B = ease_fit(fit_rows(train, fit_users), lam)
            m, b = _eval_one(ease_scores(train, B), train, val, dataset, counts, nnz, tie_rtol)
            res["val"][_lam_key(lam)] = m
            bounds["val"][_lam_key(lam)] = b
            if m[select] > best_val:  # strictly greater: the first lambda wins ties
                best, best_val, best_B = float(lam), m[select], B
        res["best_lambda"] = best
        res["test"], bounds["test"] = test_at(dataset, "ease", best, tie_rtol, best_B)
    elif model == "infae":
        lambdas = list(INFAE_GRID if lambdas is None else lambdas)
        res["val"] = {}
        best, best_val, best_fit = None, -np.inf, None
        for lam in lambdas:
            try:
                fit = infae_fit(train, lam, fit_users)
            except np.linalg.LinAlgError:
                res["val"][_lam_key(lam)] = "skipped: not positive definite"
                bounds["val"][_lam_key(lam)] = None
                continue
            res["trace_K"] = fit.trace
            m, b = _eval_one(fit.scores(train), train, val, dataset, counts, nnz, tie_rtol)
            res["val"][_lam_key(lam)] = m
            bounds["val"][_lam_key(lam)] = b
            if m[select] > best_val:
                best, best_val, best_fit = float(lam), m[select], fit
        res["best_lambda"] = best
        res["lambda_prime"] = best_fit.lam_prime
        res["test"], bounds["test"] = test_at(dataset, "infae", best, tie_rtol, best_fit)
    else:
        raise ValueError("unknown model %r" % model)
    if tie_rtol is not None:
        res["bounds"] = bounds
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


def _in_bounds(x, lo, hi, rtol, atol):
    if _is_missing(x) or _is_missing(lo) or _is_missing(hi):
        return False
    x = float(x)
    return (lo - abs(lo) * rtol - atol) <= x <= (hi + abs(hi) * rtol + atol)


def compare(oracle, ours, rtol=1e-6, atol=0.0, out=sys.stdout, dataset=None, fit_users=None):
    """Compare the oracle's evaluate() result with ours; returns a list of failures.

    A metric matches when its relative difference is <= rtol, or, when the oracle
    result has "bounds" (evaluate(..., tie_rtol=...)), when ours lies within
    [lo, hi] (widened by rtol): the values reachable by reordering near-tied scores.
    A different best_lambda is accepted when the two lambdas' validation HR@100
    intervals overlap; the test metrics are then compared at ours' lambda (needs
    `dataset`)."""
    model = oracle["model"]
    if isinstance(ours.get(model), dict) and "val" in ours[model]:
        ours = ours[model]  # e.g. the reference expected.json's "ease" section
    bounds = oracle.get("bounds")
    fails = []
    maxrel = {k: 0.0 for k in METRIC_KEYS}
    tie_ok = {k: 0 for k in METRIC_KEYS}

    def check(where, mo, mu, b):
        for k in METRIC_KEYS:
            if k not in mu:
                fails.append("%s: metric %s missing in ours" % (where, k))
                continue
            r = rel_diff(mo[k], mu[k], atol)
            maxrel[k] = max(maxrel[k], r)
            if r <= rtol:
                continue
            if b is not None and _in_bounds(mu[k], b["lo"][k], b["hi"][k], rtol, atol):
                tie_ok[k] += 1
                continue
            extra = ""
            if b is not None:
                extra = ", near-tie range [%r, %r]" % (b["lo"][k], b["hi"][k])
            fails.append("%s %s: oracle %r ours %r (rel %.3g%s)"
                         % (where, k, mo[k], mu[k], r, extra))

    ov, uv = oracle["val"], ours.get("val", {})
    test_oracle = oracle["test"]
    test_bounds = bounds["test"] if bounds else None
    if oracle["best_lambda"] is None:
        if len(uv) != 1:
            fails.append("val: expected exactly one entry for model %s, ours has %d"
                         % (model, len(uv)))
        else:
            b = next(iter(bounds["val"].values())) if bounds else None
            check("val", next(iter(ov.values())), next(iter(uv.values())), b)
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
            if isinstance(v, str) or isinstance(umap[lam][1], str):
                if not (isinstance(v, str) and isinstance(umap[lam][1], str)):
                    fails.append("val[%s]: skipped on one side only (oracle %r, ours %r)"
                                 % (k, v if isinstance(v, str) else "fitted",
                                    umap[lam][1] if isinstance(umap[lam][1], str) else "fitted"))
                continue
            check("val[%s]" % k, v, umap[lam][1], bounds["val"][k] if bounds else None)
        for lam, (k, _) in umap.items():
            if _lam_key(lam) not in ov:
                fails.append("val: ours has lambda %s that the oracle did not evaluate" % k)
        ob, ub = oracle["best_lambda"], ours.get("best_lambda")
        try:
            same = ub is not None and float(ub) == float(ob)
        except (TypeError, ValueError):
            same = False
        if not same:
            amb = False
            if bounds and ub is not None and _lam_key(ub) in ov:
                bo, bu = bounds["val"][_lam_key(ob)], bounds["val"][_lam_key(ub)]
                amb = bu["hi"]["HR@100"] * (1 + rtol) >= bo["lo"]["HR@100"]
            if amb and dataset is not None:
                print("note: best_lambda oracle %r ours %r: validation HR@100 tied within "
                      "near-tie ranges; test compared at ours' lambda" % (ob, ub), file=out)
                test_oracle, test_bounds = test_at(dataset, model, float(ub),
                                                   TIE_RTOL_DEFAULT if bounds else None,
                                                   fit_users=fit_users)
            else:
                fails.append("best_lambda: oracle %r ours %r" % (ob, ub))
    if "trace_K" in oracle:
        ut = ours.get("infae", {}).get("trace_K", ours.get("trace_K"))
        r = rel_diff(oracle["trace_K"], ut)
        print("trace(K) oracle %.12g ours %r (rel %.3g)" % (oracle["trace_K"], ut, r), file=out)
        if r > rtol:
            fails.append("trace_K: oracle %r ours %r" % (oracle["trace_K"], ut))
    if "test" not in ours:
        fails.append("test: missing in ours")
    else:
        check("test", test_oracle, ours["test"], test_bounds)
    for k in METRIC_KEYS:
        extra = ""
        if tie_ok[k]:
            extra = "  (%d value(s) outside rtol but inside the near-tie range)" % tie_ok[k]
        print("max rel diff %-9s %.3e%s" % (k, maxrel[k], extra), file=out)
    return fails



def _parse_lambdas(s):
    return [float(x) for x in s.split(",") if x.strip()]


def main(argv=None):
    global TIE_RTOL_DEFAULT
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    ev = sub.add_parser("eval")
    ev.add_argument("--data", required=True)
    ev.add_argument("--model", required=True, choices=("pop", "ease", "infae"))
    ev.add_argument("--fit-users-from", metavar="MODEL.h5", default=None,
                    help="infae: fit on the users listed in /fit/user_index of this model file "
                         "(the sample drawn by train --train-users)")
    ev.add_argument("--nystrom", action="store_true",
                    help="infae: the users of --fit-users-from are Nystrom centers "
                         "(train --centers): every user is fit through them")
    ev.add_argument("--sample-from", metavar="SUMMARY.h5", default=None,
                    help="fit on the dense rows /S of this summary (infae_mpi distill)")
    ev.add_argument("--lambdas", type=_parse_lambdas, default=None)
    ev.add_argument("--depth", type=int, default=1, help="∞-AE: the NTK's hidden layers")
    g = ev.add_mutually_exclusive_group(required=True)
    g.add_argument("--compare", metavar="OURS.json")
    g.add_argument("--print", action="store_true")
    ev.add_argument("--rtol", type=float, default=1e-6)
    ev.add_argument("--atol", type=float, default=0.0)
    ev.add_argument("--tie-rtol", type=float, default=TIE_RTOL_DEFAULT,
                    help="scores within this fraction of the row's largest |score| count "
                         "as tied when comparing (0: strict, exact stable-sort order only)"
                         " [default %(default)g]")
    a = ap.parse_args(argv)

    global DEPTH
    DEPTH = a.depth
    ds = load_dataset(a.data)
    tie = a.tie_rtol if a.tie_rtol > 0 else None
    if tie is not None:
        TIE_RTOL_DEFAULT = tie
    fit_users = None
    if a.fit_users_from:
        import h5py
        with h5py.File(a.fit_users_from, "r") as f:
            fit_users = np.asarray(f["fit/user_index"][...], dtype=np.int64)
        if a.nystrom:
            fit_users = Centers(fit_users)
    if a.sample_from:
        import h5py
        with h5py.File(a.sample_from, "r") as f:
            fit_users = Sample(f["S"][...])
    res = evaluate(ds, a.model, a.lambdas, tie_rtol=tie if a.compare else None,
                   fit_users=fit_users)
    if a.print:
        json.dump(res, sys.stdout, indent=1)
        print()
        return 0
    with open(a.compare) as f:
        ours = json.load(f)
    fails = compare(res, ours, a.rtol, a.atol, dataset=ds, fit_users=fit_users)
    if fails:
        print("MISMATCH (%d):" % len(fails))
        for s in fails:
            print("  " + s)
        return 1
    print("OK: %s matches the oracle (rtol %g%s)"
          % (a.compare, a.rtol, ", tie-rtol %g" % tie if tie else ", strict ties"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
