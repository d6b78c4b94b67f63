#!/usr/bin/env bash
# data_tools/export_model.py on tiny trained runs (48px JPEG sources packed at 32px, evaluated
# with a centre crop, so the whole preparation path is exercised):
#  - TorchScript: loaded in C++ with torch::jit::load by nxt_jit_logits
#    (tests/interop/jit_logits.cpp), which also runs nxt's own prediction path (the code of
#    nxt_predict: load_inference_model, its decode/resize/crop, Normalizer, InferenceModel::logits,
#    cross-checked against predict_files in the same program) on the same 5 images: max abs
#    logit difference < 1e-4. Its softmax also matches what the nxt_predict binary prints.
#    Two models: lib.sh's tiny config (cifar stem: nxt's layout of torchvision Bottleneck blocks)
#    and a custom imagenet-stem model of torchvision's shape (torchvision's ResNet class).
#  - ONNX: onnx.checker.check_model (full check) passes; the batch axis is dynamic; onnxruntime
#    (the project venv's) gives nxt's logits (< 1e-4) on the same 5 prepared images
#    (tests/e2e/interop_resnext50.sh does the same for ResNeXt-50).
#  - OUT.preprocess.json holds the checkpoint's classes and preprocessing.
#  - Bad inputs (missing file, not an nxt checkpoint, unknown arch) exit 1 with a message naming
#    the file and leave no output behind.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
export_model=("$python" "$repo_root/data_tools/export_model.py")
tolerance=1e-4

py "import onnx, onnxruntime, torchvision, yaml" ||
  fail "export needs torchvision, pyyaml, onnx and onnxruntime in $python (launch/python_env.sh)"
[[ -x "$bin/nxt_jit_logits" ]] || fail "$bin/nxt_jit_logits is not built (ninja -C build nxt_jit_logits)"

"$bin/nxt_make_demo_images" --output "$work/images" --classes 3 --per-class 20 --size 48 \
  --seed 4 --easy --format jpg >/dev/null || fail "make_demo_images"
"$bin/nxt_pack_hdf5" --input "$work/images" --output "$work/data.h5" --size 32 \
  --val-fraction 0.25 --seed 3 --quiet >/dev/null 2>&1 || fail "pack_hdf5"
