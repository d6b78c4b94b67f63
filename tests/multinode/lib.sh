# shellcheck shell=bash
# Shared harness for the simulated multi-node tests (sourced by tests/multinode/*.sh).
#
# One machine is made to look like several nodes to Open MPI: mpirun gets --host
# 127.0.0.2:P,127.0.0.3:P,... and starts the daemon of each "remote" host through our rsh agent
# (tests/multinode/fake_ssh), which runs it under `unshare --uts --mount` with its own host name
# (fakenode2, fakenode3, ...) and, optionally, its own private folder over a given path. So each
# fake node has its own local ranks (Open MPI's locality follows its daemons), no shared-memory
# path to the other nodes (only TCP over lo), its own host name, and, with private folders,
# files that the other nodes cannot see. Without root or a working unshare the tests FAIL with
# the reason; they never skip.
#
# Use:
#   source "$(dirname "$0")/lib.sh"       # also gives tests/e2e/lib.sh's helpers and $work
#   fake_launch NODES RANKS_PER_NODE [hostfile]  # fills the array $fake_mpirun (an mpirun
#                                         # command; --host, or --hostfile $work/hostfile)
#   run_bounded 120 "$work/out" "${fake_mpirun[@]}" "$bin/nxt_ddp" --config ...
#   check_nodes_launched NODES            # the agent started one daemon per fake node
# Private run folders: export NXT_FAKE_PRIVATE_DIR=PATH NXT_FAKE_PRIVATE_ROOT=ROOT before the
# launch (ROOT/fakenodeN is mounted over PATH on node N; see fake_ssh).
source "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"
multinode_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fake_ssh="$multinode_dir/fake_ssh"
node_prefix=fakenode
export NXT_FAKE_NODE_PREFIX=$node_prefix
export NXT_FAKE_SSH_LOG="$work/fake_ssh.log"
# Every process of this script's jobs (mpirun, the daemons, the ranks) inherits this marker, so
# the clean-up finds exactly them, even daemons that detached from mpirun.
export NXT_FAKE_JOB="$work"

# node_name N: the host name of the N-th fake node (1-based): fakenode2, fakenode3, ...
node_name() { echo "$node_prefix$(( $1 + 1 ))"; }

