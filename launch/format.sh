#!/usr/bin/env bash
# clang-format (.clang-format) over nxt's C++ sources: src/, data_tools/, tests/.
#   launch/format.sh                 reformats them in place
#   launch/format.sh --check         lists the files clang-format would change and fails (CI)
#   launch/format.sh [--check] FILES only these
# Hand-aligned tables stay tables: fence them with `// clang-format off` / `// clang-format on`.
set -euo pipefail
cd "$(dirname "$0")/.."
check=0
if [[ ${1:-} == --check ]]; then
  check=1
  shift
fi
command -v clang-format >/dev/null || {
  echo "format: clang-format not found: apt-get install clang-format (launch/install_deps.sh)" >&2
  exit 1
}
if (($# == 0)); then
  mapfile -t files < <(git ls-files '*.cpp' '*.h' '*.cu')
else
  files=("$@")
fi
if ((check == 0)); then
  clang-format -i "${files[@]}"
  exit 0
fi
unformatted=()
for file in "${files[@]}"; do
  clang-format --dry-run -Werror "$file" >/dev/null 2>&1 || unformatted+=("$file")
done
if ((${#unformatted[@]})); then
  echo "format: ${#unformatted[@]} of ${#files[@]} file(s) differ from .clang-format;" \
    "run bash launch/format.sh FILE... (or fence a table with // clang-format off/on):" >&2
  printf '  %s\n' "${unformatted[@]}" >&2
  for file in "${unformatted[@]:0:3}"; do clang-format --dry-run "$file" 2>&1 | head -12 >&2; done
  exit 1
fi
echo "format: ${#files[@]} file(s) match .clang-format"
