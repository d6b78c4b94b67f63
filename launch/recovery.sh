# shellcheck shell=bash
# The relaunch of a failed job step on the hosts that still answer (Note [In-memory snapshots]
# in src/checkpoint/snapshots.h; docs/cluster.md, "Lost nodes"), shared by launch/nxt_mpirun
# --restarts (a hostfile, outside Slurm) and cluster/train.sbatch (a Slurm allocation). The
# caller fills two arrays and defines two functions, then calls the loop:
#
#   nxt_hosts=(HOST...)      the hosts the step runs on, rank 0's first
#   nxt_spares=(HOST...)     idle hosts that take a lost host's place (NXT_SPARE_NODES), so the
#                            world size and the global batch stay the same
#   nxt_run_step             runs the job step on nxt_hosts; returns its exit status. The ranks
#                            see NXT_RESTART (0, 1, ...) and NXT_LOST_NODES (comma-separated),
#                            which their recovery report names.
#   nxt_host_answers HOST    0 when HOST answers within NXT_PROBE_TIMEOUT_S (default 20)
#   nxt_stop_requested=1     set by the caller's signal handler: a stop (preemption) was asked
#                            for, and a failed step is not started again
#   nxt_restart_loop MAX     runs the step, and after a failure (rank 0's status in
#                            $NXT_EXIT_STATUS_FILE neither 0 nor 75; without that file, which
#                            rank 0 writes on its own host, the launcher's 0 or 75 counts as
#                            rank 0's) probes every host at once,
#                            drops those that do not answer, swaps in spares, and runs it again,
#                            up to MAX times. Sets nxt_final_status (0, 75, or the failure's),
#                            nxt_rank0_status (rank 0's last status; empty: it left none) and
#                            nxt_step_code (the launcher's last exit status); returns 0 when
#                            the step ended with 0 or 75.
#
# A failure that is not a lost host (an error nxt names, a NaN loss) is run again too, on the
# same hosts: it costs one start-up per restart left, and its message repeats in the log.

# nxt_probe_hosts HOST...: prints the hosts that answer, in the given order (probed at once).
nxt_probe_hosts() {
  local host dir
  dir=$(mktemp -d)
  for host in "$@"; do
    ( nxt_host_answers "$host" >/dev/null 2>&1 && touch "$dir/$host" ) &
  done
  wait
  for host in "$@"; do
    if [[ -e "$dir/$host" ]]; then echo "$host"; fi
  done
  rm -rf "$dir"
}

nxt_restart_loop() {
  local max=$1 restart=0 code status host
  local -a answering lost
  export NXT_RESTART=0 NXT_LOST_NODES=""
  while true; do
    rm -f "$NXT_EXIT_STATUS_FILE"
    code=0
    nxt_run_step || code=$?  # (also under set -e)
    status=$(cat "$NXT_EXIT_STATUS_FILE" 2>/dev/null || true)
    if [[ -z "$status" && ( $code -eq 0 || $code -eq 75 ) ]]; then status=$code; fi
    nxt_rank0_status=$status nxt_step_code=$code
    echo "nxt: job step ended: exit $code, rank 0's status ${status:-none} ($(date -Is))"
    case $status in
      0 | 75) nxt_final_status=$status; return 0 ;;
    esac
    nxt_final_status=${status:-$(( code == 0 ? 1 : code ))}
    if (( restart >= max )); then
      echo "nxt: the job step failed and no restart is left (of $max)" >&2
      return 1
    fi
    if [[ "${nxt_stop_requested:-0}" == 1 ]]; then
      echo "nxt: the job step failed after a stop was asked for; not started again" >&2
      return 1
    fi
    mapfile -t answering < <(nxt_probe_hosts "${nxt_hosts[@]}")
    lost=()
    for host in "${nxt_hosts[@]}"; do
      [[ " ${answering[*]} " == *" $host "* ]] || lost+=("$host")
    done
    # Spares take the lost hosts' places, as many as answer.
    local needed=${#lost[@]}
    while (( needed > 0 && ${#nxt_spares[@]} > 0 )); do
      host=${nxt_spares[0]}
      nxt_spares=("${nxt_spares[@]:1}")
      if [[ -n $(nxt_probe_hosts "$host") ]]; then
        answering+=("$host")
        needed=$(( needed - 1 ))
        echo "nxt: spare host $host takes a lost host's place"
      else
        echo "nxt: spare host $host does not answer either; dropped" >&2
      fi
    done
    if (( ${#answering[@]} == 0 )); then
      echo "nxt: no host answers; the job cannot go on" >&2
      return 1
    fi
    nxt_hosts=("${answering[@]}")
    restart=$(( restart + 1 ))
    NXT_RESTART=$restart
    NXT_LOST_NODES=$(IFS=,; echo "${lost[*]}")
    echo "nxt: restart $restart of $max on ${#nxt_hosts[@]} host(s): ${nxt_hosts[*]};" \
      "lost: ${NXT_LOST_NODES:-none} ($(date -Is))"
  done
}
