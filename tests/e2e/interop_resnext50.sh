#!/usr/bin/env bash
# A ResNeXt-50 (32x4d) trained by nxt, read by today's Python stack (the project venv: torch 2.15,
# torchvision 0.29, timm, onnxruntime), on 32px images so that it takes seconds:
#  - torch.load with its defaults (weights-only since torch 2.6) reads best.pt and last.pt;
#  - torchvision's resnext50_32x4d with best.pt's weights, fed the packed val split with the
#    checkpoint's mean/std, gives nxt's logits (< 1e-4) for every val image, predicts each as
#    nxt_eval does, and reaches nxt_eval's accuracy;
#  - timm's resnext50_32x4d loads best.pt's weights strictly and gives nxt's logits (< 1e-4);
#  - the ONNX export (data_tools/export_model.py) runs in onnxruntime with nxt's logits (< 1e-4),
#    so the export serves, not only passes onnx.checker.
# nxt's logits: nxt_predict's own path on the val images' source files (nxt_jit_logits
# --inputs-out also writes the pixels it fed, which timm and onnxruntime are then fed).
set -uo pipefail
source "$(dirname "$0")/lib.sh"
tolerance=1e-4
py "import onnxruntime, timm, torchvision" ||
  fail "$python lacks onnxruntime, timm or torchvision (launch/python_env.sh makes the venv)"

"$bin/nxt_make_demo_images" --output "$work/images" --classes 3 --per-class 40 --size 32 \
  --seed 4 --easy --format jpg >/dev/null || fail "make_demo_images"
"$bin/nxt_pack_hdf5" --input "$work/images" --output "$work/data.h5" --size 32 \
  --val-fraction 0.25 --seed 3 --quiet >/dev/null 2>&1 || fail "pack_hdf5"
# Batch 5: 90 training images give 45 per rank, 9 full batches (a batch of 1 would meet
# BatchNorm on a 1x1 map at 32px, which training refuses).
config=$(tiny_config "$work" r50)
run_bounded 300 "$work/train.out" "$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$config" \
  --set model.arch=resnext50_32x4d --set train.epochs=1 --set data.batch_size=5 \
  --set optim.name=adam --set optim.lr=0.001 --set data.crop=none >/dev/null
[[ $code -eq 0 ]] || { cat "$work/train.out"; fail "training ResNeXt-50 exited $code"; }
run="$work/runs/r50"

py "
import torch
for name in ('best.pt', 'last.pt'):
    c = torch.load('$run/' + name)  # the defaults: weights_only=True on torch >= 2.6
    assert c['format'] == 'nxt-checkpoint' and 'layer4.2.conv3.weight' in c['model'], name
print('torch', torch.__version__, 'reads best.pt and last.pt with torch.load defaults')
" || fail "torch.load's defaults cannot read nxt's checkpoints"

"$bin/nxt_eval" --checkpoint "$run/best.pt" --data "$work/data.h5" --out "$work/eval" \
  >"$work/eval.out" 2>&1 || { cat "$work/eval.out"; fail "nxt_eval failed"; }
mapfile -t val_paths < <(py "
import h5py
for p in h5py.File('$work/data.h5')['val/paths'][()]: print(p.decode())")
[[ ${#val_paths[@]} -eq 30 ]] || fail "expected 30 val images, found ${#val_paths[@]}"
"$bin/nxt_jit_logits" --checkpoint "$run/best.pt" --inputs-out "$work/inputs.pt" \
  "${val_paths[@]/#/$work/images/}" >/dev/null 2>"$work/jit.err" ||
  { cat "$work/jit.err"; fail "nxt_jit_logits failed"; }
"$python" "$repo_root/data_tools/export_model.py" "$run/best.pt" --format onnx "$work/r50.onnx" \
  >"$work/export.out" 2>&1 || { cat "$work/export.out"; fail "export to ONNX failed"; }
py "
import csv, json, h5py, onnxruntime, timm, torch, torchvision
c = torch.load('$run/best.pt')
classes = len(c['classes'])
io = torch.load('$work/inputs.pt')  # in the val split's order
expected = io['nxt_logits']
assert expected.shape == (30, classes) and expected.max() - expected.min() > 0.01, expected.shape
mean = torch.tensor(c['preprocess']['mean']).view(1, 3, 1, 1)
std = torch.tensor(c['preprocess']['std']).view(1, 3, 1, 1)
def logits(model, pixels):
    model.load_state_dict(c['model'], strict=True)
    with torch.no_grad():
        return model.eval()((pixels - mean) / std)

# torchvision on the packed val split, against nxt's logits and nxt_eval's predictions.
with h5py.File('$work/data.h5') as f:
    packed = torch.from_numpy(f['val/images'][()]).permute(0, 3, 1, 2).float().div(255)
    labels = torch.from_numpy(f['val/labels'][()]).long()
    paths = [p.decode() for p in f['val/paths'][()]]
tv = logits(torchvision.models.resnext50_32x4d(num_classes=classes), packed)
tv_diff = (tv - expected).abs().max().item()
predicted = tv.argmax(1)
accuracy = (predicted == labels).double().mean().item()
nxt = json.load(open('$work/eval/metrics.json'))
rows = {r['path']: r for r in csv.DictReader(open('$work/eval/predictions.csv'))}
differ = [p for p, k in zip(paths, predicted.tolist()) if rows[p]['predicted_class'] != c['classes'][k]]
print(f'torchvision on the val split: accuracy {accuracy:.6f} (nxt_eval {nxt[\"accuracy\"]:.6f}), '
      f'{len(differ)} of {len(paths)} predictions differ from nxt_eval\'s')
assert len(rows) == len(paths) and not differ, differ[:3]
assert abs(accuracy - nxt['accuracy']) < 1e-9

# timm and onnxruntime on the pixels nxt_predict's path prepared.
timm_diff = (logits(timm.create_model('resnext50_32x4d', pretrained=False, num_classes=classes),
                    io['pixels']) - expected).abs().max().item()
session = onnxruntime.InferenceSession('$work/r50.onnx', providers=['CPUExecutionProvider'])
onnx_logits = session.run(None, {session.get_inputs()[0].name: io['pixels'].numpy()})[0]
onnx_diff = (torch.from_numpy(onnx_logits) - expected).abs().max().item()
print(f'max logit difference to nxt over 30 images: torchvision {tv_diff:.3g}, timm {timm_diff:.3g}, '
      f'onnxruntime {onnx_diff:.3g} (limit $tolerance)')
assert max(tv_diff, timm_diff, onnx_diff) < $tolerance
" || fail "torchvision, timm or onnxruntime disagrees with nxt"
echo "PASS: ResNeXt-50: torch.load defaults; torchvision = nxt_eval; torchvision, timm and onnxruntime logits = nxt's (< $tolerance)"
