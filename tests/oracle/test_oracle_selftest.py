#!/usr/bin/python3
"""Self-test of the oracle's metrics on tiny hand-computed cases (docs/protocol.md §3).

Run: /usr/bin/python3 tests/oracle/test_oracle_selftest.py   (exit 0 = all passed)
"""

import math
import os
import sys

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle as O  # noqa: E402

TOL = 1e-12
failures = []


def csr(rows, n_items):
    """rows: list of item lists (order kept, as for negatives)."""
    indptr = np.cumsum([0] + [len(r) for r in rows])
    indices = np.array([i for r in rows for i in r], dtype=np.int64)
    return O.binary_csr(indptr, indices, n_items)


def close(name, got, want, tol=TOL):
    ok = abs(got - want) <= tol * max(1.0, abs(want))
    print("%-4s %-40s got %.17g want %.17g" % ("ok" if ok else "FAIL", name, got, want))
    if not ok:
        failures.append(name)


def defaults():
    O.TIE_BREAK = "lower_index"
    O.TOPK_FINITE_ONLY = True
    O.AUC_CONCAT = "user_held_neg"
    O.AUC_TIES = "stable"
    O.AUC_NEG_USERS = "with_held"
    O.AUC_MASKED = False


# ----------------------------------------------------------------------------------
# Case 1: 3 users, 5 items.
#   train (= context): u0 {0}, u1 {1,2}, u2 {3}        -> N = 4, counts [1,1,1,1,0]
#   held:              u0 {1,3}, u1 {4}, u2 {}         (u2 skipped everywhere)
#   negatives:         u0 [4,2], u1 [0,2], u2 [0,1]    (file order)
#   scores u0 [9, .5, .7, .3, .1]  masked item 0 -> ranking 2, 1, 3, 4 (item 0 -inf,
#                                   not ranked): hits at 0-based ranks 1, 2; m = 2
#          u1 [.2, 5, 5, .2, .2]   masked 1, 2 -> 0, 3, 4 tied at .2, lower index
#                                   first: hit (item 4) at rank 2; m = 1
#          u2 [10, 10, 0, 0, 0]
#   HR@10: u0 2/2, u1 1/1 -> 100
#   NDCG@10: u0 (1/log2 3 + 1/log2 4)/(1 + 1/log2 3) = 1.1309297535714575/1.6309297535714575
#            = 0.69342640361727081; u1 (1/log2 4)/1 = 0.5  -> 100*(0.6934264..+0.5)/2
#            = 59.671320180863539
#   PSP@10: u0 both hits: ((w1+w3)/2)/(w1+w3) = 1/2; u1 (w4/1)/w4 = 1 -> 75
#   Only 4 and 3 items are rankable, so @100 = @10.
#   AUC (raw, unmasked scores), pooled user by user: held (ascending), then negatives:
#     u0 held .5(P) .3(P), negs .1(N) .7(N); u1 held .2(P), negs .2(N) 5(N)  [item 2
#     raw score 5: it is u1's context but AUC uses scores before masking]; u2 skipped.
#     stable ascending: .1N .2P .2N .3P .5P .7N 5N -> positive ranks 2+4+5 = 11
#     AUC = (11 - 3*4/2)/(3*4) = 5/12
#   With AUC_MASKED = True the negative item 2 of u1 is -inf:
#     -inf N, .1N, .2P, .2N, .3P, .5P, .7N -> ranks 3+5+6 = 14 -> (14-6)/12 = 2/3
#   With AUC_NEG_USERS = "all", u2's negatives (10, 10) join as two more negatives
#     above everything: N = 6, ranks unchanged -> (11-6)/18 = 5/18
#   With AUC_CONCAT = "all_held_all_neg": .5P .3P .2P | .1N .7N .2N 5N:
#     ascending .1N .2P .2N .3P .5P .7N 5N -> same 5/12 (the .2 tie: P comes first)
#   With AUC_CONCAT = "user_neg_held": u1's .2N comes before its .2P:
#     .1N .2N .2P .3P .5P .7N 5N -> ranks 3+4+5 = 12 -> 6/12 = 1/2
# ----------------------------------------------------------------------------------
def case1():
    n_items = 5
    train = csr([[0], [1, 2], [3]], n_items)
    held = csr([[1, 3], [4], []], n_items)
    negs = csr([[4, 2], [0, 2], [0, 1]], n_items)
    S = np.array([[9, .5, .7, .3, .1], [.2, 5, 5, .2, .2], [10, 10, 0, 0, 0]])
    counts = O.item_counts(train)
    assert counts.tolist() == [1, 1, 1, 1, 0]
    return S, train, held, negs, counts, train.nnz


