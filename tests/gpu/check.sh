#!/usr/bin/env bash
# The GPU device check: one command, under 9 minutes on one H100 or H200 with the build included
# (a 520 s deadline inside the run call's 540), so that a second try fits in the ~15 minutes of
# device time a task is lent. The most important figure comes first, so a run cut short still
# answers; each phase builds only the targets it needs, just before it:
#   (1) nxt_ddp on one GPU against PyTorch eager on the same card: ResNeXt-50 (32x4d), 224px,
#       batch 128, bf16 autocast, channels-last, SGD + Nesterov. nxt_ddp (built first, alone)
#       trains on a generated packed dataset (tests/gpu/make_packed.cpp) for a fixed number of
#       steps, launched by launch/nxt_mpirun with 1 rank; its images/s, its step split (data,
#       compute, communication, optimizer: the run's train_log.jsonl) and peak memory. Then
#       PyTorch eager with AMP and channels-last on uint8 batches already on the GPU
#       (tests/gpu/torch_reference.py: no loader at all, the most favourable setting for
#       PyTorch; torchvision's model, or the same network built there without torchvision), its
#       images/s and peak memory, and the ratio. The reference needs nothing of nxt: it runs even
#       when the build fails, and the build leaves it the time it needs.
#   (2) no host syncs: nxt_tests' GpuOnly.* (training steps under CUDA's sync debug mode set to
#       error), HostSyncs.* and GradClip.*;
#   (3) NCCL start-up: nxt_mpi_tests' Nccl.* with 1 rank (NCCL refuses two ranks on one GPU). It
#       shows that NCCL starts on the GPU and its calls complete, NOT that its sums, broadcasts
#       and reduced gradients are right across ranks (identities on one rank: that test skips,
#       "needs >= 2 ranks"; it needs 2 GPUs), and the table says so;
#   (4) the rest, with the time left: nxt_mpi_tests whole with 1 rank, then the whole unit suite
#       (nxt_tests) on the GPU.
# What the machine lacks is worked around, and said (versions and tools come first): no ssh
# (launch/nxt_mpirun names an rsh agent for one-host runs), no nvcc (torch's own CUDA wheel
# headers and runtime: tests/gpu/cuda_from_wheel.sh, check_project.cmake), glibc older than
# 2.36 (tests/gpu/arc4random.c for the carried Open MPI's libevent), no MPI, HDF5, ... (the
# carried sysroot), no ninja (the carried one), no h5py (the dataset is written by a C++
# program), no torchvision (see above).
#
#   bash tests/gpu/pack_sysroot.sh   # here, once: MPI, HDF5, yaml-cpp, OpenCV, GTest, TurboJPEG,
#                                    # protobuf (protoc), Boost.CRC and CUDA crt headers, ninja
#   run(command="bash tests/gpu/check.sh", carry=[".gpu_deps"], timeout_s=540)
#
# Rehearsal on this CPU machine, the plumbing (not figures) as the device runs it - a clean
# clone, a pip torch called python3, no ssh, no nvcc, an older glibc simulated, the CPU with
# small sizes, then an audit that nothing came from this machine: tests/gpu/rehearse.sh.
# Knobs: NXT_CHECK_BATCH (128), NXT_CHECK_STEPS (64 timed steps), NXT_CHECK_SIZE (224),
# NXT_CHECK_DEVICE (cuda; cpu rehearses), NXT_CHECK_PYTHON (python3), NXT_CHECK_JOBS (build
# jobs, default nproc), NXT_CHECK_BUILD (build folder, default build-gpu; the sysroot, the
# dataset and the runs are kept in it, so a second run reuses them), NXT_CHECK_BUDGET_S (520),
# NXT_CHECK_BUILD_CAP_S (360: the first build's own cap), NXT_CHECK_CAP_SCALE (1: the factor of
# every phase's cap; a 2-core rehearsal builds ~8x slower), NXT_CHECK_ARC4RANDOM (1: provide
# arc4random whatever the glibc, to rehearse that path).
# Output, in $OUT (or /tmp/nxt_gpu_check), 6 files (the device tool brings back at most 8):
# check.txt (versions, tools, progress, every table row the moment it is measured: a run cut
# short, even by SIGKILL, keeps them; the summary at its end), build.log (configure and builds),
# nxt_ddp.log, train_log.jsonl (nxt_ddp's per-step telemetry), torch_reference.log, tests.log
# (the GoogleTest suites). The summary table, with the phase times, is the last thing printed.
set -euo pipefail
cd "$(dirname "$0")/../.."
export repo=$PWD
export out=${OUT:-/tmp/nxt_gpu_check}
export device=${NXT_CHECK_DEVICE:-cuda} py=${NXT_CHECK_PYTHON:-python3}
export batch=${NXT_CHECK_BATCH:-128} steps=${NXT_CHECK_STEPS:-64} size=${NXT_CHECK_SIZE:-224}
export jobs=${NXT_CHECK_JOBS:-$(nproc)}
build=${NXT_CHECK_BUILD:-$repo/build-gpu}
mkdir -p "$build"
build=$(cd "$build" && pwd)
export build bin=$build/bin
export work=$build/_check  # dataset, config, runs, rows: in the build folder, kept between runs
started=$(date +%s)
export started
budget=${NXT_CHECK_BUDGET_S:-520}
deadline=$((started + budget))
mkdir -p "$out" "$work"
rm -f "$out"/{check.txt,build.log,nxt_ddp.log,train_log.jsonl,torch_reference.log,tests.log}
: >"$out/check.txt"
: >"$work/rows.txt"
: >"$work/phases.txt"
rm -f "$work"/*.rows "$work"/built.* "$work/configured" "$work/need_arc4random"

say() { echo "[check +$(($(date +%s) - started))s] $*" | tee -a "$out/check.txt"; }
row() {  # appended now: survives whatever happens later
  local line
  line=$(printf '  %-42s %s' "$1" "$2")
  echo "$line" | tee -a "$out/check.txt" >>"$work/rows.txt"
  echo "$line"
}
section() { echo "$*" | tee -a "$out/check.txt" "$work/rows.txt"; }
# emit_rows FILE: the LABEL<TAB>VALUE lines of tests/gpu/figures.py as table rows.
emit_rows() {
  local label value
  while IFS=$'\t' read -r label value; do row "$label" "$value"; done <"$1"
}
figures() { "$py" "$repo/tests/gpu/figures.py" "$@"; }
export -f say row section emit_rows figures

finish() {
  local rc=$? name status took times=""
  while IFS='|' read -r name status took; do
    times+="${times:+, }$name $took s${status:+ ($status)}"
  done <"$work/phases.txt"
  {
    echo
    echo "==== nxt GPU check: $(date -Is), device $device," \
      "$(($(date +%s) - started)) s of a ${budget} s deadline (exit $rc) ===="
    cat "$work/rows.txt"
    echo "phase times: ${times:-none}"
    echo "files in $out: $(cd "$out" && find . -type f | sed 's|^\./||' | sort | tr '\n' ' ')"
  } | tee -a "$out/check.txt"
}
trap finish EXIT

# phase NAME CAP_S RESERVE_S FUNCTION: runs FUNCTION (exported; in its own bash -euo pipefail,
# so a phase cannot end the script) under min(CAP_S x NXT_CHECK_CAP_SCALE, time to the deadline
# less RESERVE_S, the time kept for the phases after it); records its time and status.
phase() {
  local name=$1 cap=$2 reserve=$3 fn=$4 left limit rc=0 t0 took status=""
  cap=$((cap * ${NXT_CHECK_CAP_SCALE:-1}))
  left=$((deadline - reserve - $(date +%s)))
  limit=$((cap < left ? cap : left))
  if ((limit < 5)); then
    row "$name" "SKIPPED (no time left before the deadline)"
    echo "$name|skipped|0" >>"$work/phases.txt"
    return 1
  fi
  say "$name (limit ${limit} s)"
  t0=$(date +%s)
  timeout -k 5 "$limit" bash -euo pipefail -c "$fn" || rc=$?
  took=$(($(date +%s) - t0))
  if ((rc == 124 || rc == 137)); then
    row "$name" "TIMEOUT after $took s"
    status=timeout
  elif ((rc != 0)); then
    say "$name: failed (exit $rc)"
    status="exit $rc"
  fi
  echo "$name|$status|$took" >>"$work/phases.txt"
  return $rc
}

# --- 0. the machine: versions, tools, the carried sysroot ----------------------------------------
say "nxt GPU check: device $device, batch $batch, $steps steps, ${size}px," \
  "deadline ${budget} s, $jobs build jobs"
section "-- the machine"
row "torch" "$(timeout 120 "$py" - 2>&1 <<'PY' || true
import importlib.util, torch
text = "%s, CUDA %s, cuDNN %s" % (torch.__version__, torch.version.cuda, torch.backends.cudnn.version())
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    text += ", NCCL %s; GPU %s (%.0f GiB, sm_%d%d)" % (
        ".".join(map(str, torch.cuda.nccl.version())), p.name, p.total_memory / 2**30, p.major, p.minor)
else:
    text += "; NO GPU (torch.cuda.is_available() is False)"
text += "; torchvision %s" % ("yes" if importlib.util.find_spec("torchvision") else "no")
print(text)
PY
)"
{
  echo "--- nvidia-smi"
  timeout 30 nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 ||
    echo "(no nvidia-smi)"
  echo "--- PATH=$PATH"
} >>"$out/check.txt"

# The build tools: the machine's own; else pip's cmake/ninja modules next to the Python; else
# (ninja) the sysroot's copy. nvcc: torch's CMake config needs it; without it the CUDA headers and
# runtime of torch's wheel stand in (cuda_without_nvcc.cmake).
pip_tool() {  # pip_tool MODULE ATTRIBUTE NAME: NAME in the folder MODULE.ATTRIBUTE names
  "$py" -c "import os, $1; p = os.path.join($1.$2, '$3'); assert os.access(p, os.X_OK); print(p)" 2>/dev/null
}
cxx=${CXX:-$(type -P c++ || type -P g++ || type -P clang++ || true)}
cmake_bin=$(type -P cmake || pip_tool cmake CMAKE_BIN_DIR cmake || true)
ninja_bin=$(type -P ninja || pip_tool ninja BIN_DIR ninja || true)
nvcc_bin=$(type -P nvcc || true)
if [[ -z "$nvcc_bin" && -x "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc" ]]; then
  nvcc_bin=${CUDA_HOME:-/usr/local/cuda}/bin/nvcc
  export PATH="${nvcc_bin%/nvcc}:$PATH"
fi
# describe NAME PATH WHEN_MISSING: "NAME VERSION" of the tool at PATH (its --version's first
# dotted number), or "NAME WHEN_MISSING".
describe() {
  local text=""
  [[ -n "$2" ]] || { echo "$1 $3"; return; }
  text=$("$2" --version 2>&1 | tr '\n' ' ') || true
  [[ "$text" =~ ([0-9]+\.[0-9]+(\.[0-9]+)?) ]] && echo "$1 ${BASH_REMATCH[1]}" || echo "$1 ($2)"
}
ssh_text="none (nxt_mpirun names rsh agent false)"
type -P ssh >/dev/null || type -P rsh >/dev/null && ssh_text=yes
tools="$(describe "$(basename "${cxx:-c++}")" "$cxx" "NONE: no C++ compiler")"
tools+="; $(describe cmake "$cmake_bin" NONE); $(describe ninja "$ninja_bin" "(the sysroot's)")"
tools+="; $(describe nvcc "$nvcc_bin" "none (torch's wheel headers)"); ssh $ssh_text"
row "tools" "$tools"
export cxx cmake_bin ninja_bin nvcc_bin

# The carried libraries (tests/gpu/pack_sysroot.sh), unpacked once per build folder.
export sysroot=$build/_sysroot  # a fixed path: CMake's cache remembers it between runs
if [[ -f .gpu_deps/sysroot.tar.xz ]]; then
  stamp=$(stat -c '%s %Y' .gpu_deps/sysroot.tar.xz)
  if [[ "$(cat "$sysroot/.stamp" 2>/dev/null)" != "$stamp" ]]; then
    rm -rf "$sysroot" && mkdir -p "$sysroot"
    if type -P xz >/dev/null; then
      tar -xJf .gpu_deps/sysroot.tar.xz -C "$sysroot"
    else  # tar -J runs xz, which a minimal image may lack; Python reads xz by itself
      "$py" -c 'import sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    t.extractall(sys.argv[2], **({"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}))' \
        .gpu_deps/sysroot.tar.xz "$sysroot"
    fi
    echo "$stamp" >"$sysroot/.stamp"
  fi
  # Its libraries were built against some glibc and libstdc++ (pack_sysroot.sh records which
  # versions they need): this machine's must be as new. Below glibc 2.36, Debian's libevent (under
  # Open MPI) lacks arc4random: tests/gpu/arc4random.c provides it (NXT_CHECK_ARC4RANDOM=1
  # forces that path, to rehearse it on a newer glibc).
  row "sysroot" "$("$py" - "$sysroot/usr/share/nxt-sysroot/requires" "$work/need_arc4random" \
    "${NXT_CHECK_ARC4RANDOM:-0}" <<'PY' 2>&1 | tail -1 || true
import ctypes, os, re, sys
try:
    need = dict(line.split() for line in open(sys.argv[1]))
except OSError:
    sys.exit("unpacked; what it needs of glibc and libstdc++ is unknown (an older pack)")
key = lambda v: tuple(int(x) for x in v.split("."))
glibc = os.confstr("CS_GNU_LIBC_VERSION").split()[-1]
ctypes.CDLL("libstdc++.so.6")  # the one every process here loads, wherever it lives
path = next(l.split()[-1] for l in open("/proc/self/maps") if "libstdc++.so" in l)
have = re.findall(rb"GLIBCXX_(3\.4\.\d+)", open(path, "rb").read())
ok_cxx = any(key(v.decode()) >= key(need["GLIBCXX"]) for v in have)
text = "needs glibc %s (here %s), GLIBCXX_%s (%s in %s)" % (
    need["glibc"], glibc, need["GLIBCXX"], "present" if ok_cxx else "MISSING", path)
if "arc4random" in need and (key(glibc) < key(need["arc4random"]) or sys.argv[3] == "1"):
    open(sys.argv[2], "w").close()
    text += "; arc4random from tests/gpu/arc4random.c (glibc < %s)" % need["arc4random"]
print(("ok: " if key(glibc) >= key(need["glibc"]) and ok_cxx else "TOO OLD HERE: ") + text)
PY
)"
  if [[ -f "$work/need_arc4random" && -n "$cxx" ]]; then
    mkdir -p "$build/_arc4random"
    if "$cxx" -x c++ -O2 -shared -fPIC tests/gpu/arc4random.c -o "$build/_arc4random/libnxt_arc4random.so"; then
      # Preloaded by every nxt process (mpirun included); the link allows libevent's reference.
      export nxt_preload=$build/_arc4random/libnxt_arc4random.so nxt_link_flags=-Wl,--allow-shlib-undefined
    else
      row "arc4random" "FAILED to compile tests/gpu/arc4random.c: Open MPI will not load here"
    fi
  fi
  L=$sysroot/usr/lib/x86_64-linux-gnu
  [[ -n "$ninja_bin" ]] || ninja_bin=$sysroot/usr/bin/ninja
  # How nxt's programs run: the sysroot's libraries and its relocated Open MPI, for those
  # programs only (a Python next to them could load the sysroot's libcrypto or libcurl).
  export nxt_ld="$L:$L/openmpi/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export nxt_path="$sysroot/usr/bin:$PATH" nxt_opal="$sysroot/usr" nxt_pmix="$L/pmix2"
else
  row "sysroot" "none (no .gpu_deps/sysroot.tar.xz): the machine's own libraries"
  export nxt_ld=${LD_LIBRARY_PATH:-} nxt_path=$PATH nxt_opal=${OPAL_PREFIX:-} nxt_pmix=${PMIX_INSTALL_PREFIX:-}
fi
nxt_env() {
  env LD_LIBRARY_PATH="$nxt_ld" PATH="$nxt_path" ${nxt_opal:+OPAL_PREFIX="$nxt_opal"} \
    ${nxt_pmix:+PMIX_INSTALL_PREFIX="$nxt_pmix"} \
    ${nxt_preload:+LD_PRELOAD="$nxt_preload${LD_PRELOAD:+:$LD_PRELOAD}"} "$@"
}
export -f nxt_env
echo "the machine and the sysroot||$(($(date +%s) - started))" >>"$work/phases.txt"

# build_targets TARGET...: builds into $build, appended to build.log; a row with the time taken
# and the CPU seconds the build's processes used (their sum over the cores: / N cores estimates
# a build on N cores, when nothing else bounds it).
children_cpu_s() {  # user + system seconds of this shell's finished children (bash's `times`,
  # run in this shell: a $(...) subshell would count only its own children)
  times >"$work/times"
  tail -1 "$work/times" |
    awk '{ s = 0; for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); s += t[1] * 60 + t[2] } printf "%.0f", s }'
}
build_targets() {
  local t0 rc=0
  t0=$(date +%s)
  children_cpu_s >"$work/cpu0"
  say "building $* with $jobs jobs"
  echo "=== cmake --build --target $* ($(date -Is))" >>"$out/build.log"
  "$cmake_bin" --build "$build" -j "$jobs" --target "$@" >>"$out/build.log" 2>&1 || rc=$?
  if ((rc != 0)); then
    grep -m5 -A8 -E 'error|Error' "$out/build.log" | tail -40 || true
    row "build $*" "FAILED (build.log)"
    return 1
  fi
  children_cpu_s >"$work/cpu1"
  row "build $*" "ok ($(($(date +%s) - t0)) s, $(($(cat "$work/cpu1") - $(cat "$work/cpu0"))) CPU s)"
  touch "$work/built.${*// /.}"  # built by this run (a second run must not use the first's)
}
export -f children_cpu_s build_targets

