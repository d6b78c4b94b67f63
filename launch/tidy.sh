#!/usr/bin/env bash
# clang-tidy with the project's chosen checks (.clang-tidy) over nxt's C++ sources, using the
# compile commands of a configured build folder (build/, or NXT_BUILD_DIR).
#   launch/tidy.sh                      every .cpp under src/ and data_tools/ (~10 min on 2 cores)
#   launch/tidy.sh src/comm/*.cpp ...   only these
# Exits non-zero when clang-tidy reports a warning in nxt's own code.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${NXT_BUILD_DIR:-build}
[[ -f $build_dir/compile_commands.json ]] || {
  echo "tidy: no $build_dir/compile_commands.json: build first (bash launch/build.sh)" >&2
  exit 1
}
command -v run-clang-tidy >/dev/null || {
  echo "tidy: run-clang-tidy not found: apt-get install clang-tidy" >&2
  exit 1
}
if (($# == 0)); then
  mapfile -t files < <(git ls-files 'src/*.cpp' 'data_tools/*.cpp')
else
  files=("$@")
fi
# run-clang-tidy takes regular expressions: anchor each file's absolute path.
patterns=()
for file in "${files[@]}"; do patterns+=("^$(readlink -f "$file" | sed 's/[.+]/\\&/g')\$"); done
log=$(mktemp)
db=$(mktemp -d)
trap 'rm -rf "$log" "$db"' EXIT
# GCC's precompiled torch header (cmake_pch.hxx.gch) is no PCH to clang: include the header it
# was made from instead.
python3 - "$build_dir/compile_commands.json" "$db/compile_commands.json" "$PWD/src/common/torch_pch.h" <<'PY'
import json, re, sys
source, target, header = sys.argv[1:]
entries = json.load(open(source))
for entry in entries:
    command = entry["command"].replace("-Winvalid-pch", "")
    entry["command"] = re.sub(r"-include \S+/cmake_pch\.hxx", "-include " + header, command)
json.dump(entries, open(target, "w"))
PY
run-clang-tidy -quiet -p "$db" -j "$(nproc)" "${patterns[@]}" 2>/dev/null |
  sed 's/\x1b\[[0-9;]*m//g' | tee "$log" | grep -E -A3 '(warning|error):' || true
findings=$(grep -cE '^/.*(warning|error):' "$log" || true)
echo "tidy: ${#files[@]} file(s), $findings finding(s)"
((findings == 0))
