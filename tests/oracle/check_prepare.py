#!/usr/bin/python3
"""Independent check of an `infae_mpi prepare` output file against its raw input.

Parses the raw input itself (no code shared with the C parser), applies docs/protocol.md §1
(implicit feedback, duplicates once, users with < 3 interactions dropped, items not
pruned) and checks the HDF5 dataset file (README "Dataset file layout").

    check_prepare.py --format movielens|tsv|csv|netflix --input FILE [--input FILE ...]
                     [--sep C] [--user-col N] [--item-col N] [--header]
                     --data D.h5 [--seed-free] [--id-order any|lex|numeric-if-int]
    check_prepare.py --format adjacency --input users.dat [--no-count] [--user-first] --data D.h5
    check_prepare.py --format split-tsv --input split.tsv [--negatives negatives.tsv] --data D.h5

Checks (generated split; the split itself is seeded, so only its invariants are checked):
  - same users (those with >= 3 distinct items) and items, by original id string;
  - CSR structure: indptr monotone, indices in range and strictly ascending per row;
  - per user: train ∪ val ∪ test = his deduplicated items, splits pairwise disjoint,
    sizes a-1, b-a, n-b+1 with a = floor(0.8 n), b = floor(0.9 n);
  - negatives: min(50, items not in train ∪ test) distinct items, none in train or test;
  - /items/train_count = column sums of train;
  - attributes users, items, *_nnz, users_dropped, duplicates_dropped,
    pairs_in_two_splits (0), format, version, source_format, source_sha256 (single
    input file: its SHA-256; several: of the bytes concatenated in sorted name order),
    seed (an integer; not checked with --seed-free).
split-tsv: the three splits are exactly the file's (a pair listed in two splits is in
both; pairs_in_two_splits = their number), the negatives are the file's, per user in
file order (without --negatives: drawn, as for a generated split).
adjacency: line k (0-based, over the files in order, blank lines and --header's line
counted as for prepare) lists user k's items after a count equal to their number;
--no-count: no count; --user-first: the user id comes first instead.

Columns are 1-based.  tsv default separator: any run of blanks (space/tab); csv: ','.
--sep accepts a string or one of: tab, space (= blank runs, the tsv default), comma,
semicolon, pipe.
Exit 0 when everything matches, 1 with one line per mismatch (at most --max-errors).
"""

import argparse
import hashlib
import os
import re
import sys

import numpy as np

from oracle import _attr, _decode_strings as _strings  # same HDF5 decoding as the oracle

MIN_USER_ITEMS = 3
N_NEGATIVES = 50

_SEP_NAMES = {"tab": "\t", "space": None, "blank": None, "comma": ",", "semicolon": ";", "pipe": "|",
              "\\t": "\t"}


class Errors:
    def __init__(self, max_errors):
        self.msgs = []
        self.max = max_errors
        self.notes = []

    def add(self, msg):
        self.msgs.append(msg)

    def note(self, msg):
        self.notes.append(msg)

    def __bool__(self):
        return bool(self.msgs)

    def report(self, out=sys.stdout):
        for n in self.notes:
            print("note: " + n, file=out)
        if not self.msgs:
            return
        print("MISMATCH (%d):" % len(self.msgs), file=out)
        for m in self.msgs[:self.max]:
            print("  " + m, file=out)
        if len(self.msgs) > self.max:
            print("  ... %d more" % (len(self.msgs) - self.max), file=out)


# ----------------------------------------------------------------------------------
# raw input
# ----------------------------------------------------------------------------------

def expand_inputs(inputs, fmt):
    files = []
    for p in inputs:
        if os.path.isdir(p):
            if fmt != "netflix":
                raise SystemExit("%s is a directory; only netflix reads directories" % p)
            names = sorted(n for n in os.listdir(p)
                           if re.fullmatch(r"(mv_.*|combined_data_.*)\.txt", n))
            files += [os.path.join(p, n) for n in names]
        else:
            files.append(p)
    return files


def _lines(path):
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.decode("utf-8").rstrip("\r\n")
            yield lineno, line


def _fail_line(path, lineno, line, what):
    raise SystemExit("input %s:%d: %s: %r" % (path, lineno, what, line))


def parse_adjacency(files, header=False, no_count=False, user_first=False):
    """Yields (user_id, item_id) for adjacency lists: one user per line."""
    base = 0
    for path in files:
        lines = list(_lines(path))
        if header:
            lines = lines[1:]
        for k, (lineno, line) in enumerate(lines):
            f = line.split()
            if not f:
                continue
            user = f.pop(0) if user_first else str(base + k)
            if not no_count:
                if not f or not f[0].isdigit():
                    _fail_line(path, lineno, line, "expected a count")
                if int(f[0]) != len(f) - 1:
                    _fail_line(path, lineno, line, "the count differs from the items")
                f = f[1:]
            for i in f:
                yield user, i
        base += len(lines)


