#!/usr/bin/env bash
# The GPU device check (one command, under 9 minutes on one H200). It measures, in this order:
#   1. PyTorch eager: ResNeXt-50 (32x4d) at 224px, AMP bf16, channels-last, SGD + Nesterov, on
#      uint8 batches already on the GPU (tests/gpu/torch_reference.py): needs only torch;
#   2. the build of nxt against the machine's CUDA PyTorch (CMAKE_PREFIX_PATH = torch's CMake
#      folder; CMake finds the nvidia-nccl wheel next to it by itself, cmake/NxtNccl.cmake);
#   3. the MPI/NCCL test suite (nxt_mpi_tests) with 1 rank (NCCL refuses two ranks on a GPU):
#      it shows that NCCL starts on the GPU and its calls complete, NOT that its sums, broadcasts
#      and reduced gradients are right across ranks (identities on one rank: those tests skip,
#      "needs >= 2 ranks"; they need a machine with 2 GPUs), and the table says so;
#   4. nxt_ddp training the same model and batch on a generated packed dataset
#      (tests/gpu/make_packed.py), for a fixed number of steps; then the ratio nxt / PyTorch;
#   6. with the time left, nxt_tests' HostSyncs: training steps under CUDA sync debug = error.
# Each table row is appended to $OUT/check.txt the moment it is measured, so a run cut short
# (the device tool's timeout, SIGKILL included) still brings back every figure taken so far.
# Each phase runs under the time left before one deadline (NXT_CHECK_BUDGET_S, 520 s from the
# start, under the run call's 540) and its own cap; a failed phase skips only the phases that
# need it (no build: no MPI tests and no nxt_ddp; the reference and the versions stay).
#
#   tests/gpu/pack_sysroot.sh        # here, once: MPI/HDF5/yaml-cpp/OpenCV/GTest/TurboJPEG/
#                                    # protobuf (protoc)/Boost.CRC's headers for the device
#   run(command="bash tests/gpu/check.sh", carry=[".gpu_deps"], timeout_s=540)
#
# Rehearsal on a CPU machine (plumbing only, not figures):
#   NXT_CHECK_DEVICE=cpu NXT_CHECK_PYTHON=/usr/bin/python3 NXT_CHECK_BATCH=4 NXT_CHECK_STEPS=4 \
#     NXT_CHECK_SIZE=64 bash tests/gpu/check.sh
# Knobs: NXT_CHECK_BATCH (128), NXT_CHECK_STEPS (64 timed steps), NXT_CHECK_SIZE (224),
# NXT_CHECK_DEVICE (cuda; cpu rehearses), NXT_CHECK_PYTHON (python3), NXT_CHECK_JOBS (build
# jobs, default nproc), NXT_CHECK_BUILD (build folder, default build-gpu; the sysroot, the
# dataset and the runs are kept in it, so a second run reuses them), NXT_CHECK_BUDGET_S (520),
# NXT_CHECK_BUILD_CAP_S (330: the build phase's own cap).
# Output: $OUT (or /tmp/nxt_gpu_check): check.txt (versions, progress and the table as it
# grows; the previous run's is kept as check.prev.txt), rows.txt (the table alone), logs.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
export out=${OUT:-/tmp/nxt_gpu_check}
export device=${NXT_CHECK_DEVICE:-cuda} py=${NXT_CHECK_PYTHON:-python3}
export batch=${NXT_CHECK_BATCH:-128} steps=${NXT_CHECK_STEPS:-64} size=${NXT_CHECK_SIZE:-224}
export jobs=${NXT_CHECK_JOBS:-$(nproc)}
export build=${NXT_CHECK_BUILD:-$repo/build-gpu}
export work=$build/_check  # dataset, config, runs: in the build folder, kept between runs
started=$(date +%s)
export started
budget=${NXT_CHECK_BUDGET_S:-520}
deadline=$((started + budget))
mkdir -p "$out" "$work"
[[ -f "$out/check.txt" ]] && mv "$out/check.txt" "$out/check.prev.txt"
: >"$out/check.txt"
: >"$out/rows.txt"

