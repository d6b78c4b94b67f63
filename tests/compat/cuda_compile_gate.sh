#!/usr/bin/env bash
# The CUDA compile gate: every translation unit of nxt (src/, data_tools/, tests/), plus the
# CUDA-only ones a CPU LibTorch leaves out (comm/nccl_communicator.cpp), compiled with
# -fsyntax-only, -DNXT_TORCH_HAS_CUDA -DNXT_HAVE_NCCL, against the headers of Debian 13's CUDA
# LibTorch 2.6 (libtorch-cuda-dev, contrib) and this machine's CUDA toolkit (nvcc, NCCL and
# cuDNN headers). A compile error fails it. It catches, on a machine without a GPU, code that
# only breaks in a CUDA build against LibTorch 2.x, which the host's LibTorch (Debian 12,
# 1.13, CPU) never compiles.
#
#   tests/compat/cuda_compile_gate.sh         # launch/test.sh runs it when /usr/local/cuda exists
#
# How: the .deb comes from the Debian registry through apt-get download with a private apt
# state (Dir::Etc/Dir::State/Dir::Cache under the cache folder: nothing is installed, the
# system's apt is untouched) and is unpacked with dpkg -x into NXT_GATE_CACHE (default
# /var/cache/nxt/cuda-gate; kept, so later runs need no network). The compile commands come
# from a configure of this tree (compile_commands.json, build-cuda-gate/, never built), with
# the torch include folders swapped for 2.6's. Each TU's header list (-MD) is checked too: a
# torch/ATen/c10 header taken from the host's LibTorch 1.13 instead of 2.6 fails the gate.
#
# Without the CUDA toolkit (NXT_CUDA_HOME, default /usr/local/cuda) it says so and exits 0.
# Knobs: NXT_GATE_JOBS (parallel compilers, default nproc), NXT_GATE_FILTER (a regex: only the
# TUs whose path matches, for debugging), NXT_DEBIAN_MIRROR.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
cuda=${NXT_CUDA_HOME:-/usr/local/cuda}
cache=${NXT_GATE_CACHE:-/var/cache/nxt/cuda-gate}
jobs=${NXT_GATE_JOBS:-$(nproc)}
build=$repo/build-cuda-gate
started=$(date +%s)
log() { echo "[cuda-gate +$(($(date +%s) - started))s] $*"; }

if [[ ! -f "$cuda/include/cuda_runtime.h" ]]; then
  log "no CUDA toolkit at $cuda (no include/cuda_runtime.h): gate skipped"
  exit 0
fi
nccl_include=""
for dir in ${NCCL_ROOT:+"$NCCL_ROOT/include"} "$cuda/include" /usr/include; do
  if [[ -f "$dir/nccl.h" ]]; then nccl_include=$dir; break; fi
done
if [[ -z "$nccl_include" ]]; then
  log "the CUDA toolkit at $cuda has no nccl.h (nor NCCL_ROOT): gate skipped"
  exit 0
fi
log "CUDA toolkit: $("$cuda/bin/nvcc" --version 2>/dev/null | grep -o 'release [0-9.]*' || echo "$cuda")," \
  "NCCL headers: $nccl_include"

# --- 1. Debian 13's libtorch-cuda-dev headers (cached) -----------------------------------------
# shellcheck source=tests/compat/debian13_root.sh
source "$repo/tests/compat/debian13_root.sh"  # d13_mirror
torch_root=$cache/libtorch-cuda-dev
mkdir -p "$cache"
exec {lock_fd}>"$cache/.lock"
flock -w 600 "$lock_fd" || { log "another gate has held $cache/.lock for 600 s"; exit 1; }
if [[ ! -f "$torch_root/.deb" ]]; then
  apt_dir=$cache/apt
  mirror=$(d13_mirror)
  rm -rf "$apt_dir" "$torch_root.partial"
  mkdir -p "$apt_dir/state/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/parts" \
    "$apt_dir/debs"
  : >"$apt_dir/status"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main contrib" \
    >"$apt_dir/sources.list"
  apt=(apt-get -q -o Dir::Etc::SourceList="$apt_dir/sources.list" -o Dir::Etc::SourceParts="$apt_dir/parts"
    -o Dir::State="$apt_dir/state" -o Dir::State::status="$apt_dir/status" -o Dir::Cache="$apt_dir/cache"
    -o APT::Sandbox::User=root)
  log "downloading libtorch-cuda-dev (Debian 13, $mirror) with a private apt state"
  "${apt[@]}" update >"$cache/apt.log" 2>&1 || { tail -5 "$cache/apt.log"; log "FAIL: apt-get update"; exit 1; }
  (cd "$apt_dir/debs" && "${apt[@]}" download libtorch-cuda-dev >>"$cache/apt.log" 2>&1) ||
    { tail -5 "$cache/apt.log"; log "FAIL: apt-get download libtorch-cuda-dev"; exit 1; }
  deb=$(ls "$apt_dir"/debs/libtorch-cuda-dev_*.deb)
  dpkg -x "$deb" "$torch_root.partial"
  basename "$deb" >"$torch_root.partial/.deb"
  rm -rf "$torch_root" && mv "$torch_root.partial" "$torch_root"
  rm -rf "$apt_dir/debs"