# --- (1a) configure and build nxt_ddp (and the dataset writer) ----------------------------------
phase_build_nxt_ddp() {
  [[ -n "$cxx" ]] || { row "build" "FAILED: no C++ compiler (c++, g++, clang++) on this machine"; return 1; }
  [[ -n "$cmake_bin" ]] || { row "build" "FAILED: no cmake on this machine (nor pip's)"; return 1; }
  local torch_prefix L cuda_root
  # As launch/build.sh does: torch's CMake folder and its prefix (torch/lib before system folders).
  torch_prefix=$("$py" -c 'import os, torch
print(torch.utils.cmake_prefix_path + ";" + os.path.dirname(torch.__file__))')
  local prefix=$torch_prefix deps=(-DCMAKE_MAKE_PROGRAM="$ninja_bin")
  [[ -z "${nxt_link_flags:-}" ]] || deps+=(-DCMAKE_EXE_LINKER_FLAGS="$nxt_link_flags")
  if [[ -f "$sysroot/.stamp" ]]; then
    L=$sysroot/usr/lib/x86_64-linux-gnu
    prefix+=";$sysroot/usr"
    deps+=(-DMPI_SKIP_COMPILER_WRAPPER=ON -DMPI_C_HEADER_DIR="$L/openmpi/include" -DMPI_C_LIB_NAMES=mpi
      -DMPI_mpi_LIBRARY="$L/libmpi.so" -DHDF5_ROOT="$L/hdf5/serial"
      -Dyaml-cpp_DIR="$L/cmake/yaml-cpp" -DGTest_DIR="$L/cmake/GTest"
      -DTURBOJPEG_INCLUDE_DIR="$sysroot/usr/include" -DTURBOJPEG_LIBRARY="$L/libturbojpeg.so"
      -DNXT_BOOST_CRC_INCLUDE_DIR="$sysroot/usr/include"
      # protoc, headers and libraries of one protobuf (Debian's 3.21), never torch's or the
      # machine's; usr/bin/protoc runs protoc.bin with the sysroot's libprotoc/libprotobuf.
      -DProtobuf_INCLUDE_DIR="$sysroot/usr/include" -DProtobuf_LIBRARY="$L/libprotobuf.so"
      -DProtobuf_LITE_LIBRARY="$L/libprotobuf-lite.so" -DProtobuf_PROTOC_EXECUTABLE="$sysroot/usr/bin/protoc"
      -DCMAKE_CXX_FLAGS="-isystem $sysroot/usr/include -isystem $sysroot/usr/include/x86_64-linux-gnu/opencv4")
  fi
  if [[ -z "$nvcc_bin" ]]; then
    # No nvcc: a toolkit folder made of torch's CUDA wheel (cuda_without_nvcc.cmake says why).
    cuda_root=$build/_cuda_from_wheel
    if ! bash tests/gpu/cuda_from_wheel.sh "$py" "$cuda_root" "$sysroot/usr/share/nxt-sysroot/cuda/include" \
      >>"$out/build.log" 2>&1; then
      tail -5 "$out/build.log"
      row "build" "FAILED: no nvcc, and no CUDA headers in torch's wheel (build.log)"
      return 1
    fi
    deps+=(-DCUDAToolkit_ROOT="$cuda_root" -DNXT_CHECK_CUDA_FROM_WHEEL=ON)
  fi
  export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0}
  # With the sysroot, pkg-config must not answer for what it carries: CMake's FindMPI asks it
  # for mpi-c, and a machine's own MPI (NGC images carry HPC-X's) would lend its headers to a
  # build linked with the sysroot's libmpi.
  [[ ! -f "$sysroot/.stamp" ]] || export PKG_CONFIG_LIBDIR=/nonexistent PKG_CONFIG_PATH=""
  echo "=== configure ($(date -Is))" >>"$out/build.log"
  if ! "$cmake_bin" -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DNXT_WITH_IMAGE_CODECS=OFF \
    -DNXT_USE_CCACHE=OFF -DNXT_REQUIRE_NCCL=ON -DNXT_PYTHON="$(type -P "$py" || echo "$py")" \
    -DCMAKE_PROJECT_INCLUDE="$repo/tests/gpu/check_project.cmake" \
    -DCMAKE_PREFIX_PATH="$prefix" "${deps[@]}" >>"$out/build.log" 2>&1; then
    grep -A12 -m2 'CMake Error' "$out/build.log" || tail -30 "$out/build.log"
    row "build" "FAILED at configure (build.log)"
    return 1
  fi
  touch "$work/configured"
  grep -E '^-- +(LibTorch|MPI|HDF5|protobuf|NCCL|CUDA|runtime) +:' "$out/build.log" >>"$out/check.txt" || true
  row "NCCL (configure)" "$(sed -nE 's/^-- +NCCL +: //p' "$out/build.log" | tail -1)"
  # The dataset writer: one compiler call against the HDF5 nxt is built with.
  local hdf5_flags
  if [[ -f "$sysroot/.stamp" ]]; then
    hdf5_flags=(-I"$L/hdf5/serial/include" "$L/hdf5/serial/lib/libhdf5.so")
  else
    read -r -a hdf5_flags <<<"$(h5cc -show | cut -d' ' -f2-)"
  fi
  "$cxx" -O2 -std=c++17 tests/gpu/make_packed.cpp "${hdf5_flags[@]}" -o "$work/make_packed" \
    >>"$out/build.log" 2>&1 || { row "build make_packed" "FAILED (build.log)"; return 1; }
  build_targets nxt_ddp
  # Every library nxt_ddp needs is found, and from where (the sysroot, torch, the machine).
  local missing
  missing=$(nxt_env ldd "$bin/nxt_ddp" | grep '=> not found' || true)
  [[ -z "$missing" ]] || { row "nxt_ddp libraries" "NOT FOUND: ${missing//$'\n'/;}"; return 1; }
  nxt_env ldd "$bin/nxt_ddp" | awk -v sysroot="$sysroot/" '
    $3 ~ /^\// && index($3, sysroot) != 1 && $3 !~ /\/site-packages\// {
      sub(/.*\//, "", $3); mine = mine " " $3
    }
    END { print "nxt_ddp libraries from the machine (not the sysroot, not torch):" mine }' >>"$out/check.txt"
}
export -f phase_build_nxt_ddp
section "-- (1) nxt_ddp vs PyTorch eager: ResNeXt-50 32x4d, ${size}px, batch $batch, bf16, channels-last, 1 GPU"
# The figure's run and the reference keep 130 s between them (they take ~60 s on an H200).
phase "build nxt_ddp" "${NXT_CHECK_BUILD_CAP_S:-360}" 130 phase_build_nxt_ddp || true

