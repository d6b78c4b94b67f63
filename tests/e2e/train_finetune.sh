#!/usr/bin/env bash
# Fine-tuning under mpirun -np 2: a model saved by Python as an OrderedDict (as torchvision
# publishes its weights), made loadable by convert_state_dict.py, then trained with the backbone
# frozen for one epoch: backbone weights and BatchNorm statistics stay bitwise unchanged while fc
# moves; after unfreezing (a resumed run, without the pretrained file, and a straight 2-epoch
# run that rebuilds the gradient
# buckets mid-run) both move, replicas stay identical every step, and the straight and resumed
# runs end with identical parameters.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
make_tiny_dataset "$work" 30
source_config=$(tiny_config "$work" source)
run_bounded 300 "$work/out0" "$bin/nxt_ddp" --config "$source_config" --set train.epochs=1
[[ $code -eq 0 ]] || fail "the source run exited $code"

# The published format: torch.save(model.state_dict()), an OrderedDict.
py "
import collections, torch
model = torch.load('$work/runs/source/best.pt')['model']
torch.save(collections.OrderedDict(model), '$work/published.pth')
" || fail "cannot write the OrderedDict"
"$python" "$repo_root/data_tools/convert_state_dict.py" "$work/published.pth" \
  "$work/pretrained.pt" || fail "convert_state_dict.py failed"

common=(--set model.pretrained="$work/pretrained.pt" --set optim.backbone_lr_mult=0.1
        --set train.freeze_backbone_epochs=1 --set dist.check_replicas_every=1
        --set run.threads_per_rank=1)
frozen=$(tiny_config "$work" frozen)
run_bounded 300 "$work/out1" "$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$frozen" \
  "${common[@]}" --set train.epochs=1
[[ $code -eq 0 ]] || fail "the frozen run exited $code"
grep -q "pretrained '.*pretrained.pt': all weights loaded" "$work/out1" || fail "no pretrained line"
grep -qE "backbone frozen: 2 parameter tensor\(s\) in 1 gradient bucket" "$work/out1" ||
  fail "the frozen epoch did not train fc alone"

# compare A.pt B.pt: prints "<backbone-equal> <bn-stats-equal> <fc-equal>" as 1/0.
compare() {
  py "
import torch
def state(path):
    loaded = torch.load(path)
    return loaded['model'] if 'model' in loaded else loaded
a, b = state('$1'), state('$2')
assert a.keys() == b.keys(), 'different keys'
same = lambda keys: int(all(torch.equal(a[k], b[k]) for k in keys))
backbone = [k for k in a if not k.startswith('fc.') and 'running_' not in k and 'num_batches' not in k]
stats = [k for k in a if 'running_' in k or 'num_batches' in k]
print(same(backbone), same(stats), same(['fc.weight', 'fc.bias']))
"
}
result=$(compare "$work/pretrained.pt" "$work/runs/frozen/last.pt")
echo "frozen epoch vs pretrained (backbone, BN stats, fc equal): $result"
[[ "$result" == "1 1 0" ]] || fail "frozen epoch: expected backbone and BN statistics unchanged, fc moved"

# Unfrozen: resume the frozen run for a second epoch, and a straight 2-epoch run. The resumed
# run takes every weight from last.pt, so it must not need the pretrained file any more (a
# requeued job whose scratch copy was purged).
mv "$work/pretrained.pt" "$work/pretrained.kept"
run_bounded 300 "$work/out2" "$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$frozen" \
  "${common[@]}" --set train.epochs=2 --resume auto
[[ $code -eq 0 ]] || fail "the resumed run exited $code"
grep -qE "all layers train: [0-9]+ parameter tensor" "$work/out2" || fail "no unfreeze line"
mv "$work/pretrained.kept" "$work/pretrained.pt"
result=$(compare "$work/pretrained.pt" "$work/runs/frozen/last.pt")
echo "after the unfrozen epoch vs pretrained (backbone, BN stats, fc equal): $result"
[[ "$result" == "0 0 0" ]] ||
  fail "after unfreezing, backbone, statistics and fc should all differ from the pretrained ones"

straight=$(tiny_config "$work" straight)
run_bounded 300 "$work/out3" "$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$straight" \
  "${common[@]}" --set train.epochs=2
[[ $code -eq 0 ]] || fail "the straight run exited $code"
[[ $(grep -c "backbone frozen\|all layers train" "$work/out3") -eq 2 ]] ||
  fail "the straight run should rebuild its buckets once, at epoch 2"
expect_same_parameters "$work/runs/straight/last.pt" "$work/runs/frozen/last.pt"
echo "PASS: frozen backbone fixed, fc trained; unfrozen all trained; resume exact across the rebuild"
