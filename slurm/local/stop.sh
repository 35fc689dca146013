#!/usr/bin/env bash
# Stops the cluster started by start.sh DIR (jobs, slurmd, slurmctld, munged).
set -uo pipefail
dir=${1:?usage: stop.sh DIR}
export SLURM_CONF=$dir/slurm.conf
[ -f "$SLURM_CONF" ] && scancel --full --quiet --user "$(id -un)" 2> /dev/null
for pid in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
  [ -s "$pid" ] || continue
  p=$(cat "$pid")
  kill "$p" 2> /dev/null || continue
  for _ in $(seq 20); do kill -0 "$p" 2> /dev/null || break; sleep 0.5; done
  kill -9 "$p" 2> /dev/null || true
done
exit 0