def parse_pairs(files, fmt, sep=None, user_col=1, item_col=2, header=False):
    """Yields (user_id, item_id) strings for every interaction line, in file order.

    sep None splits on runs of blanks; movielens always uses '::' and columns 1, 2."""
    if fmt == "movielens":
        sep, user_col, item_col = "::", 1, 2
    for path in files:
        if fmt == "netflix":
            movie = None
            for lineno, line in _lines(path):
                s = line.strip()
                if not s:
                    continue
                if s.endswith(":"):
                    movie = s[:-1].strip()
                    continue
                if movie is None:
                    _fail_line(path, lineno, line, "rating line before any 'movieid:' line")
                f = s.split(",")
                if len(f) < 2:
                    _fail_line(path, lineno, line, "expected user,rating,date")
                yield f[0].strip(), movie
            continue
        first = True
        need = max(user_col, item_col)
        for lineno, line in _lines(path):
            if first and header:
                first = False
                continue
            first = False
            if not line.strip():
                continue
            f = line.split() if sep is None else line.split(sep)
            if len(f) < need:
                _fail_line(path, lineno, line, "fewer than %d fields" % need)
            yield f[user_col - 1].strip(), f[item_col - 1].strip()


def sha256_files(files):
    h = hashlib.sha256()
    for p in sorted(files):
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


# ----------------------------------------------------------------------------------
# dataset file
# ----------------------------------------------------------------------------------

def read_h5(path, err):
    import h5py
    d = {}
    with h5py.File(path, "r") as f:
        for name in ("train/indptr", "train/indices", "val/indptr", "val/indices",
                     "test/indptr", "test/indices", "negatives/indptr", "negatives/indices",
                     "users/ids", "items/ids", "items/train_count"):
            if name not in f:
                err.add("dataset %s missing" % name)
        if err:
            return None
        for split in ("train", "val", "test", "negatives"):
            ip, ix = f[split + "/indptr"], f[split + "/indices"]
            if ip.dtype != np.int64:
                err.add("/%s/indptr dtype %s, expected int64" % (split, ip.dtype))
            if ix.dtype != np.int32:
                err.add("/%s/indices dtype %s, expected int32" % (split, ix.dtype))
            d[split] = (np.asarray(ip[()], dtype=np.int64), np.asarray(ix[()], dtype=np.int64))
        tc = f["items/train_count"]
        if tc.dtype != np.int64:
            err.add("/items/train_count dtype %s, expected int64" % tc.dtype)
        d["train_count"] = np.asarray(tc[()], dtype=np.int64)
        d["user_ids"] = _strings(f["users/ids"])
        d["item_ids"] = _strings(f["items/ids"])
        d["attrs"] = {k: _attr(v) for k, v in f.attrs.items()}
    return d


def check_csr(name, indptr, indices, n_rows, n_cols, err, sorted_rows=True):
    ok = True
    if indptr.shape != (n_rows + 1,):
        err.add("/%s/indptr has %d entries, expected users+1 = %d"
                % (name, indptr.shape[0], n_rows + 1))
        return False
    if indptr[0] != 0:
        err.add("/%s/indptr[0] = %d, expected 0" % (name, indptr[0]))
        ok = False
    if np.any(np.diff(indptr) < 0):
        u = int(np.argmax(np.diff(indptr) < 0))
        err.add("/%s/indptr decreases at row %d" % (name, u))
        return False
    if indptr[-1] != indices.shape[0]:
        err.add("/%s/indptr[-1] = %d but %d indices" % (name, indptr[-1], indices.shape[0]))
        return False
    if indices.size and (indices.min() < 0 or indices.max() >= n_cols):
        bad = int(np.argmax((indices < 0) | (indices >= n_cols)))
        err.add("/%s/indices[%d] = %d out of range [0,%d)" % (name, bad, indices[bad], n_cols))
        return False
    if sorted_rows:
        for u in range(n_rows):
            r = indices[indptr[u]:indptr[u + 1]]
            if r.size > 1 and np.any(np.diff(r) <= 0):
                err.add("/%s row %d: indices not strictly ascending: %s"
                        % (name, u, r[:20].tolist()))
                ok = False
                break
    return ok


def rows_of(csr, u):
    ip, ix = csr
    return ix[ip[u]:ip[u + 1]]