def test_case1():
    defaults()
    S, ctx, held, negs, counts, N = case1()
    assert N == 4
    m = O.metrics(S, ctx, held, negs, counts, N)
    ndcg = 59.671320180863539
    for k in (10, 100):
        close("case1 HR@%d" % k, m["HR@%d" % k], 100.0)
        close("case1 NDCG@%d" % k, m["NDCG@%d" % k], ndcg)
        close("case1 PSP@%d" % k, m["PSP@%d" % k], 75.0)
    close("case1 AUC (raw scores)", m["AUC"], 5.0 / 12.0)
    O.AUC_MASKED = True
    close("case1 AUC (masked scores)", O.metrics(S, ctx, held, negs, counts, N)["AUC"], 2 / 3)
    defaults()
    O.AUC_NEG_USERS = "all"
    close("case1 AUC (negatives of all users)",
          O.metrics(S, ctx, held, negs, counts, N)["AUC"], 5.0 / 18.0)
    defaults()
    O.AUC_CONCAT = "all_held_all_neg"
    close("case1 AUC (all held, then all neg)",
          O.metrics(S, ctx, held, negs, counts, N)["AUC"], 5.0 / 12.0)
    O.AUC_CONCAT = "user_neg_held"
    close("case1 AUC (per user neg, then held)",
          O.metrics(S, ctx, held, negs, counts, N)["AUC"], 0.5)
    defaults()
    # u1 with ties broken by HIGHER index: ranking 4, 3, 0 -> hit at rank 0, NDCG 1
    O.TIE_BREAK = "higher_index"
    m = O.metrics(S, ctx, held, negs, counts, N)
    close("case1 NDCG@10 (higher index first)", m["NDCG@10"],
          100 * (0.69342640361727081 + 1.0) / 2)
    defaults()


# ----------------------------------------------------------------------------------
# Case 2: 1 user, 12 items, no context, scores 12 - i (item 0 best), held {0, 11}.
#   train counts n0 = 5, n11 = 0 (others 1), N = 20.
#   C = (ln 20 - 1)*2.5^0.55 = 3.3034617703017726
#   w0 = 1 + C*6.5^-0.55 = 2.1799590596239904, w11 = 1 + C*1.5^-0.55 = 3.6431334612739503
#   @10:  hits: item 0 at rank 0; m = 2.  HR = 1/2 -> 50
#         NDCG = 1/(1 + 1/log2 3) -> 61.314719276545837
#         PSP = (w0/2)/(w0 + w11) -> 18.718224481240366
#   @100: hits at ranks 0 and 11.  HR = 100
#         NDCG = (1 + 1/log2 13)/(1 + 1/log2 3) -> 77.884295853068792
#         PSP = ((w0 + w11)/2)/(w0 + w11) = 1/2 -> 50
#   AUC: negatives [5, 6] (scores 7, 6): positives 12 and 1 -> 12 beats both, 1 none:
#        pooled 12P 1P 7N 6N ascending 1P 6N 7N 12P -> ranks 1 + 4 = 5 -> (5-3)/4 = 1/2
# ----------------------------------------------------------------------------------
def test_case2():
    defaults()
    n_items = 12
    S = (12.0 - np.arange(12.0))[None, :]
    ctx = csr([[]], n_items)
    held = csr([[0, 11]], n_items)
    negs = csr([[5, 6]], n_items)
    counts = np.ones(12, dtype=np.int64)
    counts[0], counts[11] = 5, 0
    m = O.metrics(S, ctx, held, negs, counts, 20)
    close("case2 HR@10", m["HR@10"], 50.0)
    close("case2 NDCG@10", m["NDCG@10"], 61.314719276545837)
    close("case2 PSP@10", m["PSP@10"], 18.718224481240366)
    close("case2 HR@100", m["HR@100"], 100.0)
    close("case2 NDCG@100", m["NDCG@100"], 77.884295853068792)
    close("case2 PSP@100", m["PSP@100"], 50.0)
    close("case2 AUC", m["AUC"], 0.5)
    w = O.psp_weights(counts, 20)
    close("case2 w0", w[0], 2.1799590596239904)
    close("case2 w11", w[11], 3.6431334612739503)
    # w of an item with n = 1 is exactly ln N: C*(1+B)^-A = ln N - 1
    close("case2 w(n=1) = ln N", w[1], math.log(20))