fi
exec {lock_fd}>&-
torch_include=$torch_root/usr/include
[[ -f "$torch_include/torch/csrc/api/include/torch/torch.h" && -f "$torch_include/c10/cuda/CUDAStream.h" ]] ||
  { log "FAIL: $torch_root lacks torch.h or c10/cuda (remove it to download again)"; exit 1; }
log "LibTorch headers: $(cat "$torch_root/.deb")"

# --- 2. the compile commands of this tree --------------------------------------------------------
mkdir -p "$build"
log "configuring $build (compile_commands.json only, nothing is built)"
cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DNXT_USE_CCACHE=OFF \
  >"$build/gate-configure.log" 2>&1 || { tail -30 "$build/gate-configure.log"; log "FAIL: configure"; exit 1; }

# --- 3. compile every TU with the 2.6 CUDA headers ----------------------------------------------
log "compiling with -fsyntax-only, $jobs in parallel"
rc=0
/usr/bin/env python3 - "$repo" "$build" "$torch_include" "$cuda/include" "$nccl_include" "$jobs" <<'PY' || rc=$?
import concurrent.futures, json, os, re, shlex, subprocess, sys, time
repo, build, torch_inc, cuda_inc, nccl_inc, jobs = sys.argv[1:7]
entries = json.load(open(os.path.join(build, "compile_commands.json")))
entries = [e for e in entries if e["file"].startswith(repo + "/") and not e["file"].startswith(build)]
known = {e["file"] for e in entries}
# TUs that a CPU LibTorch leaves out: compiled with the flags of a TU of the same library.
template = next(e for e in entries if "/nxt_core.dir/" in e["command"])
tracked = subprocess.run(["git", "-C", repo, "ls-files", "-co", "--exclude-standard", "src/*.cpp"],
                         capture_output=True, text=True, check=True).stdout.split()
for rel in tracked:
    path = os.path.join(repo, rel)
    if path not in known and os.path.exists(path):
        entries.append(dict(template, file=path, command=template["command"].replace(template["file"], path)))
        print(f"  + {rel} (not in this configure: CUDA LibTorch only)")

only = os.environ.get("NXT_GATE_FILTER")
if only:
    entries = [e for e in entries if re.search(only, e["file"])]
host_torch = re.compile(r"^/usr/include/(torch|ATen|c10|caffe2)/")
dep_dir = os.path.join(build, "gate-deps")
os.makedirs(dep_dir, exist_ok=True)

pch_header = os.path.join(build, "gate_pch.hxx")  # one precompiled torch.h for the torch TUs
use_pch = False

