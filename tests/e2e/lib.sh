# Shared helpers for the end-to-end scripts (sourced).
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
nxt_mpirun="$repo_root/launch/nxt_mpirun"
bin="${NXT_BIN:-$repo_root/build/bin}"

fail() { echo "FAIL: $*"; exit 1; }

# run_bounded SECONDS OUTFILE COMMAND...: runs COMMAND under a timeout, output to OUTFILE (and
# shown); sets $code (exit status) and $elapsed (seconds).
run_bounded() {
  local limit=$1 out=$2
  shift 2
  local start
  start=$(date +%s)
  timeout "$limit" "$@" >"$out" 2>&1
  code=$?
  elapsed=$(( $(date +%s) - start ))
  cat "$out"
}

# expect_clean_failure MAX_SECONDS: the last run_bounded failed, did not hang, and was quick.
expect_clean_failure() {
  [[ $code -ne 0 ]] || fail "the job exited 0"
  [[ $code -ne 124 ]] || fail "the job hung (killed by the timeout)"
  [[ $elapsed -le $1 ]] || fail "the job took ${elapsed}s (limit $1s)"
}

# make_tiny_dataset DIR [PER_CLASS]: 3 classes of easy 32px scenes packed into DIR/data.h5.
make_tiny_dataset() {
  local dir=$1 per_class=${2:-40}
  "$bin/nxt_make_demo_images" --output "$dir/images" --classes 3 --per-class "$per_class" \
    --size 32 --seed 3 --easy >/dev/null
  "$bin/nxt_pack_hdf5" --input "$dir/images" --output "$dir/data.h5" --size 32 \
    --val-fraction 0.25 --seed 3 --quiet >/dev/null 2>&1
}

# tiny_config DIR NAME: a config for a tiny ResNeXt on DIR/data.h5, run folder DIR/runs/NAME.
tiny_config() {
  cat >"$1/$2.yaml" <<YAML
run: {name: $2, out_dir: $1/runs, seed: 5}
data: {path: $1/data.h5, batch_size: 4, image_size: 32, normalize: dataset, crop: pad}
model: {arch: custom, blocks: [1, 1], cardinality: 4, width_per_group: 8, stem_width: 16, stem: cifar}
optim: {name: sgd, lr: 0.01, momentum: 0.9}
train: {epochs: 4, log_every_seconds: 1, snapshot_dir: $1/snapshots}
dist: {backend: mpi}
YAML
  echo "$1/$2.yaml"
}

# The Python of the interop side of the checks: NXT_PYTHON, else the project venv's (torch
# 2.15, launch/python_env.sh), else Debian's.
python=${NXT_PYTHON:-$(bash "$repo_root/launch/python_env.sh" --python)}
# py CODE...: runs CODE with that Python.
py() { "$python" -c "$@"; }

# expect_same_parameters A.pt B.pt: the two checkpoints' models are bitwise equal, or fail.
expect_same_parameters() {
  py "
import torch
a = torch.load('$1')['model']
b = torch.load('$2')['model']
assert a.keys() == b.keys()
bad = [k for k in a if not torch.equal(a[k], b[k])]
assert not bad, 'parameters differ: %s' % bad[:5]
print('identical parameters:', len(a), 'tensors')
" || fail "parameters differ after resume"
}

# Every script gets a scratch folder, removed on exit.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# wait_for SECONDS COMMAND...: polls COMMAND every 0.05 s until it succeeds (status 0) or
# SECONDS have passed (status 1).
wait_for() {
  local deadline=$(( $(date +%s) + $1 ))
  shift
  until "$@" >/dev/null 2>&1; do
    [[ $(date +%s) -lt $deadline ]] || return 1
    sleep 0.05
  done
}

# rank_pid RANK CONFIG: the pid of MPI rank RANK of the nxt_ddp job started with --config
# CONFIG, found by OMPI_COMM_WORLD_RANK in its environment: pids do not follow ranks, and the
# launcher (mpirun, and nxt_mpirun's per-rank wrapper before it execs) has the same command
# line, so neither the lowest pid nor the command line names a rank. Fails when there is none.
rank_pid() {
  local pid
  for pid in $(pgrep -f "nxt_ddp --config $2"); do
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == nxt_ddp ]] || continue
    if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$1"; then
      echo "$pid"
      return 0
    fi
  done
  return 1
}

# signal_rank SIGNAL RANK CONFIG: sends SIGNAL to that rank (rank_pid), or fails the test.
signal_rank() {
  local pid
  pid=$(rank_pid "$2" "$3") || fail "rank $2's process not found"
  kill -"$1" "$pid" || fail "could not send SIG$1 to rank $2 (pid $pid)"
  echo "SIG$1 to rank $2 (pid $pid)"
}

# expect_checkpointed_stop SIGNAL OUT RUN_DIR STATUS_FILE RANKS: the job whose exit status is
# $code and whose output is OUT was stopped by SIGNAL (e.g. SIGUSR2) and checkpointed: the
# launcher exited 75 (Open MPI's mpirun reports the first rank's non-zero exit), rank 0 wrote
# 75 to NXT_EXIT_STATUS_FILE STATUS_FILE, each of the RANKS ranks printed its stop line with
# exit status 75, and RUN_DIR/last.pt loads and holds the epoch and step that line names.
expect_checkpointed_stop() {
  local signal=$1 out=$2 run=$3 status_file=$4 ranks=$5 r where
  [[ $code -eq 75 ]] || fail "stopped by $signal: the launcher exited $code, not 75"
  [[ $(cat "$status_file" 2>/dev/null) == 75 ]] ||
    fail "stopped by $signal: rank 0's exit status file says '$(cat "$status_file" 2>/dev/null)', not 75"
  local line="stopped by $signal \(on at least one rank\) at epoch ([0-9]+) step ([0-9]+) .*\(exit status 75\)"
  for ((r = 0; r < ranks; r++)); do
    grep -qE "r$r\] $line" "$out" || fail "rank $r printed no '$signal ... (exit status 75)' stop line"
  done
  where=$(sed -nE "s/.*r0\] $line.*/\1 \2/p" "$out")
  py "
import torch
c = torch.load('$run/last.pt')
found = '%d %d' % (c['epoch'] + 1, c['step_in_epoch'])
assert found == '$where', 'last.pt holds epoch, step %s; the stop line says $where' % found
" || fail "last.pt is not the stop's checkpoint"
  echo "ok: stopped by $signal at epoch, step $where; every rank exited 75; last.pt holds it"
}

# stop_then_resume DIR CONFIG LIMIT ARGS...: a 2-rank run of CONFIG (run name "stopped", 12 steps
# per epoch) stopped with a checkpoint at step 17, mid-epoch 2, then resumed from it; fails
# unless the resume starts at epoch 2, step 5 and finishes. Logs: DIR/stop.out, DIR/resume.out.
stop_then_resume() {
  local dir=$1 config=$2 limit=$3
  shift 3
  NXT_STOP_AT_STEP=17 NXT_EXIT_STATUS_FILE="$dir/status" run_bounded "$limit" "$dir/stop.out" \
    "$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$config" "$@" >/dev/null
  expect_checkpointed_stop SIGUSR2 "$dir/stop.out" "$dir/runs/stopped" "$dir/status" 2
  run_bounded "$limit" "$dir/resume.out" "$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$config" \
    "$@" --resume auto >/dev/null
  [[ $code -eq 0 ]] || { cat "$dir/resume.out"; fail "the resumed run exited $code"; }
  grep -qE "resumed from .*last.pt: epoch 2, step 5" "$dir/resume.out" ||
    fail "did not resume at epoch 2, step 5"
}
