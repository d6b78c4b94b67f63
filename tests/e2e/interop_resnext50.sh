#!/usr/bin/env bash
# A ResNeXt-50 (32x4d) trained by nxt, read by today's Python stack (the project venv: torch 2.15,
# torchvision 0.29, timm, onnxruntime), on 32px images so that it takes seconds:
#  - torch.load with its defaults (weights-only since torch 2.6) reads best.pt and last.pt;
#  - torchvision's resnext50_32x4d with best.pt's weights, fed the packed val split with the
#    checkpoint's mean/std, predicts every image as nxt_eval does: same classes, same accuracy;
#  - timm's resnext50_32x4d loads best.pt's weights strictly and gives nxt's logits (< 1e-4) on
#    5 images prepared by nxt_predict's own path (nxt_jit_logits --inputs-out);
#  - the ONNX export (data_tools/export_model.py) runs in onnxruntime with the same logits
#    (< 1e-4) on those 5 images, so the export serves, not only passes onnx.checker.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
tolerance=1e-4
py "import onnxruntime, timm, torchvision" ||
  fail "$python lacks onnxruntime, timm or torchvision (launch/python_env.sh makes the venv)"

"$bin/nxt_make_demo_images" --output "$work/images" --classes 3 --per-class 20 --size 32 \
  --seed 4 --easy --format jpg >/dev/null || fail "make_demo_images"
"$bin/nxt_pack_hdf5" --input "$work/images" --output "$work/data.h5" --size 32 \
  --val-fraction 0.25 --seed 3 --quiet >/dev/null 2>&1 || fail "pack_hdf5"
config=$(tiny_config "$work" r50)
run_bounded 300 "$work/train.out" "$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$config" \
  --set model.arch=resnext50_32x4d --set train.epochs=2 --set optim.name=adam \
  --set optim.lr=0.001 --set data.crop=none >/dev/null
[[ $code -eq 0 ]] || { cat "$work/train.out"; fail "training ResNeXt-50 exited $code"; }
run="$work/runs/r50"

py "
import torch
for name in ('best.pt', 'last.pt'):
    c = torch.load('$run/' + name)  # the defaults: weights_only=True on torch >= 2.6
    assert c['format'] == 'nxt-checkpoint' and 'layer4.2.conv3.weight' in c['model'], name
print('torch', torch.__version__, 'reads best.pt and last.pt with torch.load defaults')
" || fail "torch.load's defaults cannot read nxt's checkpoints"

# torchvision on the packed val split against nxt_eval's per-image predictions.
"$bin/nxt_eval" --checkpoint "$run/best.pt" --data "$work/data.h5" --out "$work/eval" \
  >"$work/eval.out" 2>&1 || { cat "$work/eval.out"; fail "nxt_eval failed"; }
py "
import csv, json, h5py, torch, torchvision
c = torch.load('$run/best.pt')
model = torchvision.models.resnext50_32x4d(num_classes=len(c['classes'])).eval()
model.load_state_dict(c['model'], strict=True)
mean = torch.tensor(c['preprocess']['mean']).view(1, 3, 1, 1)
std = torch.tensor(c['preprocess']['std']).view(1, 3, 1, 1)
with h5py.File('$work/data.h5') as f:
    images = torch.from_numpy(f['val/images'][()]).permute(0, 3, 1, 2).float().div(255)
    labels = torch.from_numpy(f['val/labels'][()]).long()
    paths = [p.decode() for p in f['val/paths'][()]]
with torch.no_grad():
    predicted = model((images - mean) / std).argmax(1)
accuracy = (predicted == labels).float().mean().item()
nxt = json.load(open('$work/eval/metrics.json'))
rows = {r['path']: r for r in csv.DictReader(open('$work/eval/predictions.csv'))}
differ = [p for p, k in zip(paths, predicted.tolist()) if rows[p]['predicted_class'] != c['classes'][k]]
print(f'torchvision accuracy {accuracy:.6f}, nxt_eval {nxt[\"accuracy\"]:.6f}; {len(differ)} of {len(paths)} predictions differ')
assert len(rows) == len(paths) > 0 and not differ, differ[:3]
assert abs(accuracy - nxt['accuracy']) < 1e-9
" || fail "torchvision's ResNeXt-50 with nxt's weights disagrees with nxt_eval"

# timm and onnxruntime on the 5 images nxt_predict's path prepares.
mapfile -t images < <(find "$work/images" -name '*.jpg' | sort | awk 'NR % 12 == 1' | head -5)
"$bin/nxt_jit_logits" --checkpoint "$run/best.pt" --inputs-out "$work/inputs.pt" "${images[@]}" \
  >/dev/null 2>"$work/jit.err" || { cat "$work/jit.err"; fail "nxt_jit_logits failed"; }
"$python" "$repo_root/data_tools/export_model.py" "$run/best.pt" --format onnx "$work/r50.onnx" \
  >"$work/export.out" 2>&1 || { cat "$work/export.out"; fail "export to ONNX failed"; }
py "
import onnxruntime, timm, torch
c = torch.load('$run/best.pt')
io = torch.load('$work/inputs.pt')
pixels, expected = io['pixels'], io['nxt_logits']
assert pixels.shape == (5, 3, 32, 32) and expected.max() - expected.min() > 0.01, pixels.shape
model = timm.create_model('resnext50_32x4d', pretrained=False, num_classes=len(c['classes'])).eval()
model.load_state_dict(c['model'], strict=True)
mean = torch.tensor(c['preprocess']['mean']).view(1, 3, 1, 1)
std = torch.tensor(c['preprocess']['std']).view(1, 3, 1, 1)
with torch.no_grad():
    timm_diff = (model((pixels - mean) / std) - expected).abs().max().item()
session = onnxruntime.InferenceSession('$work/r50.onnx', providers=['CPUExecutionProvider'])
onnx_logits = session.run(None, {session.get_inputs()[0].name: pixels.numpy()})[0]
onnx_diff = (torch.from_numpy(onnx_logits) - expected).abs().max().item()
print(f'max |timm - nxt| logit {timm_diff:.3g}; max |onnxruntime - nxt| logit {onnx_diff:.3g} (limit $tolerance)')
assert timm_diff < $tolerance and onnx_diff < $tolerance
" || fail "timm or onnxruntime disagrees with nxt's logits"
echo "PASS: ResNeXt-50: torch.load defaults, torchvision = nxt_eval, timm and onnxruntime = nxt (< $tolerance)"