# --- (1b) nxt_ddp: fixed steps, one rank --------------------------------------------------------
export steps_per_epoch=16
export epochs=$((1 + (steps + steps_per_epoch - 1) / steps_per_epoch))  # the first epoch warms up
phase_nxt_ddp() {
  local data=$work/synth-b$batch-s$size.h5
  [[ -f "$data" ]] || nxt_env "$work/make_packed" "$data" --train $((batch * steps_per_epoch)) --val "$batch" \
    --size "$size" | tee -a "$out/check.txt"
  # One train_log.jsonl record per epoch (at its last step, where the metrics are read anyway).
  cat >"$work/gpu.yaml" <<YAML
run: {name: gpu, out_dir: $work/runs, device: $device}
data: {path: $data, batch_size: $batch, image_size: $size, normalize: imagenet,
       hflip: true, crop: none, loader_threads: 8, prefetch: 6}
model: {arch: resnext50_32x4d}
optim: {name: sgd, lr: 0.1, momentum: 0.9, nesterov: true, weight_decay: 5.0e-5}
train: {epochs: $epochs, amp: bf16, channels_last: true, cudnn_benchmark: true, log_every_seconds: 5,
        metrics_every_steps: $steps_per_epoch, log_every_steps: $steps_per_epoch}
eval: {mode: sharded}
dist: {backend: auto}
YAML
  rm -rf "$work/runs"
  say "nxt_ddp: $epochs epochs x $steps_per_epoch steps x batch $batch at ${size}px"
  if ! nxt_env launch/nxt_mpirun -np 1 "$bin/nxt_ddp" --config "$work/gpu.yaml" >"$out/nxt_ddp.log" 2>&1; then
    tail -30 "$out/nxt_ddp.log"
    row "nxt_ddp" "FAILED (nxt_ddp.log)"
    return 1
  fi
  cp "$work/runs/gpu/train_log.jsonl" "$out/train_log.jsonl"
  figures nxt "$work/runs/gpu" "$out/nxt_ddp.log" >"$work/nxt.rows" ||
    { row "nxt_ddp figures" "FAILED to read metrics.csv, train_log.jsonl"; return 1; }
  emit_rows "$work/nxt.rows"
}
export -f phase_nxt_ddp
if [[ -f "$work/built.nxt_ddp" ]]; then
  phase "nxt_ddp" 200 50 phase_nxt_ddp || true
