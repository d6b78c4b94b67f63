# shellcheck shell=bash
# A one-host Slurm for tests (sourced): munge, slurmctld and slurmd on localhost, started
# directly (no systemd) with everything (config, state, sockets, logs) under one folder, and
# stopped by stop_local_slurm. Nothing under /etc is changed: SLURM_CONF points at our file.
# CPU binding is real (TaskPlugin=task/affinity: each task gets a CPU affinity mask), so tests
# see from inside a rank what CPUs a job step gives it. (task/affinity rather than task/cgroup:
# it needs no writable cgroup hierarchy, so it behaves the same in every container.)
#
#   start_local_slurm DIR [CPUS]  # exports SLURM_CONF; waits until the node is idle
#   stop_local_slurm              # stops the daemons it started

slurm_packages=(slurm-wlm slurmctld slurmd slurm-client munge)

# The node's resources: this machine's memory and CPUs, or more CPUs than it has when asked
# (start_local_slurm DIR CPUS), so that a job can run more tasks than there are cores. Slurm
# then numbers CPUs past the machine's; a task bound only to those runs unbound.
local_slurm_node_line() {
  local cpus=$1 mem_mb
  mem_mb=$(awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
  local topology=""
  ((cpus > $(nproc))) && topology="CoresPerSocket=$cpus ThreadsPerCore=1 "
  echo "NodeName=$(hostname -s) NodeAddr=127.0.0.1 CPUs=$cpus ${topology}RealMemory=$mem_mb State=UNKNOWN"
}

write_local_slurm_conf() {
  local dir=$1 ports=$2 cpus=$3
  cat >"$dir/slurm.conf" <<CONF
ClusterName=nxtlocal
SlurmctldHost=$(hostname -s)(127.0.0.1)
SlurmctldPort=$ports
SlurmdPort=$((ports + 1))
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
MpiDefault=none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
JobRequeue=1
MinJobAge=600
KillWait=10
$( ((cpus > $(nproc))) && echo "SlurmdParameters=config_overrides")
$(local_slurm_node_line "$cpus")
PartitionName=local Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
}

start_local_slurm() {
  local dir=$1 cpus=${2:-$(nproc)}
  for pkg in "${slurm_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
      { echo "local_slurm: package $pkg is not installed (launch/install_deps.sh installs it)"; return 1; }
  done
  mkdir -p "$dir/state" "$dir/spool" "$dir/munge"
  chmod 700 "$dir/munge"
  # A fresh key for this cluster of one; munged insists on strict permissions.
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$dir/munge/munge.key"
  munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
    --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/seed" ||
    { echo "local_slurm: munged did not start"; cat "$dir/munge/munged.log"; return 1; }
  local_slurm_dir=$dir
  # Pick free ports (the default 6817/6818 may be taken by a system Slurm).
  local port=$((20000 + RANDOM % 20000))
  write_local_slurm_conf "$dir" "$port" "$cpus"
  export SLURM_CONF="$dir/slurm.conf"
  slurmctld -f "$SLURM_CONF" || { echo "local_slurm: slurmctld did not start"; cat "$dir/slurmctld.log"; return 1; }
  slurmd -f "$SLURM_CONF" || { echo "local_slurm: slurmd did not start"; cat "$dir/slurmd.log"; return 1; }
  for _ in $(seq 1 60); do
    if sinfo -h -o '%t' 2>/dev/null | grep -qx 'idle'; then
      echo "local_slurm: node $(hostname -s) idle ($(sinfo -h -o '%c CPUs, %m MB'))"
      return 0
    fi
    sleep 1
  done
  echo "local_slurm: the node did not become idle in 60 s"
  sinfo; tail -20 "$dir/slurmctld.log" "$dir/slurmd.log"
  return 1
}

stop_local_slurm() {
  [[ -n "${local_slurm_dir:-}" ]] || return 0
  local f jobs
  # Jobs a failed test left behind: cancel them while slurmd can still end their steps.
  mapfile -t jobs < <(squeue -h -o %i 2>/dev/null)
  if ((${#jobs[@]} > 0)); then
    scancel --full "${jobs[@]}" 2>/dev/null
    for _ in $(seq 1 20); do [[ -z "$(squeue -h -o %i 2>/dev/null)" ]] && break; sleep 0.5; done
  fi
  local pids=()
  for f in slurmd.pid slurmctld.pid munge/munged.pid; do
    [[ -s "$local_slurm_dir/$f" ]] && pids+=("$(cat "$local_slurm_dir/$f")")
  done
  # Stop them and wait until they are gone (slurmctld saves its state on the way out).
  for f in "${pids[@]}"; do
    kill "$f" 2>/dev/null
    for _ in $(seq 1 40); do kill -0 "$f" 2>/dev/null || break; sleep 0.25; done
  done
  local_slurm_dir=""
}
