#!/usr/bin/env bash
# No data lost: an output that is an input or another output is refused
# before any work, compared by the file itself (a link or another spelling
# of the path is the same file); an output folder that is missing fails in
# the first second; a Distill-CF checkpoint path never destroys a file that
# is not its checkpoint; a signal leaves no temporary file behind, and one
# after Distill-CF's last step keeps the checkpoint (exit 3) from which
# --resume writes the summary of an uninterrupted run.
source "$(dirname "$0")/common.sh"
cd "$WORK"

run_mpi 1 generate --users 300 --items 1500 --mean-items 25 --seed 3 --output g.dat --quiet
run_mpi 1 prepare --format movielens --input g.dat --output d.h5 --quiet
ln -s d.h5 link.h5
sha() { sha256sum "$1" | cut -d' ' -f1; }
data_sha=$(sha d.h5)
intact() { [ "$(sha d.h5)" = "$data_sha" ] || fail "d.h5 was changed by: $*"; }

# ---- item 1: --checkpoint never deletes what is not this run's checkpoint ----
cp d.h5 copy.h5
copy_sha=$(sha copy.h5)
expect_error "--checkpoint copy.h5 exists and is not a Distill-CF checkpoint" \
  distill --data d.h5 --out out.h5 --checkpoint copy.h5 --budget 20 --steps 3 --samples 2 --no-ease
[ "$(sha copy.h5)" = "$copy_sha" ] || fail "--checkpoint destroyed copy.h5"
expect_error "--out s.h5 and --checkpoint s.h5 are the same file" \
  distill --data d.h5 --out s.h5 --checkpoint s.h5 --budget 20 --steps 3 --samples 2 --no-ease
expect_error "--out s.h5 and --checkpoint ./s.h5 are the same file" \
  distill --data d.h5 --out s.h5 --checkpoint ./s.h5 --budget 20 --steps 3 --samples 2 --no-ease
[ ! -e s.h5 ] || fail "s.h5 written"
interrupted_distill ck.h5 --data d.h5 --out s.h5 --budget 20 --samples 2 --no-ease
ck_sha=$(sha ck.h5)
expect_error "ck.h5 holds the checkpoint of an earlier run: add --resume" \
  distill --data d.h5 --out s.h5 --checkpoint ck.h5 --budget 20 --steps 3 --samples 2 --no-ease
[ "$(sha ck.h5)" = "$ck_sha" ] || fail "a checkpoint was replaced without --resume"
expect_error "--checkpoint d.h5 is the same file as the input --data d.h5" \
  distill --data d.h5 --out s.h5 --checkpoint d.h5 --budget 20 --steps 3 --samples 2 --no-ease
intact distill --checkpoint d.h5

# ---- item 2: an output that is an input or another output -------------------
expect_error "--output g.dat is the same file as the input --input g.dat" \
  prepare --format movielens --input g.dat --output g.dat
expect_error "--output ../${WORK##*/}/g.dat is the same file as the input --input g.dat" \
  prepare --format movielens --input g.dat --output "../${WORK##*/}/g.dat"
expect_error "--out d.h5 is the same file as the input --data link.h5" \
  train --data link.h5 --out d.h5
expect_error "--metrics-json link.h5 is the same file as the input --data d.h5" \
  train --data d.h5 --metrics-json link.h5
expect_error "--out m.h5 and --metrics-json m.h5 are the same file" \
  train --data d.h5 --out m.h5 --metrics-json m.h5
expect_error "--out d.h5 is the same file as the input --data d.h5" \
  distill --data d.h5 --out d.h5 --sampler random --budget 20 --no-ease
expect_error "--out s.h5 and --metrics-json s.h5 are the same file" \
  distill --data d.h5 --out s.h5 --metrics-json s.h5 --sampler random --budget 20 --no-ease
intact "the refused commands"
run_mpi 1 train --data d.h5 --lambdas 5 --out model.h5 --quiet
printf 'u1 %s\n' "$(awk -F:: 'NR==1 {print $2}' g.dat)" > users.tsv
model_sha=$(sha model.h5)
expect_error "--output model.h5 is the same file as the input --model model.h5" \
  recommend --model model.h5 --input users.tsv --output model.h5
expect_error "--output users.tsv is the same file as the input --input users.tsv" \
  recommend --model model.h5 --input users.tsv --output users.tsv
[ "$(sha model.h5)" = "$model_sha" ] || fail "recommend changed its model"

# ---- item 3: output folders are checked first ------------------------------
t0=$(date +%s.%N)
expect_error "--out /nonexistent-folder/m.h5: the folder /nonexistent-folder does not exist" \
  train --data d.h5 --out /nonexistent-folder/m.h5