else
  row "nxt_ddp" "SKIPPED (not built)"
fi

# --- (1c) PyTorch eager on the same card --------------------------------------------------------
phase_reference() {
  "$py" tests/gpu/torch_reference.py --batch "$batch" --steps "$steps" --warmup 10 --size "$size" \
    --device "$device" >"$work/reference.json" 2>"$out/torch_reference.log" ||
    { tail -20 "$out/torch_reference.log"; row "PyTorch eager" "FAILED (torch_reference.log)"; return 1; }
  cat "$work/reference.json" >>"$out/torch_reference.log"
  figures reference "$work/reference.json" >"$work/reference.rows"
  emit_rows "$work/reference.rows"
}
export -f phase_reference
phase "PyTorch eager" 200 0 phase_reference || true
if [[ -s "$work/nxt.rows" && -s "$work/reference.rows" ]]; then
  figures ratio "$work/nxt.rows" "$work/reference.rows" >"$work/ratio.rows" && emit_rows "$work/ratio.rows"
fi

# --- (2) no hidden host syncs ---------------------------------------------------------------------
# GpuOnly.*: three training steps (side-stream batch copy, forward, backward, device-side
# clipping, SGD) under CUDA's sync debug mode set to error, and waits that end behind a stuck GPU;
# HostSyncs.*/GradClip.*: the scalar-read counts of a clipped optimizer step and an evaluation.
# (nxt_ddp itself cannot be put in that mode around its steps from outside: its metric reads and
# checkpoints sync on purpose.)
# run_gtest NAME LOG PROGRAM ARGS...: a GoogleTest program's output into LOG and tests.log as it
# runs (a phase cut short keeps what ran).
run_gtest() {
  local name=$1 log=$2
  shift 2
  echo "=== $name: $*" >>"$out/tests.log"
  nxt_env "$@" --gtest_color=no 2>&1 | tee "$log" >>"$out/tests.log"
}
export -f run_gtest
phase_host_syncs() {
  build_targets nxt_tests
  local rc=0
  run_gtest "host syncs" "$work/host_syncs.log" "$bin/nxt_tests" \
    --gtest_filter='GpuOnly.*:HostSyncs.*:GradClip.*' || rc=$?
  figures gtest "$work/host_syncs.log" "GpuOnly.*, HostSyncs.*, GradClip.*" \
    "training steps, CUDA sync debug = error" GpuOnly.TrainingStepsNeverWaitForTheDevice \
    >"$work/host_syncs.rows"
  emit_rows "$work/host_syncs.rows"
  return $rc
}
export -f phase_host_syncs
section "-- (2) no host syncs"
if [[ -f "$work/configured" ]]; then
  phase "host syncs" 240 0 phase_host_syncs || true
