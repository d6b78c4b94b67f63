#!/usr/bin/env python3
"""Exports an nxt training checkpoint (best.pt) as a TorchScript or ONNX model for deployment.

    data_tools/export_model.py runs/demo/best.pt --format torchscript model.ts
    data_tools/export_model.py runs/demo/best.pt --format onnx model.onnx

The network is rebuilt from the checkpoint's own config and class list: torchvision's
resnext50_32x4d / resnext101_32x8d / resnext101_64x4d for the named archs, torchvision's ResNet
of Bottleneck blocks for a custom model of the same shape, and otherwise (a cifar stem, another
stem width or stage count: nothing in torchvision matches) the same layers assembled from
torchvision's Bottleneck blocks. Parameter names are torchvision's in every case, so the
checkpoint's state dict loads strictly.

The exported graph takes float32 RGB images, NCHW, pixels in [0, 1] (uint8 / 255) that are
already resized and cropped to input_size x input_size (the run's evaluation size,
data.eval_size), normalises them with the checkpoint's mean/std inside the graph, and returns
logits [N, classes] (no softmax). How an image file becomes that input is written beside the
model as OUT.preprocess.json, with the class names and, for the record, train_size (the
training size of the checkpoint's last epoch). Its "layout" says which of two ways:
  - "fixed_squares" (trained on a pack_hdf5 --size file, format version 1, and every checkpoint
    written before version 2): pack_hdf5's resize to stored_size with resize_mode, the centre
    window of eval_crop_ratio of each side, resized to input_size;
  - "aspect_kept" (a pack_hdf5 --max-side file, format version 2): torchvision's
    Resize(resize) + CenterCrop(crop) (resize: the shorter side; crop = input_size), after
    fitting the image's longer side to max_side as the packer stored it (never enlarging).
Both files are written atomically (temp file, fsync, rename).

Exit status: 0 done; 1 with one line naming the file when the checkpoint is missing, is not an
nxt checkpoint, or holds an architecture this script cannot rebuild.
"""
import nxt_venv  # noqa: F401  (re-runs this script under the project venv: data_tools/nxt_venv.py)
import argparse
import inspect
import json
import os
import sys
import tempfile
from collections import OrderedDict

import torch
import torchvision
from torchvision.models.resnet import Bottleneck, ResNet

PROGRAM = "export_model"
CHECKPOINT_FORMAT = "nxt-checkpoint"
NAMED_ARCHS = ("resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d")
# model.* defaults of nxt's config schema (src/common/config_schema.cpp), for configs that
# leave a key out; the checkpoints nxt writes hold the resolved config, so all keys are there.
MODEL_DEFAULTS = {"arch": "resnext50_32x4d", "blocks": [3, 4, 6, 3], "cardinality": 32,
                  "width_per_group": 4, "stem_width": 64, "stem": "imagenet"}
# torch 1.13 exports up to opset 17; 13 is read by every current ONNX runtime.
DEFAULT_OPSET = 13


class ExportError(Exception):
    """A problem with the input, reported as one line and exit status 1."""


# ---- Reading the checkpoint ---------------------------------------------------------------------

def load_checkpoint(path):
    if not os.path.isfile(path):
        raise ExportError(f"checkpoint '{path}' does not exist or is not a file")
    # torch >= 2.4 reads nxt's checkpoints (tensors, str, int, float, lists, dicts) with the safe
    # unpickler; 1.13's weights_only unpickler rejects plain floats, so there the default one.
    version = tuple(int(part) for part in torch.__version__.split(".")[:2])
    options = {"weights_only": True} if version >= (2, 4) else {}
    try:
        checkpoint = torch.load(path, map_location="cpu", **options)
    except Exception as error:  # any unreadable file: say which and why
        raise ExportError(f"'{path}' is not an nxt checkpoint (torch.load failed: "
                          f"{str(error).splitlines()[0] if str(error) else type(error).__name__})")
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise ExportError(f"'{path}' is not an nxt checkpoint (no format = '{CHECKPOINT_FORMAT}'"
                          " entry; a plain state dict has no config or classes to export with)")
    for key in ("model", "config", "classes"):
        if key not in checkpoint:
            raise ExportError(f"checkpoint '{path}' has no '{key}' entry")
    if "preprocess" not in checkpoint:
        raise ExportError(f"checkpoint '{path}' records no preprocessing (written by an nxt "
                          "before nxt_predict); train again to export it")
    return checkpoint


def model_config(checkpoint, path):
    import yaml  # python3-yaml; only needed here
    try:
        config = yaml.safe_load(checkpoint["config"])
    except yaml.YAMLError as error:
        raise ExportError(f"checkpoint '{path}': its embedded config is not YAML: {error}")
    model = dict(MODEL_DEFAULTS)
    model.update((config or {}).get("model") or {})
    return model


