# shellcheck shell=bash
# Shared by the jobs in jobs/ (sourced, not run). It locates infae_mpi,
# launches steps on the job's ranks and turns a checkpoint signal into a
# requeue:
#   infae_ranks N ARGS...   infae_mpi ARGS on N ranks (srun, or mpirun)
#   infae_one ARGS...       infae_mpi ARGS on one rank (prepare, plan)
#   infae_expect FILE WHAT  fail the job unless step WHAT wrote FILE
#   infae_work              make WORK and send the job's output to a log there
#   infae_skip WHAT FILE... true (and says so) when every FILE of step WHAT
#                           exists: a resubmitted or requeued job skips it
#   infae_checkpointed N ARGS...
#       like infae_ranks, but SIGUSR1/SIGTERM to the batch shell (from
#       `#SBATCH --signal=B:USR1@SECONDS`, `scancel --batch --signal=USR1`,
#       preemption or `scontrol requeue`) is passed on to the ranks, which
#       write their checkpoint and exit with status 3; the job then requeues
#       itself and its next run resumes.
# Settings (environment): INFAE (the binary; default build/src/infae_mpi of
# the checkout the job was submitted from), LAUNCHER (srun | mpirun; default
# srun), SRUN_MPI (srun's --mpi plugin; default pmix), MPIRUN_ARGS.

INFAE_HOME=${INFAE_HOME:-${SLURM_SUBMIT_DIR:-$(pwd)}}
INFAE=${INFAE:-$INFAE_HOME/build/src/infae_mpi}
LAUNCHER=${LAUNCHER:-srun}
SRUN_MPI=${SRUN_MPI:-pmix}
MPIRUN_ARGS=${MPIRUN_ARGS:-}
# One BLAS thread per core of the rank (set --cpus-per-task for threads).
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-${SLURM_CPUS_PER_TASK:-1}}
export OMP_NUM_THREADS=$OPENBLAS_NUM_THREADS

infae_log() { echo "[job $(date '+%F %T')] $*"; }

# Outside a checkpointed step, the time-limit signal must not end the job
# early: prepare and train keep no checkpoint and run on to the limit.
infae_no_checkpoint() { infae_log "SIGUSR1: this step keeps no checkpoint; it runs on"; }
trap infae_no_checkpoint USR1

infae_check() {
  [ -x "$INFAE" ] || { echo "error: $INFAE is not an executable (build first, or set INFAE)" >&2; exit 2; }
  case "$LAUNCHER" in srun|mpirun) ;; *) echo "error: LAUNCHER must be srun or mpirun (got '$LAUNCHER')" >&2; exit 2 ;; esac
  infae_log "job ${SLURM_JOB_ID:-none} (restart ${SLURM_RESTART_COUNT:-0}) on ${SLURM_JOB_NODELIST:-$(hostname)}: $("$INFAE" --version | head -n1)"
}

# The launch command for N ranks, in the array `launch`.
infae_command() { # N
  if [ "$LAUNCHER" = srun ]; then
    launch=(srun --mpi="$SRUN_MPI" --ntasks="$1" --kill-on-bad-exit=1 "$INFAE")
  else
    # shellcheck disable=SC2206
    launch=(mpirun $MPIRUN_ARGS -n "$1" "$INFAE")
  fi
}

# The #SBATCH --output lines cannot name WORK (sbatch expands no variables
# there, and Slurm makes no folders): Slurm's output file is named relative
# to the submit directory. So in a batch job whose output file is not under
# WORK, everything from here on is appended to WORK/<job name>-<job id>.out
# (one log across requeues, like --open-mode=append), and Slurm's file keeps
# a pointer to it, the lines before it and Slurm's own messages.
infae_work() {
  mkdir -p "$WORK" || exit 2
  [ -n "${SLURM_JOB_ID:-}" ] || return 0
  local out dir log
  out=$(readlink -f "/proc/$$/fd/1" 2> /dev/null) || return 0
  dir=$(cd "$WORK" && pwd -P)
  [ -f "$out" ] || return 0 # a terminal or a pipe: leave it
  case "$out" in "$dir"/*) return 0 ;; esac
  log=$dir/${SLURM_JOB_NAME:-infae}-$SLURM_JOB_ID.out
  infae_log "log: $log"
  exec >> "$log" 2>&1
}

# Steps whose outputs exist are skipped (they are written under a temporary
# name and renamed when complete, so a file that exists is whole). To redo a
# step, delete its outputs.
infae_skip() { # WHAT FILE...
  local what=$1 f
  shift
  for f in "$@"; do [ -s "$f" ] || return 1; done
  infae_log "skip $what: done ($*)"
}

# Fails the job when a step said it succeeded but left no output.
infae_expect() { # FILE WHAT
  [ -s "$1" ] || { echo "error: $2 ended without writing $1" >&2; exit 1; }
}

infae_ranks() { # N ARGS...
  local launch
  infae_command "$1"
  shift
  "${launch[@]}" "$@"
}
infae_one() { infae_ranks 1 "$@"; }

infae_checkpointed() { # N ARGS...
  local pid rc launch
  infae_command "$1"
  shift
  "${launch[@]}" "$@" & # the launcher itself, not a subshell, is $pid
  pid=$!
  # USR1 reaches srun and mpirun, which pass it on to every rank.
  trap 'infae_log "signal: asking the ranks to checkpoint"; kill -USR1 $pid 2> /dev/null' USR1 TERM
  while :; do
    rc=0
    wait "$pid" || rc=$?
    [ "$rc" -gt 128 ] || break
    # wait returns above 128 when a trapped signal interrupts it: wait again
    # while the step runs, or collect its status if it has just ended.
    kill -0 "$pid" 2> /dev/null && continue
    local again=0
    wait "$pid" 2> /dev/null || again=$?
    [ "$again" -eq 127 ] || rc=$again
    break
  done
  trap - TERM
  trap infae_no_checkpoint USR1
  if [ "$rc" -eq 3 ]; then
    trap '' USR1 TERM # the requeue signals the job's processes: let this shell finish
    infae_log "checkpoint written; requeueing job ${SLURM_JOB_ID:-} to resume"
    if [ -n "${SLURM_JOB_ID:-}" ] && scontrol requeue "$SLURM_JOB_ID"; then exit 0; fi
    infae_log "not requeued: resubmit the job to resume"
    exit 3
  fi
  return "$rc"
}
