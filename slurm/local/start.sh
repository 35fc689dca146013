#!/usr/bin/env bash
# Starts a one-node Slurm cluster (munged, slurmctld, slurmd) on this machine
# with all its files under DIR, and waits until the node takes jobs.
#   slurm/local/start.sh DIR [CPUS]      then:  export SLURM_CONF=DIR/slurm.conf
# Needs the Debian packages slurm-wlm and munge (scripts/install-deps.sh),
# and root (slurmd starts jobs as their owner). Stop it with stop.sh DIR.
# Ports: SLURMCTLD_PORT (default 6817) and SLURMD_PORT (6818).
set -euo pipefail
dir=$(mkdir -p "${1:?usage: start.sh DIR [CPUS]}" && cd "$1" && pwd)
cpus=${2:-$(( $(nproc) > 4 ? $(nproc) : 4 ))}
here=$(cd "$(dirname "$0")" && pwd)
host=$(hostname -s)
mem=$(awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
for prog in munged slurmctld slurmd sinfo; do
  command -v "$prog" > /dev/null || PATH=$PATH:/usr/sbin
  command -v "$prog" > /dev/null || { echo "start.sh: $prog not found (scripts/install-deps.sh installs slurm-wlm and munge)" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "start.sh: slurmd must run as root" >&2; exit 1; }
mkdir -p "$dir"/{munge,state,spool,log}
chmod 700 "$dir/munge"
# munge: a fresh key for this cluster only.
if [ ! -s "$dir/munge/munge.key" ]; then
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$dir/munge/munge.key"
fi
munged --force --key-file "$dir/munge/munge.key" --socket "$dir/munge/munge.socket" \
  --pid-file "$dir/munge/munged.pid" --log-file "$dir/log/munged.log" \
  --seed-file "$dir/munge/munged.seed"
sed -e "s|@DIR@|$dir|g" -e "s|@HOST@|$host|g" -e "s|@CPUS@|$cpus|g" -e "s|@MEM@|$mem|g" \
  -e "s|@USER@|$(id -un)|g" -e "s|@CTLD_PORT@|${SLURMCTLD_PORT:-6817}|g" \
  -e "s|@SLURMD_PORT@|${SLURMD_PORT:-6818}|g" "$here/slurm.conf.in" > "$dir/slurm.conf"
export SLURM_CONF=$dir/slurm.conf
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
# Wait for the node to be idle (at most 60 s).
for _ in $(seq 60); do
  state=$(sinfo -h -N -o %t 2> /dev/null | head -n1 || true)
  case "$state" in
    idle*|mix*|alloc*) echo "local Slurm up: node $host ($cpus CPUs), SLURM_CONF=$SLURM_CONF"; exit 0 ;;
  esac
  sleep 1
done
echo "start.sh: the node did not come up; logs in $dir/log" >&2
tail -n 20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
exit 1
