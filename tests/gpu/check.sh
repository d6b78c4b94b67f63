#!/usr/bin/env bash
# The GPU device check (one command, < 8 minutes on one H200): builds nxt against the machine's
# CUDA PyTorch and NCCL, runs the MPI/NCCL test suite with 1 rank, trains ResNeXt-50 at 224px
# (bf16, channels-last) on a generated packed dataset for a fixed number of steps, runs the same
# model and batch in PyTorch eager (AMP bf16, channels-last), and prints both as a table.
#
#   tests/gpu/pack_sysroot.sh        # here, once: MPI/HDF5/yaml-cpp/OpenCV/GTest for the device
#   run(command="bash tests/gpu/check.sh", carry=[".gpu_deps"], timeout_s=540)
#
# Knobs: NXT_CHECK_BATCH (128), NXT_CHECK_STEPS (64 timed steps), NXT_CHECK_SIZE (224),
# NXT_CHECK_DEVICE (cuda; cpu rehearses the plumbing on a machine without a GPU),
# NXT_CHECK_PYTHON (python3), NXT_CHECK_JOBS (build jobs, default nproc).
# Everything it writes lands in $OUT (or /tmp/nxt_gpu_check): check.txt (the table), logs.
set -uo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
out=${OUT:-/tmp/nxt_gpu_check}
mkdir -p "$out"
work=$(mktemp -d)
device=${NXT_CHECK_DEVICE:-cuda}
py=${NXT_CHECK_PYTHON:-python3}
batch=${NXT_CHECK_BATCH:-128}
steps=${NXT_CHECK_STEPS:-64}
size=${NXT_CHECK_SIZE:-224}
jobs=${NXT_CHECK_JOBS:-$(nproc)}
build=${NXT_CHECK_BUILD:-$repo/build-gpu}
started=$(date +%s)
rows=()
say() { echo "[check +$(($(date +%s) - started))s] $*" | tee -a "$out/check.txt"; }
row() { rows+=("$(printf '%-44s %s' "$1" "$2")"); }
finish() {
  {
    echo
    echo "nxt GPU check, $(date -Is), device $device"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null
    printf '%s\n' "${rows[@]}"
  } | tee -a "$out/check.txt"
  rm -rf "$work"
}
trap finish EXIT

# --- 1. dependencies and build --------------------------------------------------------------
torch_prefix=$("$py" -c 'import torch; print(torch.utils.cmake_prefix_path)') ||
  { say "FAIL: $py has no torch"; exit 1; }
row "torch" "$("$py" -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda)')"
deps=(-DCMAKE_PREFIX_PATH="$torch_prefix")
if [[ -f .gpu_deps/sysroot.tar.xz ]]; then
  sysroot=$build/_sysroot  # a fixed path: CMake's cache remembers it between runs
  rm -rf "$sysroot" && mkdir -p "$sysroot" && tar -xJf .gpu_deps/sysroot.tar.xz -C "$sysroot"
  L=$sysroot/usr/lib/x86_64-linux-gnu
  export LD_LIBRARY_PATH="$L:$L/openblas-openmp:$L/openmpi/lib:${LD_LIBRARY_PATH:-}"
  export PATH="$sysroot/usr/bin:$PATH" OPAL_PREFIX="$sysroot/usr" PMIX_INSTALL_PREFIX="$L/pmix2"
  deps=(-DCMAKE_PREFIX_PATH="$torch_prefix;$sysroot/usr"
    -DMPI_SKIP_COMPILER_WRAPPER=ON -DMPI_C_HEADER_DIR="$L/openmpi/include" -DMPI_C_LIB_NAMES=mpi
    -DMPI_mpi_LIBRARY="$L/libmpi.so" -DHDF5_ROOT="$L/hdf5/serial"
    -Dyaml-cpp_DIR="$L/cmake/yaml-cpp" -DGTest_DIR="$L/cmake/GTest"
    -DCMAKE_CXX_FLAGS="-isystem $sysroot/usr/include -isystem $sysroot/usr/include/x86_64-linux-gnu/opencv4")
  say "dependencies: carried sysroot ($(du -sh "$sysroot" | cut -f1))"
else
  say "dependencies: the machine's own (no .gpu_deps/sysroot.tar.xz)"
fi
# NCCL from the nvidia-nccl wheel: CMake wants an unversioned libnccl.so.
nccl_dir=$("$py" -c 'import nvidia.nccl as n; print(list(n.__path__)[0])' 2>/dev/null || true)
if [[ -n "$nccl_dir" && -f "$nccl_dir/include/nccl.h" ]]; then
  mkdir -p "$work/nccl/lib"
  ln -s "$nccl_dir/include" "$work/nccl/include"
  ln -s "$(ls "$nccl_dir"/lib/libnccl.so* | head -1)" "$work/nccl/lib/libnccl.so"
  export NCCL_ROOT=$work/nccl LD_LIBRARY_PATH="$nccl_dir/lib:${LD_LIBRARY_PATH:-}"
fi
export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0}
say "configuring ($build)"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DNXT_WITH_IMAGE_CODECS=OFF \
  -DNXT_USE_CCACHE=OFF "${deps[@]}" >"$out/configure.log" 2>&1 ||
  { tail -40 "$out/configure.log"; row "build" "FAILED at configure (configure.log)"; exit 1; }
