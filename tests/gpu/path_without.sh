#!/usr/bin/env bash
# Prints a PATH on which the named programs do not exist, for rehearsing a machine that lacks
# them (the GPU device machine is not known to carry ssh or rsh):
#
#   PATH=$(bash tests/gpu/path_without.sh DIR ssh rsh slogin) some-command
#
# DIR (created, emptied first) receives a symbolic link to every program on the current PATH but
# the named ones, the first of each name in PATH order, as the shell would find it; the printed
# PATH is DIR alone. A PATH that merely dropped /usr/bin would lose the rest of /usr/bin too, and
# on a merged-/usr system /bin is the same folder, so each folder of PATH is copied as links.
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: path_without.sh DIR PROGRAM..." >&2
  exit 64
fi
dir=$1
shift
declare -A hidden=()
for name in "$@"; do hidden[$name]=1; done
rm -rf "$dir"
mkdir -p "$dir"
IFS=: read -r -a folders <<<"$PATH"
for folder in "${folders[@]}"; do
  [[ -d "$folder" ]] || continue
  for program in "$folder"/*; do
    name=${program##*/}
    [[ -z "${hidden[$name]:-}" && ! -e "$dir/$name" && -x "$program" && ! -d "$program" ]] || continue
    ln -s "$program" "$dir/$name"
  done
done
for name in "$@"; do
  if PATH=$dir type -P "$name" >/dev/null; then
    echo "path_without: $name is still found" >&2
    exit 1
  fi
done
echo "$dir"
