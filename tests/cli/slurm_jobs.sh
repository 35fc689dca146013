#!/usr/bin/env bash
# The jobs in jobs/ under a real Slurm: a one-node cluster (munged, slurmctld,
# slurmd from Debian's slurm-wlm) started on localhost by slurm/local/start.sh.
#  1. jobs/netflix_full.slurm, scaled down by its variables, on generated
#     Netflix-format data: prepare, ∞-AE, Distill-CF; the HDF5 outputs checked.
#  2. jobs/ml1m.slurm on a generated MovieLens-layout file: ∞-AE and EASE;
#     submitted again, it skips every step (the outputs keep their mtimes).
#  3. jobs/distill.slurm signalled during Distill-CF (scancel --batch
#     --signal=USR1, as #SBATCH --signal does before the time limit): it
#     checkpoints, requeues itself, resumes and writes the same summary as an
#     uninterrupted run.
# Each job's log is WORK/<job name>-<job id>.out, and Slurm's output file in
# the submit folder (ignored by git) points to it.
# Skips (77) without slurm-wlm/munge or root.
source "$(dirname "$0")/common.sh"
export PATH=$PATH:/usr/sbin
for prog in munged slurmctld slurmd sbatch; do
  command -v "$prog" > /dev/null || { echo "SKIP: $prog not installed (scripts/install-deps.sh installs slurm-wlm and munge)"; exit 77; }
done
[ "$(id -u)" -eq 0 ] || { echo "SKIP: the local slurmd needs root"; exit 77; }

cluster=$WORK/cluster
trap '"$SRC/slurm/local/stop.sh" "$cluster"; rm -rf "$WORK"' EXIT
SLURMCTLD_PORT=${SLURMCTLD_PORT:-16817} SLURMD_PORT=${SLURMD_PORT:-16818} \
  "$SRC/slurm/local/start.sh" "$cluster" 4
export SLURM_CONF=$cluster/slurm.conf
export INFAE_HOME=$SRC LAUNCHER=srun
cd "$WORK" || exit 1

# Waits until job $1 has left the queue for good (at most $2 s); prints its state.
job_state() { scontrol show job "$1" 2> /dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p'; }
wait_job() {
  local id=$1 limit=$2 s
  for _ in $(seq "$limit"); do
    s=$(job_state "$id")
    case "$s" in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE) echo "$s"; return ;; esac
    sleep 1
  done
  echo "STUCK:$s"
}
# job_log ID DIR NAME SLURM_OUT: the log of job ID (name NAME) in its WORK
# folder DIR, after checking that Slurm's output file SLURM_OUT points to it.
job_log() {
  local id=$1 dir=$2 name=$3 stub=$4
  grep -qF "log: $(cd "$dir" && pwd -P)/$name-$id.out" "$stub" || {
    cat "$stub" >&2; fail "$stub does not point to the log in $dir"; }
  [ -s "$dir/$name-$id.out" ] || fail "no log $dir/$name-$id.out"
  echo "$dir/$name-$id.out"
}
# Small jobs on this machine: 2 ranks, 1 CPU each (command-line options
# override the #SBATCH lines, as users scale a job down). The time limit stays
# above the jobs' --signal lead time (10 and 15 min).
small=(--nodes=1 --ntasks=2 --ntasks-per-node=2 --cpus-per-task=1 --time=30)

# ---- 1. netflix_full.slurm ---------------------------------------------------
run_mpi 1 generate --users 600 --items 300 --mean-items 25 --seed 3 --format netflix \
  --output "$WORK/netflix.txt" --quiet
id=$(sbatch --parsable "${small[@]}" --output="$WORK/netflix-%j.out" \
  "--export=ALL,NETFLIX_INPUT=$WORK/netflix.txt,WORK=$WORK/nf,RANKS=2,PRECISION=fp64,BUDGET=40,STEPS=20,BATCH=300,SAMPLES=20" \
  "$SRC/jobs/netflix_full.slurm")