else
  row "host syncs" "SKIPPED (not configured)"
fi

# --- (3) NCCL start-up with 1 rank ----------------------------------------------------------------
phase_nccl() {
  build_targets nxt_mpi_tests
  local rc=0
  run_gtest "NCCL start-up" "$work/nccl.log" launch/nxt_mpirun -np 1 "$bin/nxt_mpi_tests" \
    --gtest_filter='Nccl.*' || rc=$?
  figures gtest "$work/nccl.log" "nxt_mpi_tests Nccl.* (1 rank)" \
    "NCCL starts, calls complete (1 GPU)" Nccl.StartsOnTheGpuAndItsCollectivesComplete >"$work/nccl.rows"
  emit_rows "$work/nccl.rows"
  row "NCCL results across ranks" "NOT SHOWN by a one-GPU machine (needs 2 GPUs)"
  return $rc
}
export -f phase_nccl
section "-- (3) NCCL start-up"
if [[ -f "$work/configured" ]]; then
  phase "NCCL start-up" 180 0 phase_nccl || true
else
  row "NCCL start-up" "SKIPPED (not configured)"
fi

# --- (4) the rest, with the time left -------------------------------------------------------------
phase_mpi_suite() {
  local rc=0
  run_gtest "MPI suite" "$work/mpi_suite.log" launch/nxt_mpirun -np 1 "$bin/nxt_mpi_tests" \
    --gtest_filter='-Nccl.*' || rc=$?
  figures gtest "$work/mpi_suite.log" "nxt_mpi_tests (1 rank, but Nccl.*)" >"$work/mpi_suite.rows"
  emit_rows "$work/mpi_suite.rows"
  return $rc
}
phase_unit_suite() {
  local rc=0
  run_gtest "unit suite" "$work/unit_suite.log" "$bin/nxt_tests" \
    --gtest_filter='-GpuOnly.*:HostSyncs.*:GradClip.*' || rc=$?
  figures gtest "$work/unit_suite.log" "nxt_tests (the rest of the unit suite)" >"$work/unit_suite.rows"
  emit_rows "$work/unit_suite.rows"
  return $rc
}
export -f phase_mpi_suite phase_unit_suite
section "-- (4) the rest"
if [[ -f "$work/built.nxt_mpi_tests" ]]; then
  phase "MPI suite" 120 0 phase_mpi_suite || true
fi
if [[ -f "$work/built.nxt_tests" ]]; then
  # Cut short by the deadline, the log still holds the tests that ran: the row counts them.
  if ! phase "unit suite" 600 0 phase_unit_suite &&
    [[ ! -s "$work/unit_suite.rows" && -s "$work/unit_suite.log" ]]; then
    figures gtest "$work/unit_suite.log" "nxt_tests (the rest of the unit suite)" >"$work/unit_suite.rows"
    emit_rows "$work/unit_suite.rows"
  fi
fi
say "done"