say() { echo "[check +$(($(date +%s) - started))s] $*" | tee -a "$out/check.txt"; }
row() {  # appended now: survives whatever happens later
  local line
  line=$(printf '%-44s %s' "$1" "$2")
  echo "$line" | tee -a "$out/check.txt" "$out/rows.txt"
}
export -f say row

finish() {
  local rc=$?
  {
    echo
    echo "nxt GPU check, $(date -Is), device $device, $(($(date +%s) - started)) s (exit $rc)"
    cat "$out/rows.txt"
  } | tee -a "$out/check.txt"
}
trap finish EXIT

# phase NAME CAP_S FUNCTION: runs FUNCTION (exported, in its own bash with -euo pipefail) under
# min(CAP_S, time left before the deadline); records PASS/FAIL/TIMEOUT in phases.txt.
: >"$work/phases.txt"
phase() {
  local name=$1 cap=$2 fn=$3 left limit rc=0 t0
  left=$((deadline - $(date +%s)))
  limit=$((cap < left ? cap : left))
  if ((limit < 5)); then
    say "$name: skipped, no time left before the deadline"
    row "$name" "SKIPPED (deadline)"
    echo "$name skipped" >>"$work/phases.txt"
    return 1
  fi
  say "$name (limit ${limit} s)"
  t0=$(date +%s)
  timeout -k 5 "$limit" bash -euo pipefail -c "$fn" || rc=$?
  if ((rc == 124 || rc == 137)); then
    row "$name" "TIMEOUT after $(($(date +%s) - t0)) s"
  elif ((rc != 0)); then
    say "$name: failed (exit $rc)"
  fi
  echo "$name $rc" >>"$work/phases.txt"
  return $rc
}

# --- 0. versions --------------------------------------------------------------------------------
say "nxt GPU check: device $device, batch $batch, $steps steps, ${size}px, deadline ${budget} s"
{
  echo "--- nvcc --version"; nvcc --version 2>&1 || /usr/local/cuda/bin/nvcc --version 2>&1 || echo "(no nvcc)"
  echo "--- ldd --version"; ldd --version 2>&1 | head -1 || true
  echo "--- nvidia-smi"
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 || true
  else
    echo "(no nvidia-smi)"
  fi
} | tee -a "$out/check.txt" || true
torch_version=$("$py" -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda,
  "cudnn", torch.backends.cudnn.version(),
  "nccl", ".".join(map(str, torch.cuda.nccl.version())) if torch.cuda.is_available() else "-")' 2>&1) ||
  torch_version="FAILED: $torch_version"
row "torch" "$torch_version"
row "nvcc" "$( (nvcc --version 2>/dev/null || /usr/local/cuda/bin/nvcc --version 2>/dev/null) | grep -o 'release [0-9.]*' || echo none)"
row "glibc (ldd)" "$(ldd --version 2>&1 | head -1 | grep -oE '[0-9]+\.[0-9]+$' || echo '?')"

# --- 1. PyTorch eager reference (first: it needs nothing of nxt) ---------------------------------
phase_reference() {
  "$py" tests/gpu/torch_reference.py --batch "$batch" --steps "$steps" --warmup 10 --size "$size" \
    --device "$device" 2>"$out/torch_reference.log" | tail -1 >"$work/reference.json"
  "$py" - "$work/reference.json" <<'PY' >"$work/reference.rows"
import json, sys
r = json.load(open(sys.argv[1]))
print("%.1f" % r["images_per_s"]); print("%.2f GiB allocated" % r["peak_allocated_gib"])
PY
  row "PyTorch eager images/s (AMP bf16, CL)" "$(sed -n 1p "$work/reference.rows")"
  row "PyTorch eager peak memory" "$(sed -n 2p "$work/reference.rows")"
}
export -f phase_reference
rm -f "$work/reference.rows"
phase "PyTorch eager reference" 200 phase_reference ||
  { tail -20 "$out/torch_reference.log" 2>/dev/null; row "PyTorch eager" "FAILED (torch_reference.log)"; }

