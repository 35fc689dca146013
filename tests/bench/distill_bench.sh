#!/usr/bin/env bash
# Benchmark (not a test): Distill-CF's CPU step on an ML-1M-sized generated
# set (6,040 × 3,706, ~1M interactions), μ 500, γ 200, all users per step,
# 2 ranks of one thread, 30 steps with the default λ grid (validations at
# steps 0, 25 and 30). Per binary, the medians of RUNS runs of: the steps/s
# of steps 1–20 (no validation among them), the run's steps/s with its
# validations, and (binaries that report them) the seconds of each phase of
# a step; the summaries of the first runs are compared entry by entry.
#   tests/bench/distill_bench.sh BUILD WORK [RUNS] [OTHER_INFAE_MPI]
# OTHER_INFAE_MPI: a binary to compare with (e.g. one built from an older commit).
set -euo pipefail
runs=${3:-3}
other=${4:-}
source "$(dirname "$0")/ml1m_set.sh" "${1:-}" "${2:-}"
bins=("now:$infae")
[ -n "$other" ] && bins=("other:$other" "${bins[@]}")
for r in $(seq "$runs"); do
  for b in "${bins[@]}"; do
    name=${b%%:*} bin=${b#*:}
    mpiexec --oversubscribe -n 2 "$bin" distill --data ml1m.h5 --out "$name.$r.h5" --steps 30 \
      --no-ease --checkpoint-every 0 --metrics-json "$name.$r.json" > "$name.$r.log" 2>&1
  done
done
/usr/bin/python3 - "$runs" "${bins[@]}" <<'PY'
import json, re, statistics, sys
import h5py, numpy as np
runs = int(sys.argv[1])
names = [b.split(":", 1)[0] for b in sys.argv[2:]]
for name in names:
    clean, whole, phases = [], [], []
    for r in range(1, runs + 1):
        log = open(f"{name}.{r}.log").read()
        t = {int(m[0]): float(m[1]) for m in re.findall(r"step\s+(\d+)/\d+ .* ([\d.]+) steps/s", log)}
        clean.append(20 / (10 / t[10] + 10 / t[20]))
        j = json.load(open(f"{name}.{r}.json"))
        whole.append(j["steps_per_s"])
        if "step_seconds" in j:
            phases.append(j["step_seconds"])
    line = (f"{name:6s} steps 1-20: {statistics.median(clean):.3f} steps/s  "
            f"whole run: {statistics.median(whole):.3f} steps/s")
    if phases:
        line += "  s/step: " + " ".join(
            f"{k} {statistics.median(p[k] for p in phases):.3f}" for k in phases[0])
    print(line)
if len(names) == 2:
    a, b = (h5py.File(f"{n}.1.h5", "r") for n in names)
    for k in ("S", "logits"):
        print(f"summary /{k}: max |{names[0]} - {names[1]}| = {np.abs(a[k][...] - b[k][...]).max():.3g}")
PY
