#!/usr/bin/env bash
# `plan` for ∞-AE, EASE and Distill-CF: the sizes and flops it prints are
# recomputed here from the dataset's sizes (numpy/h5py) and the formulas
# of docs/protocol.md's cost model; --lambdas takes train's list, --gpus
# prints one plan (one rank over the GPUs, no per-rank plan), times read in
# h/min/s, and bad values are refused.
source "$(dirname "$0")/common.sh"
gen_dataset g 300 150 20
cd "$WORK"
plan() { run_mpi 1 plan --data g.h5 "$@"; }
plan --np 4 --lambdas 1,5,20 > infae.txt
plan --model ease --np 2 > ease.txt
plan --model distill --np 2 --budget 40 --samples 30 --steps 500 > distill.txt
plan --gpus 2 > gpus.txt
plan --np 2 --centers 40 > nystrom.txt
plan --centers 40 --lambdas 1,5,20 > nystrom1.txt
plan --train-users 100 --lambdas 1,5,20 > sample1.txt
plan --np 2 --gflops 0.0001 > slow.txt
plan --model ease --gflops 1e-6 > slower.txt

"$PYTHON" - <<'PY'
import math
import re
import h5py
f = h5py.File("g.h5", "r")
n, d, nnz = int(f.attrs["users"]), int(f.attrs["items"]), int(f.attrs["train_nnz"])

def human(b):
    units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
    k = 0
    while b >= 1024 and k < 5:
        b /= 1024
        k += 1
    return ("%.2f %s" if k else "%.0f %s") % (b, units[k])

def line(path, label):
    for l in open(path):
        if l.strip().startswith(label):
            return l.rstrip("\n")
    raise AssertionError("%s: no line '%s'\n%s" % (path, label, open(path).read()))

def value(path, label):
    return line(path, label)[len(line(path, label).split(label)[0]) + len(label):].strip()

def expect(path, label, want):
    got = value(path, label)
    assert got == want, (path, label, got, want)

# ∞-AE: three λ from the list, the exact fit's flops.
head = open("infae.txt").readline()
assert "4 rank(s) on a 2x2 grid, 3 λ" in head, head
expect("infae.txt", "Cholesky,  3 × U³/3", "%.3e" % (3 * n ** 3 / 3))
expect("infae.txt", "solve with X,  3 × 2U²d", "%.3e" % (3 * 2 * n * n * d))
expect("infae.txt", "Gram NTK(X, X), lower half", "%.3e" % (n * n * d))
# Without the copy of K: K made again for the two λ after the first (U²d each).
lean = n * n * d + 3 * (n ** 3 / 3 + 2 * n * n * d) + 2 * n * n * d + 4 * n * n * d
assert ", %.0f %% more flops" % (100 * 2 * n * n * d / lean) in value("infae.txt", "without the copy of K"), \
    value("infae.txt", "without the copy of K")
# EASE: three d × d arrays per rank; d³ per λ of its 7-value grid; nnz·d per validation.
assert "2 rank(s), 7 λ" in open("ease.txt").readline()
expect("ease.txt", "item Gram XᵀX", human(8 * d * d))
expect("ease.txt", "B and the best λ's B", human(16 * d * d))
expect("ease.txt", "inverse,  7 × d³ (each rank)", "%.3e" % (7 * d ** 3))
expect("ease.txt", "validation,  7 × nnz·d", "%.3e" % (7 * nnz * d))
# Distill-CF: γ·μ·d draws twice per step; re-picks at 0, 25, …, 200, every 40, and the end.
mu, gamma, steps = 40, 30, 500
picks = sorted(set(list(range(0, 201, 25)) + list(range(240, steps + 1, 40)) + [steps]))
expect("distill.txt", "Gumbel-softmax draws per step", "%.3e" % (2 * gamma * mu * d))
# ... and ∞-AE's λ grid on the summary, on /binary after the steps and on
# each of /binary's candidates: 0 (each row's expected items), then
# round(m·2^((i−2)/2)) up to d/2, m = nnz/n.
cands = [0]
for i in range(64):
    k = max(1, int(math.floor(nnz / n * 2.0 ** ((i - 2) / 2) + 0.5)))
    if 2 * k > d:
        break
    if k != cands[-1]:
        cands.append(k)