def _numeric(ids):
    try:
        return [int(s) for s in ids]
    except ValueError:
        return None


def check_id_order(what, ids, order, err):
    if order == "any":
        return
    if order == "lex":
        want = sorted(ids)
    elif order == "numeric-if-int":
        nums = _numeric(ids)
        want = sorted(ids) if nums is None else [s for _, s in sorted(zip(nums, ids))]
    else:
        raise SystemExit("unknown --id-order %s" % order)
    if list(ids) != want:
        k = next(i for i, (a, b) in enumerate(zip(ids, want)) if a != b)
        err.add("%s ids not in %s order: index %d holds %r, expected %r"
                % (what, order, k, ids[k], want[k]))


def check_common(h, err, n_users, n_items):
    """Checks shared by both modes; returns True if the structure is usable."""
    ok = True
    for name in ("train", "val", "test"):
        ok &= check_csr(name, h[name][0], h[name][1], n_users, n_items, err)
    ok &= check_csr("negatives", h["negatives"][0], h["negatives"][1], n_users, n_items, err,
                    sorted_rows=False)
    if len(set(h["user_ids"])) != n_users:
        err.add("/users/ids has duplicates")
    if len(set(h["item_ids"])) != n_items:
        err.add("/items/ids has duplicates")
    if h["train_count"].shape != (n_items,):
        err.add("/items/train_count has shape %s, expected (%d,)"
                % (h["train_count"].shape, n_items))
    elif ok:
        cs = np.bincount(h["train"][1], minlength=n_items)
        if not np.array_equal(cs, h["train_count"]):
            j = int(np.argmax(cs != h["train_count"]))
            err.add("/items/train_count[%d] (item %r) = %d, column sum of train = %d"
                    % (j, h["item_ids"][j], h["train_count"][j], cs[j]))
    a = h["attrs"]
    want = {"users": n_users, "items": n_items,
            "train_nnz": int(h["train"][1].shape[0]), "val_nnz": int(h["val"][1].shape[0]),
            "test_nnz": int(h["test"][1].shape[0]), "format": "infae-dataset", "version": 1}
    for k, v in want.items():
        if k not in a:
            err.add("attribute %s missing" % k)
        elif a[k] != v:
            err.add("attribute %s = %r, expected %r" % (k, a[k], v))
    return ok


def check_attr(a, k, v, err):
    if k not in a:
        err.add("attribute %s missing" % k)
    elif a[k] != v:
        err.add("attribute %s = %r, expected %r" % (k, a[k], v))


# ----------------------------------------------------------------------------------
# generated split
# ----------------------------------------------------------------------------------