grep -E '^-- +(LibTorch|MPI|HDF5|OpenCV|NCCL|CUDA)' "$out/configure.log" | tee -a "$out/check.txt"
say "building nxt_ddp nxt_eval nxt_mpi_tests with $jobs jobs"
cmake --build "$build" -j "$jobs" --target nxt_ddp nxt_eval nxt_mpi_tests >"$out/build.log" 2>&1 ||
  { grep -m5 -B2 -A8 'error' "$out/build.log"; row "build" "FAILED (build.log)"; exit 1; }
row "build" "ok ($(($(date +%s) - started)) s)"
bin=$build/bin
mpirun=(mpirun -np 1 --bind-to none)
[[ $(id -u) -eq 0 ]] && mpirun+=(--allow-run-as-root)

# --- 2. the MPI/NCCL suite with 1 rank (NCCL refuses two ranks on one GPU) -------------------
say "MPI/NCCL tests, 1 rank"
if timeout 180 "${mpirun[@]}" "$bin/nxt_mpi_tests" --gtest_color=no >"$out/mpi_tests.log" 2>&1; then
  row "nxt_mpi_tests (1 rank, NCCL included)" "$(grep -m1 -E '^\[  PASSED  \]' "$out/mpi_tests.log")"
else
  tail -30 "$out/mpi_tests.log"
  row "nxt_mpi_tests (1 rank, NCCL included)" "FAILED (mpi_tests.log)"
fi
plain_tests=$(sed 's/\x1b\[[0-9;]*m//g' "$out/mpi_tests.log")
nccl=$(grep -m1 -E '^\[ +(OK|SKIPPED|FAILED) +\] Nccl\.' <<<"$plain_tests")
row "NCCL test on the GPU (1 rank)" "${nccl:-not run}"
grep -E '^\[  (SKIPPED|FAILED) ' <<<"$plain_tests" | sort -u | head -8 | tee -a "$out/check.txt"

# --- 3. nxt_ddp: ResNeXt-50, bf16, channels-last, fixed steps ----------------------------------
steps_per_epoch=16
epochs=$((1 + (steps + steps_per_epoch - 1) / steps_per_epoch))  # the first epoch warms up
"$py" tests/gpu/make_packed.py "$work/synth.h5" --train $((batch * steps_per_epoch)) --val "$batch" \
  --size "$size" >>"$out/check.txt" || { row "dataset" "FAILED"; exit 1; }
cat >"$work/gpu.yaml" <<YAML
run: {name: gpu, out_dir: $work/runs, device: $device}
data: {path: $work/synth.h5, batch_size: $batch, image_size: $size, normalize: imagenet,
       hflip: true, crop: none, loader_threads: 8, prefetch: 6}
model: {arch: resnext50_32x4d}
optim: {name: sgd, lr: 0.1, momentum: 0.9, nesterov: true, weight_decay: 5.0e-5}
train: {epochs: $epochs, amp: bf16, channels_last: true, cudnn_benchmark: true, log_every_seconds: 5}
eval: {mode: sharded}
dist: {backend: auto}
YAML
say "nxt_ddp: $epochs epochs x $steps_per_epoch steps x batch $batch at ${size}px"
if timeout 300 "${mpirun[@]}" "$bin/nxt_ddp" --config "$work/gpu.yaml" >"$out/nxt_ddp.log" 2>&1; then
  nxt_ips=$(awk -F, 'NR > 2 { s += $8; n++ } END { if (n) printf "%.1f", s / n }' "$work/runs/gpu/metrics.csv")
  row "nxt_ddp images/s (epochs 2+, 1 rank)" "$nxt_ips"
  row "nxt_ddp peak memory (last epoch)" "$(grep -oE 'peak (GPU memory|RSS) [^;]*' "$out/nxt_ddp.log" | tail -1)"
  row "nxt_ddp time split (last epoch)" "$(grep -o 'forward+backward [^;]*' "$out/nxt_ddp.log" | tail -1)"
  cp "$work/runs/gpu/metrics.csv" "$out/nxt_metrics.csv"
else
  tail -30 "$out/nxt_ddp.log"
  row "nxt_ddp" "FAILED (nxt_ddp.log)"
  nxt_ips=""
fi

# --- 4. PyTorch eager, same model and batch ---------------------------------------------------
say "PyTorch eager reference"
if ref=$(timeout 240 "$py" tests/gpu/torch_reference.py --batch "$batch" --steps "$steps" \
  --warmup 10 --size "$size" --device "$device" 2>"$out/torch_reference.log" | tail -1); then
  torch_ips=$("$py" -c "import json,sys; print('%.1f' % json.loads(sys.argv[1])['images_per_s'])" "$ref")
  torch_mem=$("$py" -c "import json,sys; print('%.2f GiB' % json.loads(sys.argv[1])['peak_allocated_gib'])" "$ref")
  row "PyTorch eager images/s (AMP bf16, CL)" "$torch_ips"
  row "PyTorch eager peak memory" "$torch_mem allocated"
  [[ -n "$nxt_ips" ]] && row "ratio nxt / PyTorch" "$("$py" -c "print('%.3f' % ($nxt_ips / $torch_ips))")"
else
  tail -20 "$out/torch_reference.log"
  row "PyTorch eager" "FAILED (torch_reference.log)"
fi
say "done"