state=$(wait_job "$id" 300)
cat "$WORK/netflix-$id.out"
log=$(job_log "$id" "$WORK/nf" infae-netflix "$WORK/netflix-$id.out")
cat "$log"
[ "$state" = COMPLETED ] || fail "netflix_full.slurm ended $state"
"$PYTHON" - "$WORK/nf" <<'PY'
import glob, json, sys
import h5py, numpy as np
d = sys.argv[1]
with h5py.File(d + "/netflix.h5", "r") as f:
    assert f.attrs["format"] == b"infae-dataset" or f.attrs["format"] == "infae-dataset"
    users, items = int(f.attrs["users"]), int(f.attrs["items"])
    assert f.attrs["source_format"] in (b"netflix", "netflix")
with h5py.File(d + "/infae_model.h5", "r") as f:
    a = f["alpha"][...]
    assert a.shape == (users, items), a.shape  # exact ∞-AE: every user is fit
    assert np.all(np.isfinite(a)) and np.abs(a).max() > 0
    assert int(f.attrs["fit_users"]) == users
m = json.load(open(d + "/infae_metrics.json"))
assert m["ranks"] == 2 and m["dataset"]["users"] == users and m["test"]["HR@10"] > 0, m["ranks"]
with h5py.File(d + "/summary_40.h5", "r") as f:
    s = f["S"][...]
    assert s.shape == (40, items) and s.min() >= 0 and s.max() <= 1, s.shape
    assert f["hyper"].attrs["steps_done"] == 20 and f["hyper"].attrs["batch"] == 300
    assert f["metrics/infae"].attrs["test_HR@10"] > 0
assert not glob.glob(d + "/*.tmp-*") and not glob.glob(d + "/*.ckpt.h5")
print("netflix_full.slurm: dataset %d x %d, model alpha %s, summary S %s, test HR@10 %.2f"
      % (users, items, a.shape, s.shape, m["test"]["HR@10"]))
PY

# ---- 2. ml1m.slurm on a generated file of MovieLens layout ---------------------
run_mpi 1 generate --users 400 --items 250 --mean-items 30 --seed 4 --output "$WORK/ratings.dat" \
  --quiet
# No --output: Slurm's output file is the job's #SBATCH --output, in the submit folder.
ml1m=(sbatch --parsable "${small[@]}"
      "--export=ALL,ML1M_INPUT=$WORK/ratings.dat,WORK=$WORK/ml,RANKS=2" "$SRC/jobs/ml1m.slurm")
id=$("${ml1m[@]}")
state=$(wait_job "$id" 300)
[ "$state" = COMPLETED ] || { cat "$WORK/infae-ml1m-$id.out" "$WORK/ml/infae-ml1m-$id.out"; fail "ml1m.slurm ended $state"; }
log=$(job_log "$id" "$WORK/ml" infae-ml1m "$WORK/infae-ml1m-$id.out")
if git -C "$SRC" rev-parse --is-inside-work-tree > /dev/null 2>&1; then
  git -C "$SRC" check-ignore -q "infae-ml1m-$id.out" || fail "git does not ignore infae-ml1m-$id.out"
fi
"$PYTHON" - "$WORK/ml" <<'PY'
import json, sys
import h5py
d = sys.argv[1]
inf, ease = (json.load(open("%s/metrics_%s.json" % (d, m))) for m in ("infae", "ease"))
assert inf["ranks"] == 2 and ease["ranks"] == 2 and inf["test"]["HR@10"] > 0
with h5py.File(d + "/infae_model.h5", "r") as f:
    assert f["alpha"].shape == (inf["dataset"]["users"], inf["dataset"]["items"])
print("ml1m.slurm: ∞-AE test NDCG@10 %.2f, EASE %.2f" % (inf["test"]["NDCG@10"],
                                                         ease["test"]["NDCG@10"]))
PY
# Submitted again: every step is done, so every step is skipped.
outputs=("$WORK/ml/ml1m.h5" "$WORK/ml/infae_model.h5" "$WORK/ml/metrics_infae.json"
         "$WORK/ml/metrics_ease.json")