def check_generated(args, err):
    files = expand_inputs(args.input, args.format)
    if args.sep is None:
        sep = "," if args.format == "csv" else None  # None: runs of blanks
    else:
        sep = _SEP_NAMES.get(args.sep, args.sep)
    user_items = {}
    all_items = set()
    user_lines = {}
    if args.format == "adjacency":
        pairs = parse_adjacency(files, args.header, args.no_count, args.user_first)
    else:
        pairs = parse_pairs(files, args.format, sep, args.user_col, args.item_col, args.header)
    for u, i in pairs:
        user_lines[u] = user_lines.get(u, 0) + 1
        user_items.setdefault(u, set()).add(i)
        all_items.add(i)
    n_dups = sum(user_lines.values()) - sum(len(s) for s in user_items.values())
    kept = {u: s for u, s in user_items.items() if len(s) >= MIN_USER_ITEMS}
    dropped = len(user_items) - len(kept)
    n_dups_kept = sum(user_lines[u] - len(s) for u, s in kept.items())
    kept_items = set().union(*kept.values()) if kept else set()

    h = read_h5(args.data, err)
    if h is None:
        return
    uids, iids = h["user_ids"], h["item_ids"]
    n_users, n_items = len(uids), len(iids)

    if set(uids) != set(kept):
        miss = sorted(set(kept) - set(uids))[:5]
        extra = sorted(set(uids) - set(kept))[:5]
        err.add("users differ: %d in file, %d expected (>= %d items); missing e.g. %s, "
                "unexpected e.g. %s" % (n_users, len(kept), MIN_USER_ITEMS, miss, extra))
    if set(iids) == all_items:
        err.note("items = every item of the input (%d)" % len(all_items))
    elif set(iids) == kept_items:
        err.note("items = items of kept users (%d of %d in the input)"
                 % (len(kept_items), len(all_items)))
    else:
        miss = sorted(all_items - set(iids))[:5]
        extra = sorted(set(iids) - all_items)[:5]
        err.add("items differ: %d in file, %d in the input; missing e.g. %s, unexpected e.g. %s"
                % (n_items, len(all_items), miss, extra))
    check_id_order("user", uids, args.id_order, err)
    check_id_order("item", iids, args.id_order, err)
    if not check_common(h, err, n_users, n_items):
        return

    for u in range(n_users):
        uid = uids[u]
        tr, va, te = (rows_of(h[s], u) for s in ("train", "val", "test"))
        mine = kept.get(uid)
        if mine is None:
            continue
        n = len(mine)
        a, b = (8 * n) // 10, (9 * n) // 10
        sizes = (tr.size, va.size, te.size)
        if sizes != (a - 1, b - a, n - b + 1):
            err.add("user %r (row %d, n=%d): split sizes train/val/test %s, expected %s"
                    % (uid, u, n, sizes, (a - 1, b - a, n - b + 1)))
        st, sv, se = set(tr.tolist()), set(va.tolist()), set(te.tolist())
        for x, y, nx, ny in ((st, sv, "train", "val"), (st, se, "train", "test"),
                             (sv, se, "val", "test")):
            if x & y:
                err.add("user %r (row %d): %s and %s share items %s"
                        % (uid, u, nx, ny, sorted(iids[j] for j in x & y)[:5]))
        got = {iids[j] for j in st | sv | se}
        if got != mine:
            err.add("user %r (row %d): train∪val∪test differs from his input items: "
                    "missing %s, unexpected %s" % (uid, u, sorted(mine - got)[:5],
                                                  sorted(got - mine)[:5]))
        ng = rows_of(h["negatives"], u)
        avail = n_items - len(st | se)
        want = min(N_NEGATIVES, avail)
        if ng.size != want:
            err.add("user %r (row %d): %d negatives, expected min(%d, %d available) = %d"
                    % (uid, u, ng.size, N_NEGATIVES, avail, want))
        if len(set(ng.tolist())) != ng.size:
            err.add("user %r (row %d): negatives not distinct: %s" % (uid, u, ng.tolist()))
        bad = set(ng.tolist()) & (st | se)
        if bad:
            err.add("user %r (row %d): negatives in train or test: %s"
                    % (uid, u, sorted(iids[j] for j in bad)[:5]))
        if len(err.msgs) > 10 * err.max:
            err.add("too many errors; stopped checking users at row %d" % u)
            break

    a = h["attrs"]
    check_attr(a, "users_dropped", dropped, err)
    check_attr(a, "pairs_in_two_splits", 0, err)
    check_attr(a, "source_format", args.format, err)
    if "duplicates_dropped" not in a:
        err.add("attribute duplicates_dropped missing")
    elif a["duplicates_dropped"] != n_dups:
        if a["duplicates_dropped"] == n_dups_kept:
            err.note("duplicates_dropped counts only kept users' duplicates (%d; %d in all)"
                     % (n_dups_kept, n_dups))
        else:
            err.add("attribute duplicates_dropped = %r, expected %d (repeated (user,item) "
                    "lines in the input; %d among kept users)"
                    % (a["duplicates_dropped"], n_dups, n_dups_kept))
    check_attr(a, "source_sha256", sha256_files(files), err)
    if not args.seed_free:
        s = a.get("seed")
        if not isinstance(s, int):
            err.add("attribute seed = %r, expected an integer" % (s,))


# ----------------------------------------------------------------------------------
# imported split
# ----------------------------------------------------------------------------------

def _read_table(path, ncols, what):
    rows = []
    for lineno, line in _lines(path):
        if not line.strip():
            continue
        f = line.split()
        if lineno == 1 and len(f) >= ncols and not re.fullmatch(r"-?\d+", f[ncols - 1]):
            continue  # header
        if len(f) < ncols:
            _fail_line(path, lineno, line, "%s: expected %d fields" % (what, ncols))
        rows.append(tuple(f[:ncols]))
    return rows