# --- 2. build ------------------------------------------------------------------------------------
phase_build() {
  local torch_prefix sysroot L stamp
  # As launch/build.sh does: torch's CMake folder and its prefix (torch/lib before system folders).
  torch_prefix=$("$py" -c 'import os, torch; print(torch.utils.cmake_prefix_path + ";" + os.path.dirname(torch.__file__))')
  local deps=(-DCMAKE_PREFIX_PATH="$torch_prefix")
  if [[ -f .gpu_deps/sysroot.tar.xz ]]; then
    sysroot=$build/_sysroot  # a fixed path: CMake's cache remembers it between runs
    stamp=$(stat -c '%s %Y' .gpu_deps/sysroot.tar.xz)
    if [[ "$(cat "$sysroot/.stamp" 2>/dev/null)" != "$stamp" ]]; then
      rm -rf "$sysroot" && mkdir -p "$sysroot" && tar -xJf .gpu_deps/sysroot.tar.xz -C "$sysroot"
      echo "$stamp" >"$sysroot/.stamp"
    fi
    L=$sysroot/usr/lib/x86_64-linux-gnu
    deps=(-DCMAKE_PREFIX_PATH="$torch_prefix;$sysroot/usr"
      -DMPI_SKIP_COMPILER_WRAPPER=ON -DMPI_C_HEADER_DIR="$L/openmpi/include" -DMPI_C_LIB_NAMES=mpi
      -DMPI_mpi_LIBRARY="$L/libmpi.so" -DHDF5_ROOT="$L/hdf5/serial"
      -Dyaml-cpp_DIR="$L/cmake/yaml-cpp" -DGTest_DIR="$L/cmake/GTest"
      -DTURBOJPEG_INCLUDE_DIR="$sysroot/usr/include" -DTURBOJPEG_LIBRARY="$L/libturbojpeg.so"
      -DNXT_BOOST_CRC_INCLUDE_DIR="$sysroot/usr/include"
      # protoc, headers and libraries of one protobuf (Debian's 3.21), never torch's or the
      # machine's; usr/bin/protoc runs protoc.bin with the sysroot's libprotoc/libprotobuf.
      -DProtobuf_INCLUDE_DIR="$sysroot/usr/include" -DProtobuf_LIBRARY="$L/libprotobuf.so"
      -DProtobuf_LITE_LIBRARY="$L/libprotobuf-lite.so" -DProtobuf_PROTOC_EXECUTABLE="$sysroot/usr/bin/protoc"
      -DCMAKE_CXX_FLAGS="-isystem $sysroot/usr/include -isystem $sysroot/usr/include/x86_64-linux-gnu/opencv4")
    say "dependencies: carried sysroot ($(du -sh "$sysroot" | cut -f1))"
  else
    say "dependencies: the machine's own (no .gpu_deps/sysroot.tar.xz)"
  fi
  export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0}
  if ! cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DNXT_WITH_IMAGE_CODECS=OFF \
    -DNXT_USE_CCACHE=OFF -DNXT_REQUIRE_NCCL=ON "${deps[@]}" >"$out/configure.log" 2>&1; then
    tail -40 "$out/configure.log"
    row "build" "FAILED at configure (configure.log)"
    return 1
  fi
  grep -E '^-- +(LibTorch|MPI|HDF5|OpenCV|protobuf|NCCL|CUDA|runtime) +:' "$out/configure.log" | tee -a "$out/check.txt" || true
  row "NCCL (configure)" "$(sed -nE 's/^-- +NCCL +: //p' "$out/configure.log")"
  say "building nxt_ddp nxt_eval nxt_mpi_tests with $jobs jobs"
  local t0
  t0=$(date +%s)
  if ! cmake --build "$build" -j "$jobs" --target nxt_ddp nxt_eval nxt_mpi_tests >"$out/build.log" 2>&1; then
    grep -m5 -B2 -A8 'error' "$out/build.log" || tail -20 "$out/build.log"
    row "build" "FAILED (build.log)"
    return 1
  fi
  row "build" "ok ($(($(date +%s) - t0)) s)"
}
export -f phase_build
built=0
phase "build" "${NXT_CHECK_BUILD_CAP_S:-330}" phase_build && built=1