# ----------------------------------------------------------------------------------
# Case 3: 1 user, 12 items, scores 12 - i, held = items 0..10 (11 items), all counts 0.
#   @10: m = min(11, 10) = 10, top 10 = items 0..9 all hits: HR 100, NDCG 100,
#        PSP = (10 w / 10)/(10 w) = 1/10 -> 10
#   @100: m = 11, hits = 11 (items 0..10 at ranks 0..10): HR 100, NDCG 100,
#        PSP = (11 w / 11)/(11 w) = 1/11
# ----------------------------------------------------------------------------------
def test_case3():
    defaults()
    S = (12.0 - np.arange(12.0))[None, :]
    m = O.metrics(S, csr([[]], 12), csr([list(range(11))], 12), csr([[11]], 12),
                  np.zeros(12, dtype=np.int64), 7)
    close("case3 HR@10", m["HR@10"], 100.0)
    close("case3 NDCG@10", m["NDCG@10"], 100.0)
    close("case3 PSP@10", m["PSP@10"], 10.0)
    close("case3 HR@100", m["HR@100"], 100.0)
    close("case3 NDCG@100", m["NDCG@100"], 100.0)
    close("case3 PSP@100", m["PSP@100"], 100.0 / 11.0)
    close("case3 AUC", m["AUC"], 1.0)


# ----------------------------------------------------------------------------------
# Case 4: a held item that is also context (pair listed in two splits): masked, never
#   hit.  1 user, 3 items, context {0}, held {0, 1}, scores [3, 2, 1].
#   Rankable: 1, 2 -> hit item 1 at rank 0; m = 2: HR = 1/2 -> 50,
#   NDCG = 1/(1 + 1/log2 3) -> 61.314719276545837.
#   With TOPK_FINITE_ONLY = False the -inf item 0 is ranked 3rd and counts: HR 100.
#   AUC (raw scores): held 3P 2P, negative [2] 1N -> 1.
# ----------------------------------------------------------------------------------
def test_case4():
    defaults()
    args = (np.array([[3.0, 2.0, 1.0]]), csr([[0]], 3), csr([[0, 1]], 3), csr([[2]], 3),
            np.array([1, 0, 0]), 3)
    m = O.metrics(*args)
    close("case4 HR@10", m["HR@10"], 50.0)
    close("case4 NDCG@10", m["NDCG@10"], 61.314719276545837)
    close("case4 AUC", m["AUC"], 1.0)
    O.TOPK_FINITE_ONLY = False
    close("case4 HR@10 (masked items ranked)", O.metrics(*args)["HR@10"], 100.0)
    defaults()


