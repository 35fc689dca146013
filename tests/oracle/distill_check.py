#!/usr/bin/env python3
"""Checks a summary file written by `infae_mpi distill` against the dataset,
independently of infae (numpy/scipy):

- layout: S (μ×d) in [0, 1], the binarized CSR equals S >= threshold, item and
  user ids match the dataset, the sampled users are what the sampler says
  (random: distinct users; head: the most active; their train rows for
  random/head samplers; interactions: a subset of the listed users' train
  rows, every listed user keeping one at least, about budget·nnz/users
  interactions in all);
- the stored metrics of ∞-AE and EASE trained on S equal the oracle's
  (oracle.evaluate with the summary as the fit rows);
- distill: the loss stored in the curve at the best step equals
  L(S) = mean_u(-Σ_i T_ui log_softmax(NTK(T, S) α)_ui) + c_card·mean_j(Σ_i S_ji)/(nnz/users)
  with α = (K + λ'I)^-1 S at that step's λ, the mean over the step's batch
  of real users (--batch B: B distinct users drawn for step t by the Philox
  stream (seed, 6, 1 + t), below; all users without --batch); nnz/users is
  the whole train split's;
- random and distill: the sampled (initial) users are the stream
  (seed, 6, 0)'s draw; distill: step 0's validation is ∞-AE on those users'
  train rows (no Gumbel sample), at the λ it picks, and is never the summary.

The draws are those of the Philox4x32-10 streams of infae's counter-based
RNG (docs/protocol.md §1), written here from Random123's definition (checked against its
known-answer vectors): stream (seed, domain, id) is the blocks
philox(ctr = (0, 1, 2, …; id low, id high; domain), key = (seed low, seed high)),
words in order; a 64-bit draw is two words, high first; below(n) rejects
draws ≥ 2^64 − 1 − (2^64 − 1) mod n and takes the rest mod n; k of n indices
are a partial Fisher–Yates shuffle of 0…n−1 (swap i with i + below(n − i)),
the first k, ascending.
"""
import argparse
import sys

import h5py
import numpy as np
import scipy.linalg
import scipy.special

sys.path.insert(0, __import__("os").path.dirname(__file__))
import oracle  # noqa: E402


def strings(ds):
    return [x.decode() if isinstance(x, bytes) else str(x) for x in ds[...]]


M32 = 0xFFFFFFFF
RNG_DISTILL = 6  # the domain of Distill-CF's initial users and batches


def philox4x32_10(ctr, key):
    """Random123's Philox4x32 with 10 rounds: 4 counter words, 2 key words."""
    c0, c1, c2, c3 = ctr
    k0, k1 = key
    for r in range(10):
        if r:
            k0, k1 = (k0 + 0x9E3779B9) & M32, (k1 + 0xBB67AE85) & M32
        p0, p1 = 0xD2511F53 * c0, 0xCD9E8D57 * c2
        c0, c1, c2, c3 = (p1 >> 32) ^ c1 ^ k0, p1 & M32, (p0 >> 32) ^ c3 ^ k1, p0 & M32
    return c0, c1, c2, c3