# Environment of the programs: the carried sysroot's libraries and relocated Open MPI.
if [[ -f "$build/_sysroot/.stamp" ]]; then
  L=$build/_sysroot/usr/lib/x86_64-linux-gnu
  export LD_LIBRARY_PATH="$L:$L/openblas-openmp:$L/openmpi/lib:${LD_LIBRARY_PATH:-}"
  export PATH="$build/_sysroot/usr/bin:$PATH" OPAL_PREFIX="$build/_sysroot/usr" PMIX_INSTALL_PREFIX="$L/pmix2"
fi
mpirun_args="-np 1 --bind-to none"
[[ $(id -u) -eq 0 ]] && mpirun_args+=" --allow-run-as-root"
export mpirun_args bin=$build/bin

# --- 3. the MPI/NCCL suite with 1 rank (start-up and completion only: see the header) -----------
phase_mpi_tests() {
  local rc=0
  # shellcheck disable=SC2086
  mpirun $mpirun_args "$bin/nxt_mpi_tests" --gtest_color=no >"$out/mpi_tests.log" 2>&1 || rc=$?
  local plain
  plain=$(sed 's/\x1b\[[0-9;]*m//g' "$out/mpi_tests.log")
  if ((rc == 0)); then
    row "nxt_mpi_tests (1 rank)" "$(grep -m1 -E '^\[  PASSED  \]' <<<"$plain")"
  else
    tail -30 "$out/mpi_tests.log"
    row "nxt_mpi_tests (1 rank)" "FAILED (exit $rc, mpi_tests.log)"
  fi
  nccl_result() { grep -m1 -oE "^\[ +(OK|SKIPPED|FAILED) +\] Nccl\.$1" <<<"$plain" | tr -s ' ' || echo 'not run'; }
  row "NCCL starts, calls complete (1 GPU)" "$(nccl_result StartsOnTheGpuAndItsCollectivesComplete)"
  row "NCCL results across ranks" "NOT SHOWN by a one-GPU machine (needs 2 GPUs): $(nccl_result SumsBroadcastsAndReducedGradientsAgreeAcrossRanks)"
  grep -E '^\[  (SKIPPED|FAILED) ' <<<"$plain" | sort -u | head -12 | tee -a "$out/check.txt" || true
  return $rc
}
export -f phase_mpi_tests
if ((built)); then
  phase "MPI/NCCL tests, 1 rank" 150 phase_mpi_tests || true
else
  row "nxt_mpi_tests (1 rank)" "SKIPPED (no build)"
fi

