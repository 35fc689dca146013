#!/usr/bin/env bash
# Benchmark (not a test): Distill-CF's searched summary on the ML-1M-sized
# generated set (ml1m_set.sh) at μ 500: `distill --search` over TAUS ×
# CARDS × GAMMAS (c_card matters at τ 2 and 3, where entries of S reach 1;
# at τ ≥ 5 it changes nothing), 1000 steps, patience 150,
# Recoder on each summary, the choice by validation SELECT; --device auto (a
# GPU per rank when the build has CUDA and sees one). Resumable: SIGUSR1 or
# SIGTERM to this script checkpoints the running configuration and stops it,
# and the same command goes on from there. Prints search.csv at the end.
#   tests/bench/distill_grid.sh BUILD WORK [SELECT] [TAUS] [GAMMAS] [RANKS] [CARDS]
# Defaults: HR@100, τ 2,3, γ 200,500,700, 1 rank, c_card 1e-3,10; INFAE: another infae_mpi
# (a bundle's) with BUILD empty.
set -euo pipefail
select=${3:-HR@100}
taus=${4:-2,3}
gammas=${5:-200,500,700}
ranks=${6:-1}
cards=${7:-1e-3,10}
source "$(dirname "$0")/ml1m_set.sh" "${1:-}" "${2:-}"
dir="grid_${select/@/}"
mpiexec --oversubscribe -n "$ranks" "$infae" distill --data ml1m.h5 --budget 500 --search \
  --taus "$taus" --c-cards "$cards" --gammas "$gammas" --steps 1000 --patience 150 --recoder \
  --select "$select" --out "$dir.h5" --search-dir "$dir" &
pid=$!
# mpirun forwards SIGUSR1 to the ranks (it answers SIGTERM by killing them).
trap 'kill -USR1 "$pid" 2> /dev/null' USR1 TERM
rc=0
wait "$pid" || rc=$?
if [ "$rc" -gt 128 ]; then # a signal ended the wait, not the run: wait for its checkpoint
  rc=0
  wait "$pid" || rc=$?
fi
[ ! -f "$dir/search.csv" ] || cat "$dir/search.csv"
exit "$rc"