before=$(stat -c '%n %y' "${outputs[@]}")
id=$("${ml1m[@]}")
state=$(wait_job "$id" 300)
log=$(job_log "$id" "$WORK/ml" infae-ml1m "$WORK/infae-ml1m-$id.out")
cat "$log"
[ "$state" = COMPLETED ] || fail "ml1m.slurm (again) ended $state"
for step in prepare "train --model infae" "train --model ease"; do
  grep -qF "skip $step: done" "$log" || fail "the second ml1m.slurm did not skip $step"
done
[ "$(stat -c '%n %y' "${outputs[@]}")" = "$before" ] || fail "the second ml1m.slurm rewrote outputs"

# ---- 3. distill.slurm: signal, checkpoint, requeue, resume ------------------
gen_dataset d 1500 600 30
opts=(BUDGET=100 STEPS=400 SAMPLES=20 CHECKPOINT_EVERY=0)
dist_args="--log-every 10 --no-ease --patience 1000"
id=$(sbatch --parsable "${small[@]}" --output="$WORK/distill-%j.out" \
  "--export=ALL,DATASET=$WORK/d.h5,WORK=$WORK/ds,RANKS=2,$(IFS=,; echo "${opts[*]}"),DISTILL_ARGS=$dist_args" \
  "$SRC/jobs/distill.slurm")
# Signal once Distill-CF is past step 50.
log=$WORK/ds/infae-distill-$id.out
for _ in $(seq 300); do
  grep -qE "step +([5-9][0-9]|[1-9][0-9][0-9])/400" "$log" 2> /dev/null && break
  sleep 0.5
done
grep -qE "step +([5-9][0-9]|[1-9][0-9][0-9])/400" "$log" || {
  cat "$WORK/distill-$id.out" "$log"; fail "distill.slurm did not reach step 50"; }
scancel --batch --signal=USR1 "$id"
# Requeued, the job passes through a terminal state and back to PENDING, where
# Slurm holds it for about 2 minutes while the old run is cleaned up (releasing
# it earlier lets that clean-up abort the new run's step).
requeued=0
for _ in $(seq 240); do
  r=$(scontrol show job "$id" | sed -n 's/.*Restarts=\([0-9]*\).*/\1/p')
  if [ "${r:-0}" -ge 1 ] && [ "$(job_state "$id")" = PENDING ]; then requeued=1; break; fi
  sleep 0.5
done
[ "$requeued" -eq 1 ] || { cat "$log"; fail "distill.slurm was not requeued"; }
state=$(wait_job "$id" 400)
cat "$WORK/distill-$id.out"
log=$(job_log "$id" "$WORK/ds" infae-distill "$WORK/distill-$id.out")
cat "$log"
[ "$state" = COMPLETED ] || fail "distill.slurm ended $state"
restarts=$(scontrol show job "$id" | sed -n 's/.*Restarts=\([0-9]*\).*/\1/p')
[ "$restarts" -ge 1 ] || fail "distill.slurm was not requeued (Restarts=$restarts)"
grep -q "requeueing job $id" "$log" || fail "no requeue in the log"
grep -q "resuming from" "$log" || fail "the requeued run did not resume"
# The same run without interruption.
# shellcheck disable=SC2086
run_mpi 2 distill --data "$WORK/d.h5" --out "$WORK/straight.h5" --budget 100 --steps 400 \
  --samples 20 --checkpoint-every 0 $dist_args --quiet
"$PYTHON" - "$WORK/ds/summary_distill_100.h5" "$WORK/straight.h5" <<'PY'
import sys
import h5py, numpy as np
with h5py.File(sys.argv[1], "r") as a, h5py.File(sys.argv[2], "r") as b:
    for k in ("S", "logits", "curve/step", "curve/loss", "curve/val_HR@100", "binary/indices"):
        assert np.array_equal(a[k][...], b[k][...]), k
    for k in ("steps_done", "best_step", "best_lambda"):
        assert a["hyper"].attrs[k] == b["hyper"].attrs[k], k
    print("requeued summary = uninterrupted summary (S, logits, curve), best step %d, %d steps"
          % (a["hyper"].attrs["best_step"], a["hyper"].attrs["steps_done"]))
PY
