#!/usr/bin/env python3
"""Checks a Recoder model file written by `infae_mpi train --model recoder
--out`, independently of infae (numpy): the forward pass z = W·a + b with the
file's activation on the hidden layers scores every user's context (train for
validation, train + validation for test); the metrics of those scores
(oracle.metrics) must equal the metrics JSON at the best epoch and on test.
"""
import argparse
import json
import sys

import h5py
import numpy as np

sys.path.insert(0, __import__("os").path.dirname(__file__))
import oracle  # noqa: E402

ACT = {"tanh": np.tanh, "relu": lambda x: np.maximum(x, 0), "identity": lambda x: x,
       "sigmoid": lambda x: 1 / (1 + np.exp(-x))}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--metrics", required=True)
    ap.add_argument("--rtol", type=float, default=1e-9)
    a = ap.parse_args()
    ds = oracle.load_dataset(a.data)
    train, val, test, trval, counts, nnz = oracle._split_inputs(ds)
    ours = json.load(open(a.metrics))
    with h5py.File(a.model, "r") as f:
        assert oracle._attr(f.attrs["format"]) == "infae-recoder"
        L = int(f.attrs["layers"])
        act = ACT[oracle._attr(f.attrs["activation"])]
        Ws = [f["W%d" % l][...] for l in range(1, L + 1)]
        bs = [f["b%d" % l][...] for l in range(1, L + 1)]
        best = int(f.attrs["best_epoch"])

    def scores(ctx):
        a = ctx.toarray().astype(np.float64)
        for l in range(L):
            z = a @ Ws[l].T + bs[l]
            a = act(z) if l < L - 1 else z
        return a

    fails = []
    for name, ctx, held, want in (("val", train, val, ours["val"]["%d" % best]),
                                  ("test", trval, test, ours["test"])):
        got = oracle.metrics(scores(ctx), ctx, held, ds["negatives"], counts, nnz)
        for k, v in got.items():
            r = abs(v - want[k]) / max(abs(v), 1e-300)
            print("%-5s %-9s oracle %.12f ours %.12f rel %.1e" % (name, k, v, want[k], r))
            if r > a.rtol:
                fails.append("%s %s" % (name, k))
    if ours["best_epoch"] != best:
        fails.append("best epoch %s vs %d" % (ours["best_epoch"], best))
    if fails:
        print("FAIL:", ", ".join(fails))
        sys.exit(1)
    print("recoder_check: ok")


if __name__ == "__main__":
    main()