expect_error "--metrics-json nodir/m.json: the folder nodir does not exist" \
  train --data d.h5 --metrics-json nodir/m.json
expect_error "--out nodir/s.h5: the folder nodir does not exist" \
  distill --data d.h5 --out nodir/s.h5 --budget 20 --steps 3 --samples 2 --no-ease
mkdir -p afolder
expect_error "--out afolder is a folder, not a file" train --data d.h5 --out afolder
t1=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 20) }' || fail "refusals took $t1 - $t0 s"

# ---- item 4: SIGTERM/SIGINT while writing leaves no OUT.tmp-<pid> ------------
# Waits for the temporary file, then signals the process; nothing may remain.
signal_while_writing() {
  local sig=$1 out=$2; shift 2
  "$INFAE" "$@" > sig.log 2>&1 &
  local pid=$! rc=0 seen=0
  for _ in $(seq 200000); do
    if compgen -G "$out.tmp-*" > /dev/null; then seen=1; kill -s "$sig" "$pid"; break; fi
    kill -0 "$pid" 2> /dev/null || break
  done
  wait "$pid" || rc=$?
  [ "$seen" -eq 1 ] || { echo "note: $out was written before a signal could be sent"; return; }
  [ "$rc" -ne 0 ] || fail "SIG$sig during the write of $out: exit 0"
  ! compgen -G "$out.tmp-*" > /dev/null || fail "SIG$sig left $(compgen -G "$out.tmp-*")"
  [ ! -e "$out" ] || fail "SIG$sig: $out written"
  writes=$((writes + 1))
}
writes=0
run_mpi 1 generate --users 60000 --items 3000 --mean-items 40 --seed 4 --output big.dat --quiet
for sig in TERM INT; do
  for try in 1 2 3; do
    signal_while_writing "$sig" "p_$sig$try.h5" prepare --format movielens --input big.dat \
      --output "p_$sig$try.h5" --quiet
  done
done
[ "$writes" -ge 2 ] || fail "prepare's write was never caught by a signal ($writes)"
writes=0
run_mpi 1 generate --users 2500 --items 4000 --mean-items 30 --seed 4 --output wide.dat --quiet
run_mpi 1 prepare --format movielens --input wide.dat --output wide.h5 --quiet
for sig in TERM INT; do
  signal_while_writing "$sig" "m_$sig.h5" train --data wide.h5 --lambdas 5 --out "m_$sig.h5" \
    --quiet
done
[ "$writes" -ge 1 ] || fail "train's write was never caught by a signal"

# ---- item 5: a signal after Distill-CF's last step --------------------------
args=(--data d.h5 --budget 20 --samples 2 --steps 3)
run_mpi 2 distill "${args[@]}" --out full.h5 --quiet
for sig in USR1 TERM; do
  out="late_$sig.h5"
  # shellcheck disable=SC2086
  "$MPIEXEC" -n 2 ${MPIEXEC_PREFLAGS:-} "$INFAE" distill "${args[@]}" --out "$out" \
    > "late_$sig.log" 2>&1 &
  pid=$!
  for _ in $(seq 3000); do
    grep -q "step    3/3" "late_$sig.log" && break
    sleep 0.01
  done
  # SIGUSR1 to mpirun (it forwards it), SIGTERM to every rank (as srun does).
  if [ "$sig" = USR1 ]; then kill -s USR1 "$pid"; else pkill -TERM -P "$pid"; fi
  rc=0
  wait "$pid" || rc=$?
  grep -q "signal received after the last step" "late_$sig.log" || {
    cat "late_$sig.log"; fail "SIG$sig after the last step: not caught (exit $rc)"; }
  [ "$rc" -eq 3 ] || fail "SIG$sig after the last step: exit $rc, expected 3"
  [ -e "$out.ckpt.h5" ] || fail "SIG$sig after the last step: no checkpoint"
  [ ! -e "$out" ] || fail "SIG$sig after the last step: summary written anyway"
  run_mpi 2 distill "${args[@]}" --out "$out" --resume --quiet
  [ ! -e "$out.ckpt.h5" ] || fail "the checkpoint outlived its summary"
  "$PYTHON" - full.h5 "$out" <<'PY'
import sys
import h5py
import numpy as np
a, b = (h5py.File(p, "r") for p in sys.argv[1:3])
for k in ("S", "logits", "curve/step", "curve/loss", "curve/val_HR@100", "metrics/infae/val"):
    assert np.array_equal(a[k][...], b[k][...]), k
assert dict(a["metrics/infae"].attrs) == dict(b["metrics/infae"].attrs)
assert dict(a["metrics/ease"].attrs) == dict(b["metrics/ease"].attrs)
PY
done
echo "data_safety: $cases refusals and every signal case passed"
