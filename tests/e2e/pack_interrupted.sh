#!/usr/bin/env bash
# A pack killed mid-run (SIGKILL) or interrupted (SIGINT) must never leave a half file under the
# target name: the previous good file stays, byte for byte. SIGINT also removes its temp file.
set -uo pipefail
bin="$1"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$bin/nxt_make_demo_images" --output "$work/images" --per-class 800 --size 160 >/dev/null || fail "generator"
"$bin/nxt_pack_hdf5" --input "$work/images" --output "$work/data.h5" --size 16 --quiet >/dev/null || fail "first pack"
good=$(md5sum <"$work/data.h5")

interrupt() {  # $1 = signal
  "$bin/nxt_pack_hdf5" --input "$work/images" --output "$work/data.h5" --size 160 --threads 1 \
    --compress --quiet --seed 9 >"$work/log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do
    compgen -G "$work/data.h5.tmp.*" >/dev/null && break
    sleep 0.05
  done
  compgen -G "$work/data.h5.tmp.*" >/dev/null || fail "no temp file appeared before the pack ended"
  sleep 0.3
  kill -"$1" "$pid"
  wait "$pid"
  echo "SIG$1: pack exited with $?"
  [[ "$(md5sum <"$work/data.h5")" == "$good" ]] || fail "SIG$1 changed the target file"
  "$bin/nxt_pack_hdf5" --inspect "$work/data.h5" >/dev/null || fail "target unreadable after SIG$1"
}

interrupt KILL
rm -f "$work"/data.h5.tmp.*  # a killed process cannot clean up; its temp name says whose it was
interrupt INT
grep -q "interrupted; no file written" "$work/log" || fail "SIGINT message missing: $(cat "$work/log")"
if compgen -G "$work/data.h5.tmp.*" >/dev/null; then fail "SIGINT left a temp file"; fi
echo "PASS: previous file intact after SIGKILL and SIGINT"
