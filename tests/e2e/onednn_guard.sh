#!/usr/bin/env bash
# Note [oneDNN without cache sizes] (src/common/process_tuning.h): on a CPU that reports no cache
# sizes nxt sets ONEDNN_MAX_CPU_ISA=SSE41 for itself and says so; a value the user set is kept.
# NXT_ASSUME_NO_CPU_CACHE_INFO=1 makes nxt act as on such a machine. ONEDNN_VERBOSE=1 shows
# which ISA oneDNN then took (its "isa:" line), where this LibTorch's convolutions use oneDNN.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
make_tiny_dataset "$work" 8
config=$(tiny_config "$work" guard)
train() {  # NAME ENV...: one epoch on one rank with oneDNN's verbose log
  local name=$1
  shift
  run_bounded 120 "$work/$name.out" env NXT_ASSUME_NO_CPU_CACHE_INFO=1 ONEDNN_VERBOSE=1 "$@" \
    "$nxt_mpirun" -np 1 "$bin/nxt_ddp" --config "$config" --set run.name="$name" \
    --set train.epochs=1 >/dev/null
  [[ $code -eq 0 ]] || { tail -20 "$work/$name.out"; fail "$name: training exited $code"; }
}
train guarded
grep -q "reports no cache sizes.*set ONEDNN_MAX_CPU_ISA=SSE41" "$work/guarded.out" ||
  fail "no warning that ONEDNN_MAX_CPU_ISA=SSE41 was set"
if grep -q "onednn_verbose.*isa:" "$work/guarded.out"; then
  grep -q "onednn_verbose.*isa:.*SSE4.1" "$work/guarded.out" ||
    fail "oneDNN did not take SSE4.1: $(grep -m1 'isa:' "$work/guarded.out")"
  echo "oneDNN: $(grep -m1 -o 'isa:.*' "$work/guarded.out")"
else
  echo "(this LibTorch's convolutions did not go through oneDNN: no isa line to check)"
fi
train users_choice ONEDNN_MAX_CPU_ISA=AVX2
! grep -q "reports no cache sizes" "$work/users_choice.out" || fail "the user's ONEDNN_MAX_CPU_ISA was overridden"
! grep -q "onednn_verbose.*isa:.*SSE4.1" "$work/users_choice.out" || fail "oneDNN took SSE4.1 though the user set AVX2"
echo "PASS: no cache sizes -> ONEDNN_MAX_CPU_ISA=SSE41 with a warning; the user's own value kept"