config=$(tiny_config "$work" cifar)
train() {  # NAME SETTINGS...: a short run of the tiny config, into $work/runs/NAME
  local name=$1
  shift
  run_bounded 300 "$work/train_$name.out" "$nxt_mpirun" -np 2 "$bin/nxt_ddp" --config "$config" \
    --set run.name="$name" --set train.epochs=2 --set data.eval_crop_ratio=0.875 "$@" >/dev/null
  [[ $code -eq 0 ]] || { cat "$work/train_$name.out"; fail "training $name exited $code"; }
}
train cifar
train imagenet --set model.stem=imagenet --set model.stem_width=64 --set 'model.blocks=[1,1,1,1]'
cifar="$work/runs/cifar/best.pt" imagenet="$work/runs/imagenet/best.pt"
# 5 images, of all three classes, named directly.
mapfile -t images < <(find "$work/images" -name '*.jpg' | sort | awk 'NR % 12 == 1' | head -5)
[[ ${#images[@]} -eq 5 ]] || fail "expected 5 test images, found ${#images[@]}"

# check_torchscript NAME CHECKPOINT EXPECTED_BUILD: export, compare in C++ and with nxt_predict.
check_torchscript() {
  local name=$1 checkpoint=$2 built_as=$3 out="$work/$1.ts"
  "${export_model[@]}" "$checkpoint" --format torchscript "$out" >"$work/export_$name.out" 2>&1 ||
    { cat "$work/export_$name.out"; fail "export of $name to TorchScript failed"; }
  cat "$work/export_$name.out"
  grep -qF "$built_as" "$work/export_$name.out" || fail "$name was not built as $built_as"
  "$bin/nxt_jit_logits" --checkpoint "$checkpoint" --module "$out" \
    --inputs-out "$work/inputs_$name.pt" "${images[@]}" \
    >"$work/logits_$name.jsonl" 2>"$work/logits_$name.err" ||
    { cat "$work/logits_$name.err"; fail "nxt_jit_logits on $name failed"; }
  cat "$work/logits_$name.err"
  "$bin/nxt_predict" --checkpoint "$checkpoint" --format jsonl --topk 3 "${images[@]}" \
    >"$work/predict_$name.jsonl" 2>/dev/null || fail "nxt_predict on $name failed"
  py "
import json, math
rows = [json.loads(line) for line in open('$work/logits_$name.jsonl')]
assert len(rows) == 5, len(rows)
diff = max(abs(a - b) for r in rows for a, b in zip(r['nxt'], r['jit']))
spread = max(max(r['nxt']) - min(r['nxt']) for r in rows)
print(f'$name: max |TorchScript - nxt| logit over 5 images = {diff:.3g} (logit spread {spread:.3g})')
assert all(len(r['nxt']) == len(r['jit']) == 3 for r in rows)
assert spread > 0.01, 'the logits are nearly constant: the comparison would prove little'
assert diff < $tolerance, f'logits differ by {diff} (limit $tolerance)'
# nxt_predict (the binary) prints probabilities to 6 decimals: softmax of the TorchScript logits.
classes = json.load(open('$work/$name.ts.preprocess.json'))['classes']
for r, p in zip(rows, map(json.loads, open('$work/predict_$name.jsonl'))):
    assert r['path'] == p['path'], (r['path'], p['path'])
    total = sum(math.exp(v) for v in r['jit'])
    for top in p['top']:
        mine = math.exp(r['jit'][classes.index(top['class'])]) / total
        assert abs(mine - top['probability']) < 2e-6, (r['path'], top, mine)
print('$name: softmax(TorchScript logits) equals nxt_predict\\'s probabilities')
" || fail "$name: TorchScript and nxt disagree"
}
check_torchscript cifar "$cifar" "nxt's layout of torchvision Bottleneck blocks"
check_torchscript imagenet "$imagenet" "torchvision ResNet(Bottleneck)"

# ONNX of the tiny config's model, and the preprocessing record beside it.
"${export_model[@]}" "$cifar" --format onnx "$work/cifar.onnx" || fail "export to ONNX failed"
py "
import json, onnx, torch
model = onnx.load('$work/cifar.onnx')
onnx.checker.check_model(model, full_check=True)
dims = model.graph.input[0].type.tensor_type.shape.dim
assert [d.dim_param or d.dim_value for d in dims] == ['batch', 3, 32, 32], dims
out = model.graph.output[0].type.tensor_type.shape.dim
assert [d.dim_param or d.dim_value for d in out] == ['batch', 3], out
print('onnx.checker passed; input', [d.dim_param or d.dim_value for d in dims])
c = torch.load('$cifar')
record = json.load(open('$work/cifar.onnx.preprocess.json'))
assert record['classes'] == c['classes'] and record['format'] == 'onnx', record
for key in ('stored_size', 'resize_mode', 'input_size', 'mean', 'std', 'train_size'):
    assert record[key] == c['preprocess'][key], (key, record[key], c['preprocess'][key])
assert record['train_size'] == record['input_size'] == 32, record  # no ramp, no eval_size
assert record['eval_crop_ratio'] == 0.875 and record['input']['layout'] == 'NCHW'
print('preprocess.json matches the checkpoint')
import onnxruntime
io = torch.load('$work/inputs_cifar.pt')  # nxt_jit_logits: the pixels nxt was fed, its logits
session = onnxruntime.InferenceSession('$work/cifar.onnx', providers=['CPUExecutionProvider'])
logits = torch.from_numpy(session.run(None, {'images': io['pixels'].numpy()})[0])
diff = (logits - io['nxt_logits']).abs().max().item()
print(f'onnxruntime {onnxruntime.__version__}: max |onnx - nxt| logit over 5 images = {diff:.3g}')
assert diff < $tolerance, f'logits differ by {diff} (limit $tolerance)'
" || fail "the ONNX file, its preprocess.json or its logits in onnxruntime are wrong"

# Bad inputs: exit 1, a message naming the file and the problem, no output left behind.
py "
import torch
torch.save(dict(torch.load('$cifar')['model']), '$work/plain.pt')  # a state dict, no config
c = torch.load('$cifar')
c['config'] = c['config'].replace('arch: custom', 'arch: resnet18')
torch.save(c, '$work/resnet18.pt')
" || fail "cannot write the bad checkpoints"
echo "not a checkpoint" >"$work/text.pt"
expect_refusal() {  # CHECKPOINT MESSAGE
  rm -f "$work/bad.ts"*
  "${export_model[@]}" "$1" --format torchscript "$work/bad.ts" >"$work/bad.out" 2>&1
  local status=$?
  cat "$work/bad.out"
  [[ $status -eq 1 ]] || fail "export of $1 exited $status, not 1"
  grep -qF "$1" "$work/bad.out" || fail "the message does not name $1"
  grep -qF "$2" "$work/bad.out" || fail "the message for $1 does not say '$2'"
  [[ -z $(compgen -G "$work/bad.ts*") ]] || fail "export of $1 left files: $(ls "$work"/bad.ts*)"
}
expect_refusal "$work/missing.pt" "does not exist"
expect_refusal "$work/text.pt" "is not an nxt checkpoint"
expect_refusal "$work/plain.pt" "is not an nxt checkpoint"
expect_refusal "$work/resnet18.pt" "unknown model.arch 'resnet18'"
echo "PASS: TorchScript logits equal nxt's (< $tolerance) for both model layouts, ONNX passes onnx.checker and onnxruntime gives nxt's logits, bad inputs refused"