# ----------------------------------------------------------------------------------
# Case 5: near ties (metrics_bounds).  1 user, 4 items, no context, held {0},
#   negatives [1], scores [1, 1 + 1e-14, .5, 0].
#   Exact: ranking 1, 0, 2, 3: hit at rank 1: NDCG = 1/log2 3 -> 63.092975357145753,
#   AUC: pooled 1P, (1+1e-14)N -> 0.
#   Items 0 and 1 differ by 1e-14 <= 1e-10 * max|s|: their order is free:
#   NDCG in [63.09.., 100], AUC in [0, 1].  Bitwise-equal scores [1, 1, .5, 0]: no
#   freedom (stable order is the protocol): item 0 first, NDCG = lo = hi = 100,
#   AUC: pooled 1P 1N -> P first -> 0 = lo = hi.
# ----------------------------------------------------------------------------------
def test_case5():
    defaults()
    rest = (csr([[]], 4), csr([[0]], 4), csr([[1]], 4), np.zeros(4, dtype=np.int64), 3)
    ex, lo, hi = O.metrics_bounds(np.array([[1.0, 1.0 + 1e-14, 0.5, 0.0]]), *rest,
                                  tie_rtol=1e-10)
    close("case5 NDCG@10 exact", ex["NDCG@10"], 63.092975357145753)
    close("case5 NDCG@10 lo", lo["NDCG@10"], 63.092975357145753)
    close("case5 NDCG@10 hi", hi["NDCG@10"], 100.0)
    close("case5 AUC exact", ex["AUC"], 0.0)
    close("case5 AUC lo", lo["AUC"], 0.0)
    close("case5 AUC hi", hi["AUC"], 1.0)
    ex, lo, hi = O.metrics_bounds(np.array([[1.0, 1.0, 0.5, 0.0]]), *rest, tie_rtol=1e-10)
    for name, d in (("exact", ex), ("lo", lo), ("hi", hi)):
        close("case5 exact tie NDCG@10 " + name, d["NDCG@10"], 100.0)
        close("case5 exact tie AUC " + name, d["AUC"], 0.0)


# ----------------------------------------------------------------------------------
# EASE and PopRec on a 3x3 example.
#   X = [[1,1,0],[0,1,1],[1,1,1]] -> G = XᵀX = [[2,2,1],[2,3,2],[1,2,2]], lambda = 1:
#   A = G + I = [[3,2,1],[2,4,2],[1,2,3]], det A = 3*8 - 2*4 + 1*0 = 16,
#   P = A^-1 = adj(A)/16 = [[8,-4,0],[-4,8,-4],[0,-4,8]]/16
#   B = I - P/diag(P) (column j divided by P_jj = 1/2), zero diagonal:
#     B = [[0, .5, 0], [.5, 0, .5], [0, .5, 0]]
#   PopRec: counts [2, 3, 2].
# ----------------------------------------------------------------------------------
def test_models():
    X = sp.csr_matrix(np.array([[1, 1, 0], [0, 1, 1], [1, 1, 1]], dtype=float))
    B = O.ease_fit(X, 1.0)
    want = np.array([[0, .5, 0], [.5, 0, .5], [0, .5, 0]])
    close("ease B max abs error", float(np.abs(B - want).max()), 0.0)
    close("ease scores row 0 item 2", float(O.ease_scores(X, B)[0, 2]), 0.5)
    p = O.pop_scores(X)
    close("pop scores", float(np.abs(p - np.array([2.0, 3.0, 2.0])[None, :]).max()), 0.0)


def test_module_defaults():
    # the conventions that reproduce the reference (../shared/reference/ml-100k)
    want = {"TIE_BREAK": "lower_index", "TOPK_FINITE_ONLY": True,
            "AUC_CONCAT": "user_held_neg", "AUC_TIES": "stable", "AUC_NEG_USERS": "with_held",
            "AUC_MASKED": False, "PSP_COUNTS": "train", "EASE_TEST_FIT": "train"}
    for k, v in want.items():
        ok = getattr(O, k) == v
        print("%-4s default %-30s %r" % ("ok" if ok else "FAIL", k, getattr(O, k)))
        if not ok:
            failures.append("default " + k)


def main():
    test_module_defaults()
    for t in (test_case1, test_case2, test_case3, test_case4, test_case5, test_models):
        t()
    if failures:
        print("%d FAILED: %s" % (len(failures), ", ".join(failures)))
        return 1
    print("all oracle self-tests passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
