#!/usr/bin/env bash
# A Distill-CF run stopped by a signal writes its checkpoint and exits with
# status 3; --resume finishes with the same summary, bit for bit, as a run
# that was never interrupted. Two deliveries: SIGTERM to every rank (what
# srun and Slurm's preemption do) and SIGUSR1 to mpirun, which forwards it
# (mpirun itself answers SIGTERM by killing the job).
source "$(dirname "$0")/common.sh"
gen_dataset g 300 200 25
args=(--data "$WORK/g.h5" --budget 15 --samples 6 --steps 600 --patience 600 --no-ease
      --log-every 1 --checkpoint-every 0)
run_mpi 2 distill "${args[@]}" --out "$WORK/full.h5" --quiet
for sig in TERM USR1; do
  out="$WORK/cut_$sig.h5"
  # shellcheck disable=SC2086
  "$MPIEXEC" -n 2 ${MPIEXEC_PREFLAGS:-} "$INFAE" distill "${args[@]}" --out "$out" \
    > "$WORK/log_$sig" 2>&1 &
  pid=$!
  for _ in $(seq 600); do  # until step 20 is logged
    grep -q "step   20/" "$WORK/log_$sig" && break
    sleep 0.1
  done
  if [ "$sig" = TERM ]; then pkill -TERM -P "$pid"; else kill -s USR1 "$pid"; fi
  rc=0
  wait "$pid" || rc=$?
  grep -E "signal|error" "$WORK/log_$sig" || tail -5 "$WORK/log_$sig"
  grep -q "checkpoint .* written at step" "$WORK/log_$sig" || fail "no checkpoint on SIG$sig"
  [ -e "$out.ckpt.h5" ] || fail "SIG$sig: checkpoint file missing"
  [ ! -e "$out" ] || fail "SIG$sig: a summary was written by the interrupted run"
  [ "$rc" -eq 3 ] || fail "SIG$sig: exit status $rc after an interruption, expected 3"
  run_mpi 2 distill "${args[@]}" --out "$out" --resume --quiet
  "$PYTHON" - "$WORK/full.h5" "$out" <<'PY'
import sys
import h5py
import numpy as np
a, b = (h5py.File(p, "r") for p in sys.argv[1:3])
for k in ("S", "logits", "curve/step", "curve/loss", "curve/val_HR@100", "curve/lambda",
          "metrics/infae/val"):
    assert np.array_equal(a[k][...], b[k][...]), k
assert dict(a["metrics/infae"].attrs) == dict(b["metrics/infae"].attrs)
print("OK: resumed summary identical to the uninterrupted one (%s)" % sys.argv[2])
PY
done
# A search on 2 groups of 1 rank, SIGTERM to every rank while both groups
# run: each writes its configuration's checkpoint, the search exits with 3,
# and the same command finishes both from there, bit for bit as uninterrupted.
sargs=(--data "$WORK/g.h5" --budget 15 --samples 6 --steps 600 --patience 600 --no-ease
       --log-every 1 --checkpoint-every 0 --search --taus 0.5,5 --c-cards 1e-3 --gammas 6
       --search-groups 2)
run_mpi 2 distill "${sargs[@]}" --out "$WORK/sfull.h5" --search-dir "$WORK/sfull" --quiet
# shellcheck disable=SC2086
"$MPIEXEC" -n 2 ${MPIEXEC_PREFLAGS:-} "$INFAE" distill "${sargs[@]}" --out "$WORK/scut.h5" \
  --search-dir "$WORK/scut" > "$WORK/log_search" 2>&1 &
pid=$!
for _ in $(seq 600); do
  grep -q "step   20/" "$WORK/log_search" && break
  sleep 0.1
done
pkill -TERM -P "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" -eq 3 ] || fail "search: exit status $rc after SIGTERM, expected 3: $(tail -5 "$WORK/log_search")"
for t in 0.5 5; do
  [ -e "$WORK/scut/tau${t}_card0.001_gamma6.h5.ckpt.h5" ] || fail "search: no checkpoint for τ $t"
  [ ! -e "$WORK/scut/tau${t}_card0.001_gamma6.h5" ] || fail "search: τ $t finished, not interrupted"
done
run_mpi 2 distill "${sargs[@]}" --out "$WORK/scut.h5" --search-dir "$WORK/scut" --quiet
"$PYTHON" - "$WORK/sfull" "$WORK/scut" <<'PY'
import sys
import h5py
import numpy as np
for t in ("0.5", "5"):
    a, b = (h5py.File("%s/tau%s_card0.001_gamma6.h5" % (d, t), "r") for d in sys.argv[1:3])
    for k in ("S", "logits", "curve/val_HR@100"):
        assert np.array_equal(a[k][...], b[k][...]), (t, k)
print("OK: the interrupted search on 2 groups resumed to the same summaries")
PY