# Random123's known-answer vectors (kat_vectors, philox4x32 10): counter, key, output.
KAT = (((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
       ((M32,) * 4, (M32, M32), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
       ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)))
for _ctr, _key, _want in KAT:
    assert philox4x32_10(_ctr, _key) == _want, "Philox4x32-10 known-answer test"


def stream(seed, domain, sid):
    """The 32-bit words of stream (seed, domain, id), in order."""
    block = 0
    while True:
        yield from philox4x32_10((block, sid & M32, sid >> 32, domain), (seed & M32, seed >> 32))
        block += 1


def choose(seed, domain, sid, n, k):
    """k of the n indices, drawn by stream (seed, domain, id), ascending."""
    words = stream(seed, domain, sid)

    def below(m):
        limit = (1 << 64) - 1 - ((1 << 64) - 1) % m
        while True:
            v = (next(words) << 32) | next(words)
            if v < limit:
                return v % m

    perm = list(range(n))
    for i in range(k):
        j = i + below(n - i)
        perm[i], perm[j] = perm[j], perm[i]
    return np.sort(np.array(perm[:k], dtype=np.int64))


def loss_at(ds, S, lam, c_card, rows=None):
    """The outer loss at S and λ over the real users `rows` (all users: None)."""
    train = ds["train"]
    k = oracle.ntk_rows(S, S)
    lam_p = lam * np.trace(k) / S.shape[0]
    alpha = scipy.linalg.cho_solve(scipy.linalg.cho_factor(k + lam_p * np.eye(len(k))), S)
    batch = train if rows is None else train[rows]
    P = oracle.ntk_rows(batch, S) @ alpha
    T = batch.toarray()
    ce = -(T * scipy.special.log_softmax(P, axis=1)).sum(axis=1).mean()
    ipu = train.nnz / train.shape[0]
    return ce + c_card * S.sum(axis=1).mean() / ipu


def infae_tie(train, rows, lams):
    """The near-tie range for ∞-AE fitted on `rows`: its scores P = K_ts·α are
    sums that cancel when the rows are nearly alike (a flat summary), so
    rounding moves a score by about ε·κ(K + λ'I)·(|K_ts|·|α|)/|P| relative
    (first order); the largest over the grid, for scores above 1e-3 of the
    largest, and never below the oracle's default."""
    K = oracle.ntk_rows(rows, rows)
    Kts = oracle.ntk_rows(train.toarray().astype(float), rows)
    worst = oracle.TIE_RTOL_DEFAULT
    for lam in lams:
        A = K + lam * np.trace(K) / rows.shape[0] * np.eye(rows.shape[0])
        try:
            alpha = np.linalg.solve(A, rows)
        except np.linalg.LinAlgError:
            continue
        P = Kts @ alpha
        big = np.abs(P) > 1e-3 * np.abs(P).max()
        amp = ((np.abs(Kts) @ np.abs(alpha))[big] / np.abs(P[big])).max()
        worst = max(worst, np.finfo(float).eps * np.linalg.cond(A) * amp)
    return worst


def top_rows(z, k, gamma):
    """0/1 rows: each row's k highest logits (ties to the lower index); k = 0:
    row j's k_j, the rounded expected number of distinct items among γ draws
    from softmax(z_j)."""
    mu, items = z.shape
    if k == 0:
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        kk = np.clip(np.floor(-np.expm1(gamma * np.log1p(-p)).sum(axis=1) + 0.5), 1, items)
    else:
        kk = np.full(mu, min(k, items))
    rows = np.zeros_like(z)
    for j in range(mu):
        rows[j, np.lexsort((np.arange(items), -z[j]))[: int(kk[j])]] = 1
    return rows


def metric_of(f):
    return oracle._attr(f["hyper"].attrs.get("select_metric", "HR@100"))


def check_validated(ds, f, B, metric):
    """/binary by the validated rule: the candidates (0, then round(m·2^((i−2)/2))
    up to d/2 for m train items per user), ∞-AE on each (λ by validation
    HR@100) scored by validation `metric`, and the best one's rows written."""
    fails = []
    train = ds["train"]
    z, gamma = f["logits"][...], int(f["binary"].attrs["gumbel_samples"])
    items = z.shape[1]
    ipu = train.nnz / train.shape[0]
    want = [0]
    for i in range(64):
        k = max(1, int(np.floor(ipu * 2.0 ** ((i - 2) / 2) + 0.5)))
        if 2 * k > items or len(want) == 64:
            break
        if k != want[-1]:
            want.append(k)
    if len(want) == 1:
        want.append(int(min(max(np.floor(ipu + 0.5), 1), items)))
    got = [int(x) for x in f["binary/candidate_items"][...]]
    if got != want:
        return ["binary candidates %s, expected %s" % (got, want)]
    grid = [float(x) for x in f["hyper/lambda_grid"][...]]
    vals, lams = f["binary/candidate_val"][...], f["binary/candidate_lambda"][...]
    chosen = int(f["binary"].attrs["items_per_row"])
    lo, hi = [], []
    for c, k in enumerate(want):
        rows = top_rows(z, k, gamma)
        # 0/1 rows tie many scores exactly; the summation order breaks such
        # ties either way: ours must lie in the oracle's near-tie range (1e-5)
        # at our λ, and our λ must be one that HR@100 could pick there.
        res = oracle.evaluate(ds, "infae", grid, tie_rtol=1e-5, fit_users=oracle.Sample(rows))
        b = res["bounds"]["val"]
        key = oracle._lam_key(float(lams[c]))
        top = max(b[x]["lo"]["HR@100"] for x in b if isinstance(res["val"][x], dict))
        lo.append(b[key]["lo"][metric] * (1 - 1e-9))
        hi.append(b[key]["hi"][metric] * (1 + 1e-9))
        print("binary candidate %d (%s items per row): val %s ours %.6f (λ %g), oracle [%.6f, %.6f]"
              % (c, k or "expected", metric, vals[c], lams[c], lo[c], hi[c]))
        if not lo[c] <= vals[c] <= hi[c] or b[key]["hi"]["HR@100"] < top * (1 - 1e-9):
            fails.append("binary candidate %d: validation %s %r at λ %g, oracle [%r, %r]"
                         % (c, metric, vals[c], lams[c], lo[c], hi[c]))
        if k == chosen and (B != rows).any():
            fails.append("binary rows are not candidate %d's" % c)
    if chosen not in want:
        fails.append("binary: items_per_row %d is not a candidate" % chosen)
    elif vals[want.index(chosen)] != np.nanmax(vals) or hi[want.index(chosen)] < max(lo):
        fails.append("binary: candidate %d kept, not the best by validation %s" % (chosen, metric))
    return fails


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--summary", required=True)
    ap.add_argument("--rtol", type=float, default=1e-9)
    a = ap.parse_args()
    ds = oracle.load_dataset(a.data)
    train = ds["train"]
    fails = []
    with h5py.File(a.summary, "r") as f, h5py.File(a.data, "r") as d:
        attrs = {k: oracle._attr(v) for k, v in f.attrs.items()}
        hyper = {k: oracle._attr(v) for k, v in f["hyper"].attrs.items()}
        sampler = hyper["sampler"]
        oracle.DEPTH = int(hyper.get("depth", 1))  # the NTK of the summary's ∞-AE
        S = f["S"][...]
        mu, items = S.shape
        print("summary: %s sampler, %d users x %d items" % (sampler, mu, items))
        if attrs["format"] != "infae-summary" or items != train.shape[1]:
            fails.append("format/items: %r %d" % (attrs["format"], items))
        if S.min() < 0 or S.max() > 1:
            fails.append("S outside [0, 1]: [%g, %g]" % (S.min(), S.max()))
        B = oracle.binary_csr(f["binary/indptr"][...], f["binary/indices"][...], items).toarray()
        rule = oracle._attr(f["binary"].attrs["rule"])
        if rule == "threshold":
            thr = float(f["binary"].attrs["threshold"])
            if (B != (S >= thr)).any():
                fails.append("binary CSR is not S >= %g" % thr)
        elif rule == "expected_items" and "logits" in f:
            z, gamma = f["logits"][...], int(f["binary"].attrs["gumbel_samples"])
            if (B != top_rows(z, 0, gamma)).any():
                fails.append("binary rows are not each row's expected items")
        elif rule == "validated" and "logits" in f:
            fails += check_validated(ds, f, B, metric_of(f))
        else:
            fails.append("binary: unknown rule %r" % rule)
        if strings(f["item_ids"]) != strings(d["items/ids"]):
            fails.append("item ids differ from the dataset's")
        idx = f["user_index"][...]
        if strings(f["user_ids"]) != [strings(d["users/ids"])[i] for i in idx]:
            fails.append("user ids do not match user_index")
        if len(set(idx.tolist())) != mu:
            fails.append("sampled users are not distinct")
        if sampler in ("random", "distill"):
            want_idx = choose(int(hyper["seed"]), RNG_DISTILL, 0, train.shape[0], mu)
            if not np.array_equal(idx, want_idx):
                fails.append("%s: the sampled users are not the seed's draw" % sampler)
        if sampler in ("random", "head"):
            if (S != train[idx].toarray()).any():
                fails.append("%s: S is not the sampled users' train rows" % sampler)
            if "logits" in f:
                fails.append("%s: has logits" % sampler)
        if sampler == "interactions":
            T = train[idx].toarray()
            if ((S != 0) & (S != 1)).any() or (S > T).any():
                fails.append("interactions: S is not a 0/1 subset of the users' train rows")
            if (S.sum(axis=1) == 0).any() or len(np.unique(idx)) != len(idx):
                fails.append("interactions: a listed user keeps nothing")
            N, n = train.nnz, train.shape[0]
            q = min(1.0, int(hyper["budget"]) * (N / n) / N)
            want, sd = q * N, (q * (1 - q) * N) ** 0.5
            print("interactions: kept %d, expected %.1f ± %.1f" % (S.sum(), want, sd))
            if abs(S.sum() - want) > 5 * sd + 1:
                fails.append("interactions: kept %d, expected %.1f" % (S.sum(), want))
        if sampler == "head":
            cnt = np.diff(train.indptr)
            if cnt[idx].min() < np.delete(cnt, idx).max(initial=0):
                fails.append("head: a less active user was taken over a more active one")
        if sampler == "distill":
            if f["logits"].shape != S.shape:
                fails.append("logits shape %r" % (f["logits"].shape,))
            step = f["curve/step"][...]
            best = int(hyper["best_step"])
            k = int(np.nonzero(step == best)[0][0])
            lam = float(f["curve/lambda"][k])
            # Every choice is made by the selection metric (HR@100 when the
            # file has none). Step 0 validates the initial rows and is never
            # the summary (unless it is the only step).
            metric = hyper.get("select_metric", "HR@100")
            if metric not in ("HR@100", "NDCG@10"):
                fails.append("select_metric %r" % metric)
                metric = "HR@100"
            val = f["curve/val_" + metric][...]
            kept = step > 0 if step.max() > 0 else step == 0
            if best == 0 and step.max() > 0:
                fails.append("step 0 (the initial rows) was kept as the summary")
            if val[k] != np.max(val[kept]) or k != np.flatnonzero(kept)[np.argmax(val[kept])]:
                fails.append("best step %d is not the first with the best validation %s"
                             % (best, metric))
            if float(hyper["best_val"]) != val[k] or (
                    float(hyper["best_val_HR@100"]) != f["curve/val_HR@100"][k]):
                fails.append("best_val / best_val_HR@100 are not the curve's at the best step")
            if step[0] == 0 and step.max() > 0:
                # Step 0: ∞-AE on the initial rows (the random sampler's), its
                # λ by that validation metric (to 1e-3: 0/1 rows tie many
                # scores).
                grid = [float(x) for x in f["hyper/lambda_grid"][...]]
                res = oracle.evaluate(ds, "infae", grid, select=metric,
                                      fit_users=oracle.Sample(train[idx].toarray().astype(float)))
                want_lam = res["best_lambda"]
                want_m = res["val"][oracle._lam_key(want_lam)][metric]
                print("step 0 (initial rows): val %s %.6f at λ %g (oracle %.6f at λ %g)"
                      % (metric, val[0], f["curve/lambda"][0], want_m, want_lam))
                if (f["curve/lambda"][0] != want_lam
                        or abs(val[0] - want_m) > 1e-3 * want_m):
                    fails.append("step 0 is not the validation of the initial rows")
            n, b = train.shape[0], int(hyper["batch"])
            rows = None
            if 0 < b < n:
                rows = choose(int(hyper["seed"]), RNG_DISTILL, 1 + best, n, b)
            want = loss_at(ds, S, lam, float(hyper["c_card"]), rows)
            got = float(f["curve/loss"][k])
            r = abs(got - want) / abs(want)
            print("loss at best step %d (λ %g) over %s: ours %.15g oracle %.15g (rel %.2e)"
                  % (best, lam, "all %d users" % n if rows is None else
                     "a batch of %d users" % b, got, want, r))
            if not r <= a.rtol:
                fails.append("loss at the best step: ours %r oracle %r" % (got, want))
        names = strings(f["metrics/names"])
        # The models on S, and on the binarized summary (metrics/binary_*).
        for model, rows in (("infae", S), ("ease", S), ("binary_infae", B), ("binary_ease", B)):
            if "metrics/" + model not in f:
                continue
            g = f["metrics/" + model]
            kind = model.replace("binary_", "")
            lams = [float(x) for x in g["lambdas"][...]]
            ours = {"model": kind, "best_lambda": float(g.attrs["best_lambda"]), "val": {},
                    "test": {n: float(g.attrs["test_" + n]) for n in names}}
            for j, lam in enumerate(lams):
                row = g["val"][j, :]
                ours["val"]["%.17g" % lam] = ("skipped: not positive definite"
                                              if np.isnan(row).all() else
                                              {n: float(row[q]) for q, n in enumerate(names)})
            # Binary samples tie many scores exactly; such near-ties may break
            # either way (the oracle's tie ranges, as in the other tests).
            # 0/1 rows of ~γ items tie most scores exactly, and rounding in
            # another summation order breaks such ties either way, past the
            # oracle's near-tie ranges (as for the random and head samplers'
            # EASE in tests/cli/distill.sh): the binarized summary's models
            # are checked to 1e-3 (a wrong /binary moves them by far more).
            tie = oracle.TIE_RTOL_DEFAULT if rows is S else 1e-5
            if kind == "infae" and rows is S:
                tie = infae_tie(train, S, lams)
            rtol = a.rtol if rows is S else max(a.rtol, 1e-3)
            res = oracle.evaluate(ds, kind, lams, tie_rtol=tie, fit_users=oracle.Sample(rows))
            res.pop("trace_K", None)
            if model == "infae" and sampler == "distill":
                # The kept sample's λ in the curve is the grid's best on it by
                # the selection metric (the first of equals, up to 1e-9).
                got_lam = float(f["curve/lambda"][k])
                scores = {lam: res["val"][oracle._lam_key(lam)] for lam in lams}
                scores = {lam: m[metric] for lam, m in scores.items() if isinstance(m, dict)}
                top = max(scores.values())
                want = [lam for lam in lams if lam in scores and scores[lam] >= top * (1 - 1e-9)]
                print("best step's λ by validation %s: ours %g, oracle %s"
                      % (metric, got_lam, want))
                if got_lam not in want:
                    fails.append("best step's λ %g is not the oracle's best by %s (%s)"
                                 % (got_lam, metric, want))
            bad = oracle.compare(res, ours, rtol, dataset=ds, fit_users=oracle.Sample(rows))
            fails += ["%s: %s" % (model, x) for x in bad]
            print("%s on the summary: test NDCG@10 %.4f (oracle %.4f), best λ %g, near ties %.1e"
                  % (model, ours["test"]["NDCG@10"], res["test"]["NDCG@10"], res["best_lambda"],
                     tie))
    if fails:
        print("MISMATCH (%d):" % len(fails))
        for s in fails:
            print("  " + s)
        return 1
    print("OK: %s matches the oracle (rtol %g)" % (a.summary, a.rtol))
    return 0


if __name__ == "__main__":
    sys.exit(main())