assert len(cands) > 2, cands
text = open("distill.txt").read()
assert "validation, %3d λ grids" % (len(picks) + 2 + len(cands)) in text, text
assert "of which /binary's %2d candidates" % len(cands) in text, text
expect("distill.txt", "S, best S and logits, sums, dL/dS, α", human(8 * 10 * mu * d))
expect("distill.txt", "inner μ × μ: S·Sᵀ, K, factor, work", human(8 * 4 * mu * mu))
# Nyström factors ΦᵀΦ and never copies K: no total without the copy.
assert "without the copy of K" not in open("nystrom.txt").read(), open("nystrom.txt").read()
# Nyström on one rank, U = 40: K_mm and its factor, Φ = K_nm·L⁻ᵀ (n·U² for the
# solve), ΦᵀΦ, ΦᵀX; Φ kept for all users, the validation Φ·β per λ. Made a
# block at a time instead, each λ makes K_nm again and multiplies it with α =
# L⁻ᵀβ (U²d).
U = 40
gram = U * U * d + 2 * n * U * d + U ** 3 / 3 + 3 * n * U * U + 2 * n * U * d
expect("nystrom1.txt", "K_mm, its L, Φ=K_nm·L⁻ᵀ, ΦᵀΦ, ΦᵀX", "%.3e" % gram)
expect("nystrom1.txt", "validation Φ·β", "%.3e" % (3 * 2 * n * U * d))
expect("nystrom1.txt", "Φ for all users", human(8 * n * U))
kept = gram + 3 * (U ** 3 / 3 + 2 * U * U * d + 2 * n * U * d) + 4 * n * U * d
more = "%.0f %% more flops" % (100 * 3 * (2 * n * U * d + U * U * d) / kept)
assert more in value("nystrom1.txt", "with NTK(C, X_fit) made a block"), (more, open("nystrom1.txt").read())
# A sample of U = 100 users: NTK(X, X_fit) made once and kept; made a block at
# a time, it is made again for each λ instead (2nUd each).
U = 100
expect("sample1.txt", "Gram, and NTK(X, X_fit) once", "%.3e" % (U * U * d + 2 * n * U * d))
expect("sample1.txt", "NTK(C, X) for all users", human(8 * n * U))
kept = U * U * d + 2 * n * U * d + 3 * (U ** 3 / 3 + 2 * U * U * d + 2 * n * U * d) + 4 * n * U * d
more = "%.0f %% more flops" % (100 * (3 - 1) * 2 * n * U * d / kept)
assert more in value("sample1.txt", "with NTK(C, X_fit) made a block"), (more, open("sample1.txt").read())
# --gpus: one plan for one rank over the GPUs, no per-rank plan.
g = open("gpus.txt").read()
assert "one rank with K over 2 GPUs" in g and "memory per rank" not in g, g
assert g.count("plan:") == 1, g
# Times in h/min/s.
assert re.search(r"time at 0.0001 GFLOP/s per rank: \d+ (min \d\d s|h \d\d min)", open("slow.txt").read())
assert re.search(r"time at 1e-06 GFLOP/s per rank: (\d+ h \d\d min|[\d.]+ days)", open("slower.txt").read())
print("plan: sizes and flops match")
PY

EXPECT_RANKS=1
expect_error "--np must be ≥ 1 (got 0)" plan --data g.h5 --np 0
expect_error "--gflops must be > 0" plan --data g.h5 --gflops 0
expect_error "(an empty entry)" plan --data g.h5 --lambdas 1,,5
expect_error "every λ must be ≥ 0 (got -1)" plan --data g.h5 --lambdas -1
expect_error "--model must be infae, ease or distill" plan --data g.h5 --model pop
expect_error "--gpus plans the exact ∞-AE on one rank" plan --data g.h5 --gpus 2 --model ease
echo "plan: $cases error cases passed"
