#!/usr/bin/python3
"""Seeded mutation fuzz of `infae_mpi prepare`'s parsers.

Starts from real lines (the embedded MovieTweetings ratings, and the same
interactions written in every other input format), mutates them (bytes
flipped, inserted, deleted; fields dropped, doubled, emptied; huge, negative
and non-numeric ids; bytes that are not UTF-8; long lines; stray separators
and headers) and runs prepare on each file. Every run must end in a result or
in one clear error: exit 0 with the output written, or exit 1/2 with exactly
one `error:` line, no output and no temporary file; never a signal, a hang or
a sanitizer report. The reproducers of earlier failures run first.

usage: fuzz_prepare.py INFAE SRC WORKDIR [--seconds 60] [--seed 1]
"""
import argparse
import concurrent.futures
import glob
import os
import random
import subprocess
import sys
import threading
import time

# Earlier failures, kept as they were found.
REPRODUCERS = [
    # a 2-byte global buffer overflow in the error excerpt of a bad line
    ("movielens", b"a" * 122 + b"\x01\n"),
    ("movielens", b"a" * 123 + b"\xff\xfe\n"),
    ("tsv", b"\x01" * 40 + b"\n"),
]

FORMATS = ["movielens", "tsv", "csv", "netflix", "split-tsv", "adjacency"]


def real_rows(src, n):
    rows = []
    with open(os.path.join(src, "datasets/movietweetings/ratings.dat"), "rb") as f:
        for line in f:
            u, i, r, t = line.rstrip(b"\n").split(b"::")
            rows.append((u, i, r, t))
            if len(rows) == n:
                break
    return rows


def render(fmt, rows):
    """The rows written in one input format, as a list of lines (bytes)."""
    if fmt == "movielens":
        return [b"::".join(r) for r in rows]
    if fmt == "tsv":
        return [b"\t".join(r) for r in rows]
    if fmt == "csv":
        return [b",".join((r[1], r[0], r[2], r[3])) for r in rows]
    if fmt == "split-tsv":
        return [b"user\titem\tsplit"] + [
            b"\t".join((r[0], r[1], str(k % 3 if k % 5 else 0).encode())) for k, r in enumerate(rows)]
    if fmt == "adjacency":
        by_user = {}
        for r in rows:
            by_user.setdefault(r[0], []).append(r[1])
        return [str(len(v)).encode() + b" " + b" ".join(v) for v in by_user.values()]
    by_item = {}
    for r in rows:
        by_item.setdefault(r[1], []).append(b",".join((r[0], r[2], b"2005-09-06")))
    out = []
    for item, lines in by_item.items():
        out.append(item.lstrip(b"0") + b":")
        out.extend(lines)
    return out


NASTY = [b"", b" ", b"\t", b"::", b",", b":", b"-1", b"0", b"99999999999999999999999",
         b"9223372036854775807", b"18446744073709551616", b"1e5", b"nan", b"\xff\xfe", b"\xc3",
         b"\xe2\x82", b"\x00", b"\r", b"user", b"item", b"#", b"1:", b"a" * 300, b"\xf0\x9f\x98\x80"]


def mutate(rng, lines):
    lines = list(lines)
    for _ in range(rng.randint(1, 6)):
        if not lines:
            lines.append(rng.choice(NASTY))
            continue
        k = rng.randrange(len(lines))
        line = bytearray(lines[k])
        op = rng.randrange(10)
        if op == 0 and line:  # flip a byte
            line[rng.randrange(len(line))] = rng.randrange(256)
        elif op == 1:  # insert bytes
            pos = rng.randint(0, len(line))
            line[pos:pos] = rng.choice(NASTY)
        elif op == 2 and line:  # delete a span
            a = rng.randrange(len(line))
            del line[a:a + rng.randint(1, 8)]
        elif op == 3:  # replace a field
            seps = [b"::", b"\t", b",", b" "]
            sep = next((s for s in seps if s in line), b" ")
            fields = bytes(line).split(sep)
            fields[rng.randrange(len(fields))] = rng.choice(NASTY)
            line = bytearray(sep.join(fields))
        elif op == 4:  # duplicate a line
            lines.insert(k, bytes(line))
        elif op == 5:  # drop a line
            del lines[k]
            continue
        elif op == 6:  # a very long line
            line += b"1" * rng.choice([100, 5000, 70000, 1 << 20])
        elif op == 7:  # join with the next line
            if k + 1 < len(lines):
                line += lines.pop(k + 1)
        elif op == 8:  # a header-like first line
            lines.insert(0, rng.choice([b"user item rating", b"userId,movieId,rating,timestamp",
                                        b"# comment", b""]))
        else:  # truncate
            line = line[:rng.randint(0, len(line))]
        if k < len(lines):
            lines[k] = bytes(line)
    return lines


