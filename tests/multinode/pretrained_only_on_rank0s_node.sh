#!/usr/bin/env bash
# model.pretrained is read by rank 0 alone and broadcast (Trainer::build_model): on 2 fake
# nodes, the file exists only in the first node's private folder (rank 0's); at the same path
# the second node has nothing. The job must train (exit 0), every step's replicas must agree
# (dist.check_replicas_every: 1), and after one epoch with the backbone frozen, the backbone's
# weights and BatchNorm statistics must equal the pretrained file's bitwise (fc trains).
set -uo pipefail
source "$(dirname "$0")/lib.sh"
require_fake_nodes
make_tiny_dataset "$work" 10
first=$(node_name 1)
mkdir -p "$work/weights" "$work/nodes/$first"

# The pretrained weights: a 1-epoch run's model with another seed (so that they differ from the
# job's own initialisation), as the plain {name: tensor} dict that convert_state_dict.py writes.
run_bounded 120 "$work/out0" "$bin/nxt_ddp" --config "$(tiny_config "$work" source)" \
  --set run.seed=9 --set train.epochs=1 --set run.threads_per_rank=1
[[ $code -eq 0 ]] || fail "the source run exited $code"
pretrained="$work/nodes/$first/pretrained.pt"
py "import torch; torch.save(dict(torch.load('$work/runs/source/last.pt')['model']), '$pretrained')" ||
  fail "cannot write the pretrained file"

export NXT_FAKE_PRIVATE_DIR="$work/weights" NXT_FAKE_PRIVATE_ROOT="$work/nodes"
fake_launch 2 1
run_bounded 120 "$work/out" "${fake_mpirun[@]}" "$bin/nxt_ddp" \
  --config "$(tiny_config "$work" tuned)" --set model.pretrained="$work/weights/pretrained.pt" \
  --set train.epochs=1 --set train.freeze_backbone_epochs=1 --set dist.check_replicas_every=1 \
  --set run.threads_per_rank=1
[[ $code -eq 0 ]] || fail "the job exited $code"
check_nodes_launched 2
grep -qF "pretrained '$work/weights/pretrained.pt': all weights loaded" "$work/out" ||
  fail "no 'all weights loaded' line"
py "
import torch
pretrained = torch.load('$pretrained')
trained = torch.load('$work/runs/tuned/last.pt')['model']
assert pretrained.keys() == trained.keys(), 'different tensors'
changed = sorted(k for k in trained if not torch.equal(trained[k], pretrained[k]))
assert changed == ['fc.bias', 'fc.weight'], 'differ from the pretrained file: %s' % changed[:6]
print('backbone and BatchNorm statistics equal the pretrained file; fc trained')
" || fail "the weights after the frozen epoch are not the pretrained ones"
echo "PASS: only $first had the pretrained file; the 2-node job trained from it"
