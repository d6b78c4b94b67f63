#!/usr/bin/env bash
# Killing rank 0 at arbitrary moments (also while it writes best.pt or last.pt) never leaves a
# checkpoint that does not load: temp file, fsync, rename.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
make_tiny_dataset "$work" 30
config=$(tiny_config "$work" killed)
run="$work/runs/killed"
for delay in 0.05 0.2 0.45; do
  "$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$config" --set train.epochs=100 --set train.checkpoint_every_steps=1 \
    --resume auto >"$work/out" 2>&1 &
  job=$!
  for _ in $(seq 600); do [[ -f "$run/last.pt" ]] && break; sleep 0.05; done
  sleep "$delay"
  rank0=$(pgrep -f "nxt_ddp --config $config" | sort -n | head -1)
  kill -KILL "$rank0"
  wait $job
  for f in best.pt last.pt; do
    [[ -f "$run/$f" ]] || continue
    py "import torch; c = torch.load('$run/$f'); assert c['format'] == 'nxt-checkpoint'" ||
      fail "$f does not load after a kill at +${delay}s"
  done
  echo "ok: killed at +${delay}s; checkpoints load"
done
echo "PASS"