def preprocess_record(checkpoint, path):
    p = checkpoint["preprocess"]
    try:
        record = {
            "stored_size": [int(v) for v in p["stored_size"]],
            "resize_mode": str(p["resize_mode"]),
            "input_size": int(p["input_size"]),
            # absent in checkpoints written before data.eval_crop_ratio: a plain resize
            "eval_crop_ratio": float(p.get("eval_crop_ratio", 1.0)),
            "mean": [float(v) for v in p["mean"]],
            "std": [float(v) for v in p["std"]],
            # for the record: the training size of the epoch that wrote the checkpoint (null in
            # checkpoints written before data.train_size); input_size is the evaluation size
            "train_size": int(p["train_size"]) if p.get("train_size") else None,
        }
    except (KeyError, TypeError, ValueError) as error:
        raise ExportError(f"checkpoint '{path}': malformed preprocess entry ({error!r})")
    if len(record["stored_size"]) != 2 or len(record["mean"]) != 3 or len(record["std"]) != 3:
        raise ExportError(f"checkpoint '{path}': preprocess needs stored_size [H, W] and 3 "
                          "mean and std values")
    record.update(stored_layout_record(p, record["input_size"], path))
    return record


def stored_layout_record(p, input_size, path):
    """How the images of the training data were stored, and so how evaluation prepared them
    (Preprocess::layout() in src/checkpoint/checkpoint.h): max_side and eval_resize are absent
    (0) in checkpoints of version 1 data and in those written before format version 2."""
    try:
        max_side, resize = int(p.get("max_side", 0)), int(p.get("eval_resize", 0))
    except (TypeError, ValueError) as error:
        raise ExportError(f"checkpoint '{path}': malformed preprocess max_side/eval_resize "
                          f"({error!r})")
    if max_side <= 0:
        return {"layout": "fixed_squares"}
    if resize < input_size:
        raise ExportError(f"checkpoint '{path}': preprocess eval_resize {resize} is smaller than "
                          f"input_size {input_size} (version 2 data, max_side {max_side})")
    # What a deployer runs with PIL and torchvision to get nxt_eval's input (up to the packer's
    # JPEG re-encoding and OpenCV's area resize against PIL's antialiasing filter).
    return {"layout": "aspect_kept", "max_side": max_side, "resize": resize, "crop": input_size,
            "torchvision": f"Resize({resize}), CenterCrop({input_size}), ToTensor() on the "
                           f"image fitted to a longer side <= {max_side}"}


# ---- Rebuilding the network ---------------------------------------------------------------------

