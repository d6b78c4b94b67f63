# shellcheck shell=bash
# A one-host Slurm for tests (sourced): munge, slurmctld and slurmd on localhost, started
# directly (no systemd) with everything (config, state, sockets, logs) under one folder, and
# stopped by stop_local_slurm. Nothing under /etc is changed: SLURM_CONF points at our file.
# CPU binding is real (TaskPlugin=task/affinity: each task gets a CPU affinity mask), so tests
# see from inside a rank what CPUs a job step gives it. (task/affinity rather than task/cgroup:
# it needs no writable cgroup hierarchy, so it behaves the same in every container.)
#
#   start_local_slurm DIR [CPUS] [NODES]
#                                 # exports SLURM_CONF; waits until the nodes are idle. NODES > 1:
#                                 # that many Slurm nodes on this host (nxtnode1, nxtnode2, ...),
#                                 # one slurmd each (slurmd -N, its own port and spool), each
#                                 # declaring CPUS; their tasks all run here, with Slurm's view of
#                                 # nodes (a node can be taken down: scontrol update ... state=down)
#   stop_local_slurm              # stops the daemons it started
#   job_field ID FIELD            # a field of `scontrol show job ID` (JobState, Restarts, ...)
#   wait_for_job ID STATE SECONDS # polls until the job reaches STATE; fails (tests/e2e/lib.sh's
#                                 # fail, showing $work/*-ID.out) on another final state

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

# local_slurm_nodes_lines CPUS NODES PORT: NODES nodes of CPUS each on this host, slurmd ports
# from PORT on, every node its own address on lo (so each is told apart by Slurm).
local_slurm_nodes_lines() {
  local cpus=$1 nodes=$2 port=$3 n mem_mb
  mem_mb=$(awk -v n="$nodes" '/MemTotal/ { printf "%d", $2 / 1024 * 0.9 / n }' /proc/meminfo)
  for ((n = 1; n <= nodes; n++)); do
    echo "NodeName=nxtnode$n NodeHostname=nxtnode$n NodeAddr=127.0.0.$((n + 1)) Port=$((port + n - 1))" \
      "CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN"
  done
}

write_local_slurm_conf() {
  local dir=$1 ports=$2 cpus=$3 nodes=${4:-1} node_lines
  if ((nodes > 1)); then
    node_lines=$(local_slurm_nodes_lines "$cpus" "$nodes" $((ports + 1)))
  else
    node_lines=$(local_slurm_node_line "$cpus")
  fi
  cat >"$dir/slurm.conf" <<CONF
ClusterName=nxtlocal
SlurmctldHost=$(hostname -s)(127.0.0.1)
SlurmctldPort=$ports
$( ((nodes > 1)) || echo "SlurmdPort=$((ports + 1))")
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool-%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd-%n.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd-%n.log
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
$node_lines
PartitionName=local Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
}

start_local_slurm() {
  local dir=$1 cpus=${2:-$(nproc)} nodes=${3:-1} n
  for pkg in "${slurm_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
      { echo "local_slurm: package $pkg is not installed (launch/install_deps.sh installs it)"; return 1; }
  done
  mkdir -p "$dir/state" "$dir/munge"
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
  write_local_slurm_conf "$dir" "$port" "$cpus" "$nodes"
  export SLURM_CONF="$dir/slurm.conf"
  slurmctld -f "$SLURM_CONF" || { echo "local_slurm: slurmctld did not start"; cat "$dir/slurmctld.log"; return 1; }
  local names=("$(hostname -s)")
  ((nodes == 1)) || mapfile -t names < <(for ((n = 1; n <= nodes; n++)); do echo "nxtnode$n"; done)
  for n in "${names[@]}"; do
    mkdir -p "$dir/spool-$n"
    local by_name=() conf=$SLURM_CONF
    if ((nodes > 1)); then
      # Each slurmd its own copy of the config, beside its own mpi.conf: the PMIx plugin makes
      # a per-step folder (spmix_appdir_<uid>_<job>.<step>) that would collide between two
      # slurmd on one host.
      mkdir -p "$dir/conf-$n" "$dir/pmix-$n"
      conf=$dir/conf-$n/slurm.conf
      cp "$SLURM_CONF" "$conf"
      echo "PMIxCliTmpDirBase=$dir/pmix-$n" >"$dir/conf-$n/mpi.conf"
      by_name=(-N "$n")
    fi
    slurmd -f "$conf" "${by_name[@]}" ||
      { echo "local_slurm: slurmd of $n did not start"; cat "$dir/slurmd-$n.log"; return 1; }
  done
  for _ in $(seq 1 60); do
    if [[ $(sinfo -h -N -o '%t' 2>/dev/null | grep -cx 'idle') -eq $nodes ]]; then
      echo "local_slurm: ${names[*]} idle ($(sinfo -h -o '%D node(s), %c CPUs, %m MB each'))"
      return 0
    fi
    sleep 1
  done
  echo "local_slurm: the nodes did not become idle in 60 s"
  sinfo; tail -20 "$dir/slurmctld.log" "$dir"/slurmd-*.log
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
  for f in "$local_slurm_dir"/slurmd-*.pid "$local_slurm_dir/slurmctld.pid" \
    "$local_slurm_dir/munge/munged.pid"; do
    [[ -s "$f" ]] && pids+=("$(cat "$f")")
  done
  # Stop them and wait until they are gone (slurmctld saves its state on the way out).
  for f in "${pids[@]}"; do
    kill "$f" 2>/dev/null
    for _ in $(seq 1 40); do kill -0 "$f" 2>/dev/null || break; sleep 0.25; done
  done
  local_slurm_dir=""
}

job_field() { scontrol show job "$1" 2>/dev/null | grep -o "$2=[^ ]*" | head -1 | cut -d= -f2; }

# wait_for_job ID STATE SECONDS: polls until the job reaches STATE; fails on another final state.
wait_for_job() {
  local id=$1 want=$2 limit=$3 state i
  for ((i = 0; i < limit; i += 2)); do
    state=$(job_field "$id" JobState)
    [[ "$state" == "$want" ]] && return 0
    case "$state" in
      COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE)
        cat "$work"/*-"$id".out 2>/dev/null
        fail "job $id ended $state, expected $want" ;;
    esac
    sleep 2
  done
  scontrol show job "$id"; cat "$work"/*-"$id".out 2>/dev/null
  fail "job $id not $want after ${limit}s (state $state)"
}
