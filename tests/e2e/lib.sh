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
train: {epochs: 4, log_every_seconds: 1}
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