def nxt_layout_resnext(blocks, cardinality, width_per_group, stem_width, stem, num_classes):
    """nxt's ResNeXt (src/model/resnext.cpp) where torchvision's ResNet cannot express it: the
    cifar stem (3x3/1 conv, no max-pool), a stem width other than 64, any number of stages.
    Blocks are torchvision's Bottleneck (stride on the grouped 3x3 conv, 1x1 conv + BN shortcut
    where the shape changes). A Sequential of named children gives torchvision's state dict
    names (conv1, bn1, layerN.B.*, fc) and scripts as is."""
    imagenet = stem == "imagenet"
    kernel, stride = (7, 2) if imagenet else (3, 1)
    layers = [("conv1", torch.nn.Conv2d(3, stem_width, kernel, stride, kernel // 2, bias=False)),
              ("bn1", torch.nn.BatchNorm2d(stem_width)),
              ("relu", torch.nn.ReLU(inplace=True))]
    if imagenet:
        layers.append(("maxpool", torch.nn.MaxPool2d(3, 2, 1)))
    in_channels = stem_width
    for s, count in enumerate(blocks):
        planes = stem_width << s
        out_channels = planes * Bottleneck.expansion
        stage = []
        for b in range(count):
            block_stride = 2 if s > 0 and b == 0 else 1
            downsample = None
            if block_stride != 1 or in_channels != out_channels:
                downsample = torch.nn.Sequential(
                    torch.nn.Conv2d(in_channels, out_channels, 1, block_stride, bias=False),
                    torch.nn.BatchNorm2d(out_channels))
            stage.append(Bottleneck(in_channels, planes, block_stride, downsample,
                                    groups=cardinality, base_width=width_per_group))
            in_channels = out_channels
        layers.append((f"layer{s + 1}", torch.nn.Sequential(*stage)))
    layers += [("avgpool", torch.nn.AdaptiveAvgPool2d((1, 1))),
               ("flatten", torch.nn.Flatten(1)),
               ("fc", torch.nn.Linear(in_channels, num_classes))]
    return torch.nn.Sequential(OrderedDict(layers))


def build_network(model, num_classes, path):
    arch = model["arch"]
    if arch in NAMED_ARCHS:
        return getattr(torchvision.models, arch)(num_classes=num_classes), arch
    if arch != "custom":
        raise ExportError(f"checkpoint '{path}': unknown model.arch '{arch}' (this script "
                          f"exports {', '.join(NAMED_ARCHS)} and custom)")
    if model["stem"] not in ("imagenet", "cifar"):
        raise ExportError(f"checkpoint '{path}': unknown model.stem '{model['stem']}'")
    try:
        blocks = [int(b) for b in model["blocks"]]
        cardinality, width = int(model["cardinality"]), int(model["width_per_group"])
        stem_width = int(model["stem_width"])
    except (TypeError, ValueError) as error:
        raise ExportError(f"checkpoint '{path}': malformed custom model config ({error})")
    if model["stem"] == "imagenet" and stem_width == 64 and len(blocks) == 4:
        return ResNet(Bottleneck, blocks, num_classes=num_classes, groups=cardinality,
                      width_per_group=width), "torchvision ResNet(Bottleneck)"
    return (nxt_layout_resnext(blocks, cardinality, width, stem_width, model["stem"],
                               num_classes), "nxt's layout of torchvision Bottleneck blocks")


def load_weights(network, built_as, state, path):
    # Strict: every tensor of the checkpoint used, every parameter and buffer given, same shapes.
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as error:
        detail = " ".join(line.strip() for line in str(error).splitlines()[1:4])
        raise ExportError(f"checkpoint '{path}': its weights do not fit the model rebuilt from "
                          f"its config ({built_as}): {detail}")


class Deployable(torch.nn.Module):
    """float RGB NCHW in [0, 1] -> logits, with the checkpoint's normalisation inside."""

    def __init__(self, network, mean, std):
        super().__init__()
        self.network = network
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, images):
        return self.network((images - self.mean) / self.std)


# ---- Writing ------------------------------------------------------------------------------------

def current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomically(out, write):
    """Calls write(temp_path) for a temp file beside `out`, fsyncs it and renames it over `out`:
    an interrupted export never leaves a half file under the target name."""
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise ExportError(f"output folder '{folder}' does not exist")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=os.path.basename(out) + ".", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes it 0600; a model is shared
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def export(wrapper, fmt, out, input_size, opset):
    example = torch.rand(1, 3, input_size, input_size)
    if fmt == "torchscript":
        # Scripted, not traced: no shape is baked in, any batch size runs.
        scripted = torch.jit.script(wrapper)
        write_atomically(out, lambda tmp: scripted.save(tmp))
    else:
        # torch >= 2.9 defaults to the dynamo exporter (needs onnxscript, opset >= 18, and
        # treats dynamic_axes differently): ask for the TorchScript-based one where it exists.
        legacy = ({"dynamo": False}
                  if "dynamo" in inspect.signature(torch.onnx.export).parameters else {})
        write_atomically(out, lambda tmp: torch.onnx.export(
            wrapper, example, tmp, opset_version=opset, input_names=["images"],
            output_names=["logits"],
            dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}}, **legacy))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="best.pt or last.pt of an nxt run")
    parser.add_argument("--format", required=True, choices=("torchscript", "onnx"))
    parser.add_argument("out", help="the model file to write; OUT.preprocess.json goes beside it")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET,
                        help=f"ONNX opset (default {DEFAULT_OPSET})")
    args = parser.parse_args()
    try:
        checkpoint = load_checkpoint(args.checkpoint)
        classes = [str(c) for c in checkpoint["classes"]]
        preprocess = preprocess_record(checkpoint, args.checkpoint)
        network, built_as = build_network(model_config(checkpoint, args.checkpoint),
                                          len(classes), args.checkpoint)
        load_weights(network, built_as, checkpoint["model"], args.checkpoint)
        wrapper = Deployable(network, preprocess["mean"], preprocess["std"]).eval()
        export(wrapper, args.format, args.out, preprocess["input_size"], args.opset)
        record = {
            "model": os.path.basename(args.out),
            "format": args.format,
            "checkpoint": os.path.abspath(args.checkpoint),
            "classes": classes,
            **preprocess,
            "input": {"layout": "NCHW", "dtype": "float32", "channels": "RGB",
                      "range": [0.0, 1.0], "height": preprocess["input_size"],
                      "width": preprocess["input_size"],
                      "normalised_inside": True},
            "output": "logits [N, classes], no softmax",
        }
        text = json.dumps(record, indent=2) + "\n"

        def write_json(tmp):
            with open(tmp, "w") as f:
                f.write(text)
        write_atomically(args.out + ".preprocess.json", write_json)
    except ExportError as error:
        sys.exit(f"{PROGRAM}: {error}")
    print(f"{PROGRAM}: wrote {args.out} ({args.format}, {built_as}, {len(classes)} classes, "
          f"input 3x{preprocess['input_size']}x{preprocess['input_size']} in [0, 1]) and "
          f"{args.out}.preprocess.json")


if __name__ == "__main__":
    main()
