#!/usr/bin/python3
"""Compare `infae_mpi train --metrics-json` output (∞-AE) with a reference
expected.json (../shared/reference/ml-100k): trace(K), the K samples, the
validation metrics of every lambda >= 1, the best lambda and the test metrics.

lambda = 0 is reported but not compared: there P = X - 0*alpha leaves only
rounding noise, which no two implementations share.

usage: check_reference.py EXPECTED.json OURS.json [--rtol 1e-6]"""
import json
import sys

KEYS = ("HR@10", "NDCG@10", "PSP@10", "HR@100", "NDCG@100", "PSP@100", "AUC")


def rel(a, b):
    return abs(a - b) / max(abs(a), 1e-300)


def main(argv):
    rtol = 1e-6
    if "--rtol" in argv:
        rtol = float(argv[argv.index("--rtol") + 1])
    exp = json.load(open(argv[1]))
    ours = json.load(open(argv[2]))
    inf = ours.get("infae", {})
    fails, worst = [], 0.0

    def check(what, a, b):
        nonlocal worst
        r = rel(a, b)
        worst = max(worst, r)
        if r > rtol:
            fails.append("%s: reference %r ours %r (rel %.3g)" % (what, a, b, r))

    check("trace(K)", exp["trace_K"], inf.get("trace_K", float("nan")))
    samples = {(a, b): v for a, b, v in inf.get("K_samples_by_original_user_id", [])}
    for a, b, v in exp["K_samples_by_original_user_id"]:
        if (a, b) not in samples:
            fails.append("K(%s, %s) missing (pass --kernel-samples)" % (a, b))
        else:
            check("K(%s, %s)" % (a, b), v, samples[(a, b)])
    ours_val = {float(k): v for k, v in ours["val"].items()}
    for k, m in exp["val"].items():
        lam = float(k)
        if lam not in ours_val:
            fails.append("val λ=%g missing" % lam)
            continue
        if lam == 0:
            print("val λ=0 not compared (rounding noise): reference HR@100 %.3f, ours %s"
                  % (m["HR@100"], ours_val[lam]["HR@100"] if isinstance(ours_val[lam], dict)
                     else ours_val[lam]))
            continue
        for key in KEYS:
            check("val λ=%g %s" % (lam, key), m[key], ours_val[lam][key])
    if float(exp["best_lambda"]) != float(ours["best_lambda"]):
        fails.append("best λ: reference %r ours %r" % (exp["best_lambda"], ours["best_lambda"]))
    for key in KEYS:
        check("test %s" % key, exp["test"][key], ours["test"][key])
    print("worst relative difference %.3e over trace(K), %d K samples, %d λ × 7 validation "
          "metrics, 7 test metrics" % (worst, len(exp["K_samples_by_original_user_id"]),
                                       sum(1 for k in exp["val"] if float(k) != 0)))
    if fails:
        print("MISMATCH:\n  " + "\n  ".join(fails))
        return 1
    print("OK: matches the reference within %g" % rtol)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
