#!/usr/bin/python3
"""Compares two folders made by make_outputs.sh: every HDF5 dataset and
attribute bit for bit, every JSON value exactly, except what differs from run
to run by nature (timings, memory, command lines, paths, device names).

usage: compare_outputs.py [--rtol R] BEFORE AFTER

With --rtol, floating-point values agree when they differ by at most R times
the largest magnitude of the array (or of the two numbers): for changes that
only reorder sums.
"""
import json
import os
import sys

import h5py
import numpy as np

# Attributes and JSON keys that are not results: provenance, and rates,
# times and memory (keys ending in _s, or naming seconds, GFLOP/s or RSS).
SKIP = {"command", "dataset", "metrics", "infae_version", "device", "path", "out", "infae"}


def skipped(key):
    return (key in SKIP or key.endswith("_s") or "seconds" in key or "gflops" in key
            or "rss" in key)
# Inside the "infae" object of train's JSON only these are results.
INFAE_KEYS = {"precision", "trace_K", "lambda_prime", "grid"}


RTOL = 0.0


def close(a, b):
    """Floats a and b (arrays of one shape) equal, or within RTOL."""
    if np.array_equal(a, b, equal_nan=True):
        return True
    if RTOL == 0 or a.size == 0 or np.isnan(a).any() or np.isnan(b).any():
        return False
    scale = max(np.abs(a).max(), np.abs(b).max())
    return bool(np.abs(a - b).max() <= RTOL * scale)


def same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind == "f":
        return close(a, b)
    return np.array_equal(a, b)


def compare_h5(pa, pb, diffs):
    with h5py.File(pa, "r") as fa, h5py.File(pb, "r") as fb:
        names = []
        fa.visit(names.append)
        other = []
        fb.visit(other.append)
        if sorted(names) != sorted(other):
            diffs.append("%s: objects differ: %s" % (pa, sorted(set(names) ^ set(other))))
        for obj in [""] + names:
            a, b = fa[obj] if obj else fa, fb[obj] if obj else fb
            for k in set(a.attrs) | set(b.attrs):
                if skipped(k):
                    continue
                if k not in a.attrs or k not in b.attrs or not same(a.attrs[k], b.attrs[k]):
                    diffs.append("%s:/%s attribute %s differs" % (pa, obj, k))
            if isinstance(a, h5py.Dataset) and obj in other and not same(a[()], fb[obj][()]):
                diffs.append("%s:/%s differs" % (pa, obj))
        if "metrics" in fa.attrs and "metrics" in fb.attrs:
            compare_json(json.loads(fa.attrs["metrics"]), json.loads(fb.attrs["metrics"]),
                         pa + ":metrics", diffs)


def compare_json(a, b, where, diffs):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in set(a) | set(b):
            if skipped(k) and k != "infae":
                continue
            if k not in a or k not in b:
                diffs.append("%s.%s missing on one side" % (where, k))
            elif k == "infae":
                for q in INFAE_KEYS:
                    compare_json(a[k].get(q), b[k].get(q), "%s.infae.%s" % (where, q), diffs)
            else:
                compare_json(a[k], b[k], "%s.%s" % (where, k), diffs)
    elif isinstance(a, float) and isinstance(b, float):
        if not close(np.asarray(a), np.asarray(b)):
            diffs.append("%s: %r != %r" % (where, a, b))
    elif a != b and not (a != a and b != b):
        diffs.append("%s: %r != %r" % (where, a, b))


def main():
    global RTOL
    args = sys.argv[1:]
    if len(args) == 4 and args[0] == "--rtol":
        RTOL = float(args[1])
        args = args[2:]
    if len(args) != 2:
        sys.exit(__doc__)
    before, after = args
    files = []
    for root, _, names in os.walk(before):
        for n in names:
            if n.endswith((".h5", ".json")):
                files.append(os.path.relpath(os.path.join(root, n), before))
    diffs = []
    for f in sorted(files):
        pa, pb = os.path.join(before, f), os.path.join(after, f)
        if not os.path.exists(pb):
            diffs.append("%s: missing after" % f)
        elif f.endswith(".h5"):
            compare_h5(pa, pb, diffs)
        else:
            compare_json(json.load(open(pa)), json.load(open(pb)), f, diffs)
    for d in diffs:
        print("DIFFERS", d)
    print("compare_outputs: %d files, %d differences" % (len(files), len(diffs)))
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
