#!/usr/bin/python3
"""Compares two ∞-AE runs of `infae_mpi train` (a GPU run against a CPU run).

  gpu_compare.py fit A.h5 A.json B.h5 B.json [--rtol 1e-9] [--data D.h5]
      fp64: α (the model files) within rtol of B's largest |α|, the same best λ,
      every test metric and every validation metric of every λ within rtol
      relative (a λ that failed to factor must have failed in both). With
      --data (the prepared dataset both were trained on), a metric outside
      rtol still passes when both values lie in the range the numpy oracle
      (oracle.py) gives it over reorderings of near-tied scores at that λ:
      two summation orders break such ties differently (pooled AUC of users
      with the same train items, say), which moves a metric by whole pairs.
  gpu_compare.py pairs DATA.h5
      prints `user item` for every train interaction of a prepared dataset
      (the input of `infae_mpi recommend` for every user).
  gpu_compare.py top A.tsv B.tsv [--min 0.99]
      two `recommend` outputs: the fraction of users with the same top-k set
      must be at least --min.
"""
import argparse
import json
import sys
from collections import defaultdict

import h5py
import numpy as np


def close(a, b, rtol):
    return abs(a - b) <= rtol * max(1.0, abs(b))


def fit_users_of(model_h5):
    """The oracle's fit_users for a model file: None (every train user), the
    sampled users' indices, or the Nyström centers."""
    import oracle  # beside this script, on sys.path as its folder

    with h5py.File(model_h5, "r") as f:
        users = np.asarray(f["fit/user_index"][...], dtype=np.int64)
        kind = f.attrs["fit"]
        kind = kind.decode() if isinstance(kind, bytes) else str(kind)
    if kind == "nystrom":
        return oracle.Centers(users)
    return users


def remember_kernels(oracle):
    """Makes oracle.ntk_rows keep its results for the rows it has seen, so that
    the fits of several λ make each NTK once (it is most of their time)."""
    import hashlib

    import scipy.sparse as sp

    seen, ntk_rows = {}, oracle.ntk_rows

    def key(m):
        m = sp.csr_matrix(m, dtype=np.float64)
        h = hashlib.sha256()
        for part in (np.asarray(m.shape), m.indptr, m.indices, m.data):
            h.update(np.ascontiguousarray(part).tobytes())
        return h.hexdigest()

    def remembered(a, b):
        k = (key(a), key(b))
        if k not in seen:
            seen[k] = ntk_rows(a, b)
        return seen[k].copy()  # a fit may add to it in place

    oracle.ntk_rows = remembered


def near_tie_ranges(data, model_h5, wanted):
    """{(λ, "val" or "test"): (lo, hi)} for each wanted pair: the oracle's
    metric dicts over reorderings of near-tied scores of its fit at λ."""
    import oracle

    remember_kernels(oracle)
    ds = oracle.load_dataset(data)
    train, val, _, _, counts, nnz = oracle._split_inputs(ds)
    users = fit_users_of(model_h5)
    if isinstance(users, np.ndarray) and np.array_equal(users, np.arange(train.shape[0])):
        users = None
    tie = oracle.TIE_RTOL_DEFAULT
    out = {}
    for lam in sorted({w[0] for w in wanted}):
        f = oracle.infae_fit(train, lam, users)
        if (lam, "val") in wanted:
            _, b = oracle._eval_one(f.scores(train), train, val, ds, counts, nnz, tie)
            out[(lam, "val")] = (b["lo"], b["hi"])
        if (lam, "test") in wanted:
            _, b = oracle.test_at(ds, "infae", lam, tie, B=f, fit_users=users)
            out[(lam, "test")] = (b["lo"], b["hi"])
    return out


def fit(a):
    ha, hb = h5py.File(a.a_h5, "r")["alpha"][...], h5py.File(a.b_h5, "r")["alpha"][...]
    err = np.abs(ha - hb).max() / np.abs(hb).max()
    print("%s vs %s: α max rel. error %.2e" % (a.a_h5, a.b_h5, err))
    assert err <= a.rtol, err
    ra, rb = json.load(open(a.a_json)), json.load(open(a.b_json))
    assert ra["best_lambda"] == rb["best_lambda"], (ra["best_lambda"], rb["best_lambda"])
    # (λ, "val" or "test", metric, A's value, B's value) outside rtol
    misses = []
    for k, v in rb["test"].items():
        if not close(ra["test"][k], v, a.rtol):
            misses.append((float(rb["best_lambda"]), "test", k, ra["test"][k], v))
    for lam, m in rb["val"].items():
        if not isinstance(m, dict):  # a λ that failed to factor
            assert ra["val"][lam] == m, (lam, ra["val"][lam], m)
            continue
        for k, v in m.items():
            if not close(ra["val"][lam][k], v, a.rtol):
                misses.append((float(lam), "val", k, ra["val"][lam][k], v))
    if not misses:
        return
    assert a.data, "outside rtol %g (no --data for the near-tie ranges): %r" % (a.rtol, misses)
    ranges = near_tie_ranges(a.data, a.b_h5, {(m[0], m[1]) for m in misses})
    outside = 0
    for lam, split, k, va, vb in misses:
        lo, hi = ranges[(lam, split)]
        lo, hi = lo[k] - a.rtol * abs(lo[k]), hi[k] + a.rtol * abs(hi[k])
        ok = lo <= va <= hi and lo <= vb <= hi
        outside += not ok
        print("λ %g %s %s: %.12g vs %.12g (rel %.1e), near-tie range [%.12g, %.12g]: %s"
              % (lam, split, k, va, vb, abs(va - vb) / max(1.0, abs(vb)), lo, hi,
                 "inside" if ok else "OUTSIDE"))
    assert outside == 0, "%d metric(s) outside rtol and the near-tie range" % outside


def pairs(a):
    f = h5py.File(a.data, "r")
    users = [s.decode() for s in f["users/ids"][...]]
    items = [s.decode() for s in f["items/ids"][...]]
    ptr, ind = f["train/indptr"][...], f["train/indices"][...]
    out = sys.stdout
    for u, name in enumerate(users):
        for i in ind[ptr[u]:ptr[u + 1]]:
            out.write("%s %s\n" % (name, items[i]))


def top(a):
    def read(path):
        t = defaultdict(set)
        for line in open(path):
            if line.startswith("#"):
                continue
            user, item = line.split()[:2]
            t[user].add(item)
        return t

    ta, tb = read(a.a_tsv), read(a.b_tsv)
    assert ta.keys() == tb.keys(), "the two outputs cover different users"
    same = sum(ta[u] == tb[u] for u in ta) / len(ta)
    print("%s vs %s: same top-k for %.2f %% of %d users" % (a.a_tsv, a.b_tsv, 100 * same, len(ta)))
    assert same >= a.min, same


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("fit")
    for n in ("a_h5", "a_json", "b_h5", "b_json"):
        p.add_argument(n)
    p.add_argument("--rtol", type=float, default=1e-9)
    p.add_argument("--data", help="the prepared dataset, for the oracle's near-tie ranges")
    p.set_defaults(run=fit)
    p = sub.add_parser("pairs")
    p.add_argument("data")
    p.set_defaults(run=pairs)
    p = sub.add_parser("top")
    p.add_argument("a_tsv")
    p.add_argument("b_tsv")
    p.add_argument("--min", type=float, default=0.99)
    p.set_defaults(run=top)
    a = ap.parse_args()
    a.run(a)


if __name__ == "__main__":
    main()