# --- 4. nxt_ddp: ResNeXt-50, bf16, channels-last, fixed steps ------------------------------------
export steps_per_epoch=16
export epochs=$((1 + (steps + steps_per_epoch - 1) / steps_per_epoch))  # the first epoch warms up
phase_nxt_ddp() {
  local data=$work/synth-b$batch-s$size.h5
  if [[ ! -f "$data" ]]; then
    "$py" tests/gpu/make_packed.py "$data" --train $((batch * steps_per_epoch)) --val "$batch" \
      --size "$size" | tee -a "$out/check.txt"
  fi
  cat >"$work/gpu.yaml" <<YAML
run: {name: gpu, out_dir: $work/runs, device: $device}
data: {path: $data, batch_size: $batch, image_size: $size, normalize: imagenet,
       hflip: true, crop: none, loader_threads: 8, prefetch: 6}
model: {arch: resnext50_32x4d}
optim: {name: sgd, lr: 0.1, momentum: 0.9, nesterov: true, weight_decay: 5.0e-5}
train: {epochs: $epochs, amp: bf16, channels_last: true, cudnn_benchmark: true, log_every_seconds: 5}
eval: {mode: sharded}
dist: {backend: auto}
YAML
  rm -rf "$work/runs"
  say "nxt_ddp: $epochs epochs x $steps_per_epoch steps x batch $batch at ${size}px"
  # shellcheck disable=SC2086
  if ! mpirun $mpirun_args "$bin/nxt_ddp" --config "$work/gpu.yaml" >"$out/nxt_ddp.log" 2>&1; then
    tail -30 "$out/nxt_ddp.log"
    row "nxt_ddp" "FAILED (nxt_ddp.log)"
    return 1
  fi
  awk -F, 'NR > 2 { s += $8; n++ } END { if (n) printf "%.1f", s / n }' "$work/runs/gpu/metrics.csv" >"$work/nxt_ips"
  row "nxt_ddp images/s (epochs 2+, 1 rank)" "$(cat "$work/nxt_ips")"
  row "nxt_ddp peak memory (last epoch)" "$(grep -oE 'peak (GPU memory|RSS) [^;]*' "$out/nxt_ddp.log" | tail -1)"
  row "nxt_ddp time split (last epoch)" "$(grep -o 'forward+backward [^;]*' "$out/nxt_ddp.log" | tail -1)"
  cp "$work/runs/gpu/metrics.csv" "$out/nxt_metrics.csv"
}
export -f phase_nxt_ddp
rm -f "$work/nxt_ips"
if ((built)); then
  phase "nxt_ddp" 300 phase_nxt_ddp || true
else
  row "nxt_ddp" "SKIPPED (no build)"
fi

# --- 5. the ratio --------------------------------------------------------------------------------
if [[ -s "$work/nxt_ips" && -s "$work/reference.rows" ]]; then
  row "ratio nxt / PyTorch" "$(awk -v a="$(cat "$work/nxt_ips")" -v b="$(sed -n 1p "$work/reference.rows")" \
    'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }')"
fi

# --- 6. no hidden host syncs (last: it builds the unit tests, and only the time left runs it) ----
# HostSyncs.* of nxt_tests on the GPU: three training steps (side-stream batch copy, forward,
# backward, device-side clipping, SGD) under CUDA's sync debug mode set to error, and the
# scalar-read counts of a clipped optimizer step. (nxt_ddp itself cannot be put in that mode
# around its steps from outside: its metric reads and checkpoints sync on purpose.)
phase_host_syncs() {
  cmake --build "$build" -j "$jobs" --target nxt_tests >"$out/build_tests.log" 2>&1 ||
    { tail -20 "$out/build_tests.log"; row "host syncs (HostSyncs.*)" "FAILED to build (build_tests.log)"; return 1; }
  local rc=0
  "$bin/nxt_tests" --gtest_filter='GpuOnly.*:HostSyncs.AClipped*:GradClip.*' --gtest_color=no \
    >"$out/host_syncs.log" 2>&1 || rc=$?
  row "host syncs: CUDA steps, sync debug = error" \
    "$(grep -m1 -oE '^\[ +(OK|SKIPPED|FAILED) +\] GpuOnly\.[A-Za-z]*' "$out/host_syncs.log" | tr -s ' ' || echo 'not run')"
  row "host syncs (HostSyncs.*, GradClip.*)" "$(grep -m1 -E '^\[  (PASSED|FAILED) ' "$out/host_syncs.log" || echo "exit $rc")"
  return $rc
}
export -f phase_host_syncs
if ((built)); then
  phase "host syncs" 150 phase_host_syncs || true
else
  row "host syncs" "SKIPPED (no build)"
fi
say "done"