def extra_args(fmt, rng):
    if fmt == "csv":
        return ["--user-col", "2", "--item-col", "1"]
    if fmt == "tsv" and rng.random() < 0.3:
        return ["--sep", "tab"]
    return []


STOP = threading.Event()


class Failure(Exception):
    pass


def run_case(infae, work, fmt, data, args, label):
    inp = os.path.join(work, "case.txt")
    out = os.path.join(work, "case.h5")
    for p in glob.glob(os.path.join(work, "case.h5*")):
        os.remove(p)
    with open(inp, "wb") as f:
        f.write(data)
    cmd = [infae, "prepare", "--format", fmt, "--input", inp, "--output", out, "--quiet"] + args
    try:
        # Each stream its own TMPDIR: Open MPI's isolated singletons all name
        # their session folder jf.0 under it, and two made at once collide.
        tmp = os.path.join(work, "tmp")
        os.makedirs(tmp, exist_ok=True)
        p = subprocess.run(cmd, capture_output=True, timeout=60, env=dict(os.environ, TMPDIR=tmp))
    except subprocess.TimeoutExpired:
        raise Failure("%s: timed out (hang)" % label)
    err = p.stderr.decode("utf-8", "replace")
    left = glob.glob(out + ".tmp-*")
    if p.returncode < 0 or p.returncode not in (0, 1, 2) or "Sanitizer" in err or "runtime error" in err:
        raise Failure("%s: exit %d\n%s" % (label, p.returncode, err[-3000:]))
    if left:
        raise Failure("%s: temporary file left: %s" % (label, left))
    if p.returncode == 0:
        if not os.path.exists(out):
            raise Failure("%s: exit 0 without an output" % label)
    else:
        n = err.count("error:")
        if n != 1 or os.path.exists(out):
            raise Failure("%s: exit %d with %d error lines, output %s\n%s" % (
                label, p.returncode, n, os.path.exists(out), err[-3000:]))
    return p.returncode


def worker(a, rows, formats, w, t0):
    """One stream of cases (seed a.seed, stream w) in its own folder."""
    work = os.path.join(a.work, "w%d" % w)
    os.makedirs(work, exist_ok=True)
    rng = random.Random(a.seed * 1000 + w)
    counts = [0, 0]
    case = 0
    if w == 0:
        for k, (fmt, data) in enumerate(REPRODUCERS):
            counts[run_case(a.infae, work, fmt, data, [], "reproducer %d" % k) != 0] += 1
    while time.time() - t0 < a.seconds and not STOP.is_set():
        fmt = formats[case % len(formats)]
        start = rng.randrange(len(rows))
        base = render(fmt, rows[start:start + rng.randint(1, 60)] or rows[:5])
        data = b"\n".join(mutate(rng, base)) + (b"\n" if rng.random() < 0.9 else b"")
        label = "case %d of stream %d (%s, seed %d)" % (case, w, fmt, a.seed)
        counts[run_case(a.infae, work, fmt, data, extra_args(fmt, rng), label) != 0] += 1
        case += 1
    return counts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("infae")
    ap.add_argument("src")
    ap.add_argument("work")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2, help="concurrent streams of cases")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    rows = real_rows(a.src, 400)
    help_text = subprocess.run([a.infae, "prepare", "--help"], capture_output=True).stdout
    formats = [f for f in FORMATS if f.encode() in help_text]
    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(a.jobs) as pool:
        futures = [pool.submit(worker, a, rows, formats, w, t0) for w in range(a.jobs)]
        try:
            counts = [f.result() for f in futures]
        except Failure as e:
            print("FAIL:", e, "\ninput kept in", a.work, "(case.txt of the stream)", file=sys.stderr)
            STOP.set()  # the other streams stop at their next case
            return 1
    ok, refused = sum(c[0] for c in counts), sum(c[1] for c in counts)
    print("fuzz_prepare: %d cases (%d prepared, %d refused with one error) in %.0f s, formats %s"
          % (ok + refused, ok, refused, time.time() - t0, ",".join(formats)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