def rewrite(entry, index, pch=True):
    args = shlex.split(entry["command"])
    out, skip = [args[0], "-isystem", torch_inc], 0
    for i, a in enumerate(args[1:], 1):
        if skip:
            skip -= 1
            continue
        if a in ("-o", "-MF", "-MT", "-MQ"):
            skip = 1
            continue
        if a in ("-c", "-MD", "-MMD", "-Winvalid-pch"):
            continue
        if a == "-include" and args[i + 1].endswith("cmake_pch.hxx"):
            # CMake's precompiled <torch/torch.h> (src/common/torch_pch.h), here for 2.6.
            out += ["-include", pch_header if (pch and use_pch) else os.path.join(repo, "src/common/torch_pch.h")]
            skip = 1
            continue
        if a == "-isystem" and "torch/csrc/api/include" in args[i + 1]:
            out += ["-isystem", os.path.join(torch_inc, "torch/csrc/api/include")]
            skip = 1
            continue
        if a.startswith("-I") and "torch/csrc/api/include" in a:
            out.append("-I" + os.path.join(torch_inc, "torch/csrc/api/include"))
            continue
        out.append(a)
    dep = os.path.join(dep_dir, f"{index}.d")
    out += ["-isystem", cuda_inc, "-isystem", nccl_inc, "-DNXT_TORCH_HAS_CUDA=1", "-DNXT_HAVE_NCCL=1",
            "-DUSE_C10D_NCCL", "-MD", "-MF", dep]
    return out, dep

# The precompiled header, built once with a torch TU's flags (as CMake's REUSE_FROM does); a TU
# whose flags do not fit it falls back to the text header (GCC checks). Its own header list is
# checked like a TU's. If it cannot be built, every TU parses torch.h itself.
args, pch_dep = rewrite(template, "pch", pch=False)
pch_args = []
for i, a in enumerate(args):
    if a == "-include" or (i > 0 and args[i - 1] == "-include") or a == template["file"]:
        continue
    pch_args.append(a)
with open(pch_header, "w") as f:
    f.write('#pragma GCC system_header\n#include "%s/src/common/torch_pch.h"\n' % repo)

def build_pch():
    t0 = time.time()
    cmd = pch_args + ["-x", "c++-header", pch_header, "-o", pch_header + ".gch"]
    p = subprocess.run(cmd, cwd=template["directory"], capture_output=True, text=True)
    if p.returncode == 0:
        print(f"  precompiled <torch/torch.h> (2.6, CUDA) in {time.time() - t0:.0f} s", flush=True)
        return True
    print("  (no precompiled header: " + (p.stderr.strip().splitlines() or ["?"])[-1] + ")", flush=True)
    return False

def leaks(dep):
    deps = open(dep).read().replace("\\\n", " ").split()[1:]
    leaked = sorted({d for d in deps if host_torch.match(os.path.normpath(d))})
    return ["headers taken from the host's LibTorch instead of 2.6: " + ", ".join(leaked[:5])] if leaked else []

failed = []

def check(job):
    index, entry = job
    args, dep = rewrite(entry, index)
    args = [a for a in args if a != entry["file"]] + ["-fsyntax-only", entry["file"]]
    t0 = time.time()
    p = subprocess.run(args, cwd=entry["directory"], capture_output=True, text=True)
    problems = leaks(dep) if p.returncode == 0 else []
    return entry["file"], p.returncode, p.stderr, problems, time.time() - t0

def report(result):
    path, code, err, problems, secs = result
    rel = os.path.relpath(path, repo)
    if code != 0 or problems:
        failed.append(rel)
        print(f"  FAIL {rel} ({secs:.0f} s)")
        for line in (err.strip().splitlines()[:40] + problems):
            print("    " + line)
    else:
        print(f"  ok   {rel} ({secs:.0f} s)")

def needs_pch(entry):
    return "cmake_pch.hxx" in entry["command"]

# The TUs without torch run while the precompiled header is built; the torch TUs after it.
jobs_list = list(enumerate(entries))
with concurrent.futures.ThreadPoolExecutor(int(jobs)) as pool:
    pch_future = pool.submit(build_pch)
    plain = [pool.submit(check, job) for job in jobs_list if not needs_pch(job[1])]
    use_pch = pch_future.result()
    if use_pch and leaks(pch_dep):
        failed.append("(precompiled header)")
        print("  FAIL precompiled header: " + leaks(pch_dep)[0])
    torch_tus = [pool.submit(check, job) for job in jobs_list if needs_pch(job[1])]
    for future in plain + torch_tus:
        report(future.result())
print(f"TUs checked: {len(entries)}, failed: {len(failed)}")
sys.exit(1 if failed else 0)
PY
if ((rc == 0)); then
  log "PASS: every TU compiles against CUDA LibTorch 2.6 headers in $(($(date +%s) - started)) s"
else
  log "FAIL: compile errors against CUDA LibTorch 2.6 headers (above) after $(($(date +%s) - started)) s"
fi
exit $rc