# job_pids: the processes that carry this script's marker (mpirun, daemons, ranks).
job_pids() {
  local environ pid
  for environ in /proc/[0-9]*/environ; do
    pid=${environ#/proc/}
    pid=${pid%/environ}
    [[ $pid != "$$" && $pid != "$BASHPID" ]] || continue
    { tr '\0' '\n' <"$environ"; } 2>/dev/null | grep -qxF "NXT_FAKE_JOB=$work" && echo "$pid"
  done
}

# Clean-up on exit: SIGTERM to what this script started (mpirun then takes its job down), SIGKILL
# after 3 s to anything left, by process id, then remove the scratch folder. Mounts made by
# fake_ssh live in the nodes' own mount namespaces and go away with their last process.
cleanup() {
  local pids
  pids=$(job_pids)
  if [[ -n "$pids" ]]; then
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null
    for _ in $(seq 30); do
      pids=$(job_pids)
      [[ -n "$pids" ]] || break
      sleep 0.1
    done
    # shellcheck disable=SC2086
    [[ -z "$pids" ]] || kill -KILL $pids 2>/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# require_fake_nodes: everything the harness needs, or FAIL with the reason.
require_fake_nodes() {
  [[ $(id -u) -eq 0 ]] || fail "the multi-node tests need root (unshare of UTS and mount namespaces)"
  command -v unshare >/dev/null || fail "unshare (util-linux) is missing"
  command -v mpirun >/dev/null || fail "mpirun (Open MPI) is missing"
  local err
  err=$(unshare --uts --mount --propagation private -- sh -c \
        "hostname ${node_prefix}-probe && mount -t tmpfs none '$work'" 2>&1) ||
    fail "unshare --uts --mount does not work here: $err"
  [[ -x "$bin/nxt_ddp" ]] || fail "no $bin/nxt_ddp (build first)"
}

# fake_launch NODES RANKS_PER_NODE: sets the array fake_mpirun to an mpirun command that starts
# NODES x RANKS_PER_NODE ranks (ranks 0..P-1 on the first node, and so on), every node through
# fake_ssh, TCP over lo between nodes, shared memory only within a node. Empties the agent log.
fake_launch() {
  local nodes=$1 per_node=$2 how=${3:-host} hosts="" n where
  for (( n = 1; n <= nodes; n++ )); do hosts+="${hosts:+,}127.0.0.$(( n + 1 )):$per_node"; done
  where=(--host "$hosts")
  if [[ $how == hostfile ]]; then  # as on a cluster without Slurm: one "HOST slots=N" line a node
    tr ',' '\n' <<<"$hosts" | sed 's/:\(.*\)/ slots=\1/' >"$work/hostfile"
    where=(--hostfile "$work/hostfile")
  fi
  : >"$NXT_FAKE_SSH_LOG"
  # shellcheck disable=SC2034,SC2054  # used by the scripts; the commas are mpirun's
  fake_mpirun=(mpirun --allow-run-as-root --oversubscribe --bind-to none
               -np $(( nodes * per_node )) "${where[@]}" --map-by slot
               --mca plm_rsh_agent "$fake_ssh" --mca plm_rsh_no_tree_spawn 1
               --mca oob_tcp_if_include lo --mca btl_tcp_if_include lo
               --mca btl self,vader,tcp)
}

# check_nodes_launched NODES: the last launch went through fake_ssh once per fake node (so
# mpirun did not take 127.0.0.x for the local machine and start ranks itself).
check_nodes_launched() {
  local n expected=$1 got
  got=$(grep -c "^fake_ssh: " "$NXT_FAKE_SSH_LOG" 2>/dev/null)
  [[ "$got" -eq "$expected" ]] ||
    fail "mpirun started $got daemon(s) through fake_ssh, expected $expected: $(cat "$NXT_FAKE_SSH_LOG" 2>/dev/null)"
  for (( n = 1; n <= expected; n++ )); do
    grep -q "node=$(node_name "$n") " "$NXT_FAKE_SSH_LOG" || fail "no daemon started on $(node_name "$n")"
  done
}

# host_of PID: the host name that process sees (its UTS namespace).
host_of() { nsenter -t "$1" -u hostname 2>/dev/null; }

# placement_lines FILE: the `placement:` lines of a run's output, from `placement:` on.
placement_lines() { grep -o "placement: .*" "$1"; }

# placement_field FILE RANK KEY: the value of KEY in rank RANK's placement line.
placement_field() {
  placement_lines "$1" | grep "^placement: rank=$2 " | head -1 | tr ' ' '\n' | sed -n "s/^$3=//p"
}

# max_rel_diff A.pt B.pt: prints the largest relative difference over all tensors of two
# checkpoints' models, and the tensor where it is: per tensor max|a-b| / max|a| (floating
# tensors; integer ones, e.g. BatchNorm's num_batches_tracked, must be equal).
max_rel_diff() {
  py "
import torch
a = torch.load('$1')['model']
b = torch.load('$2')['model']
assert a.keys() == b.keys(), 'different tensors: %s' % sorted(set(a) ^ set(b))
worst, where = 0.0, ''
for k in a:
    x, y = a[k], b[k]
    assert x.shape == y.shape, k
    if not x.is_floating_point():
        assert torch.equal(x, y), k
        continue
    if x.numel() == 0:
        continue
    d = ((x.double() - y.double()).abs().max() / x.double().abs().max().clamp_min(1e-30)).item()
    if d > worst:
        worst, where = d, k
print('%.3g %s' % (worst, where or '-'))
"
}