def check_split(args, err):
    if len(args.input) != 1:
        raise SystemExit("split-tsv takes exactly one --input")
    rows = _read_table(args.input[0], 3, "user item split")
    neg_rows = _read_table(args.negatives, 2, "user item") if args.negatives else []
    splits = {"0": {}, "1": {}, "2": {}}
    users, items = set(), set()
    pair_splits = {}
    for u, i, s in rows:
        if s not in splits:
            raise SystemExit("split-tsv: split value %r is not 0, 1 or 2" % s)
        splits[s].setdefault(u, set()).add(i)
        users.add(u)
        items.add(i)
        pair_splits.setdefault((u, i), set()).add(s)
    n_two = sum(1 for v in pair_splits.values() if len(v) > 1)
    negs = {}
    for u, i in neg_rows:
        negs.setdefault(u, []).append(i)
    neg_items = {i for _, i in neg_rows}

    h = read_h5(args.data, err)
    if h is None:
        return
    uids, iids = h["user_ids"], h["item_ids"]
    n_users, n_items = len(uids), len(iids)
    if set(uids) != users:
        err.add("users differ: %d in file, %d in %s; missing e.g. %s, unexpected e.g. %s"
                % (n_users, len(users), args.input[0], sorted(users - set(uids))[:5],
                   sorted(set(uids) - users)[:5]))
    if set(iids) == items:
        err.note("items = items of the split file (%d)" % len(items))
    elif set(iids) == items | neg_items:
        err.note("items = items of the split and negatives files (%d)" % len(iids))
    else:
        err.add("items differ: %d in file, %d in the split file (%d with negatives); "
                "missing e.g. %s, unexpected e.g. %s"
                % (n_items, len(items), len(items | neg_items),
                   sorted(items - set(iids))[:5], sorted(set(iids) - items - neg_items)[:5]))
    if set(negs) - users:
        err.add("negatives file has users not in the split: %s" % sorted(set(negs) - users)[:5])
    check_id_order("user", uids, args.id_order, err)
    check_id_order("item", iids, args.id_order, err)
    if not check_common(h, err, n_users, n_items):
        return
    names = {"0": "train", "1": "val", "2": "test"}
    for u in range(n_users):
        uid = uids[u]
        for s, name in names.items():
            got = {iids[j] for j in rows_of(h[name], u).tolist()}
            want = splits[s].get(uid, set())
            if got != want:
                err.add("user %r (row %d) %s: missing %s, unexpected %s"
                        % (uid, u, name, sorted(want - got)[:5], sorted(got - want)[:5]))
        if not args.negatives:  # drawn: min(50, free items), distinct, not in train or test
            ng = rows_of(h["negatives"], u).tolist()
            held = set(rows_of(h["train"], u).tolist()) | set(rows_of(h["test"], u).tolist())
            want_n = min(N_NEGATIVES, n_items - len(held))
            if len(ng) != want_n or len(set(ng)) != len(ng) or set(ng) & held:
                err.add("user %r (row %d): %d drawn negatives (%d distinct, %d in train or "
                        "test), expected %d" % (uid, u, len(ng), len(set(ng)),
                                                len(set(ng) & held), want_n))
            continue
        got = [iids[j] for j in rows_of(h["negatives"], u).tolist()]
        want = negs.get(uid, [])
        if got != want:
            if sorted(got) == sorted(want):
                err.add("user %r (row %d): negatives in a different order than the file"
                        % (uid, u))
            else:
                err.add("user %r (row %d): negatives %s..., file %s..."
                        % (uid, u, got[:5], want[:5]))
        if len(err.msgs) > 10 * err.max:
            err.add("too many errors; stopped checking users at row %d" % u)
            break
    a = h["attrs"]
    check_attr(a, "pairs_in_two_splits", n_two, err)
    check_attr(a, "source_format", "split-tsv", err)
    if n_two:
        err.note("%d (user,item) pairs are listed in two splits" % n_two)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--format", required=True,
                    choices=("movielens", "tsv", "csv", "netflix", "split-tsv", "adjacency"))
    ap.add_argument("--input", required=True, action="append")
    ap.add_argument("--negatives")
    ap.add_argument("--sep")
    ap.add_argument("--user-col", type=int, default=1)
    ap.add_argument("--item-col", type=int, default=2)
    ap.add_argument("--header", action="store_true")
    ap.add_argument("--no-count", action="store_true", help="adjacency: no leading count")
    ap.add_argument("--user-first", action="store_true",
                    help="adjacency: the user id comes first (else the line number)")
    ap.add_argument("--data", required=True)
    ap.add_argument("--seed-free", action="store_true",
                    help="do not require an integer `seed` attribute")
    ap.add_argument("--id-order", default="any", choices=("any", "lex", "numeric-if-int"),
                    help="also require users/items in this order of their original ids")
    ap.add_argument("--max-errors", type=int, default=20)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    if args.user_col < 1 or args.item_col < 1:
        raise SystemExit("--user-col/--item-col are 1-based")
    err = Errors(args.max_errors)
    if args.format == "split-tsv":
        check_split(args, err)
    else:
        if args.negatives:
            raise SystemExit("--negatives is only for --format split-tsv")
        check_generated(args, err)
    err.report()
    if err:
        return 1
    if not args.quiet:
        print("OK: %s matches %s" % (args.data, ", ".join(args.input)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
