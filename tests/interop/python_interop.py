#!/usr/bin/env python3
"""The Python half of the nxt <-> torchvision/timm interop test (run with NXT_PYTHON: the
project venv's torch 2.15, torchvision 0.29 and timm). LIBRARY is torchvision or timm; both name
ResNeXt-50's parameters as nxt does (timm's resnext50_32x4d has torchvision's key set).

  check LIBRARY ARCH CLASSES WEIGHTS IO  loads nxt's weights into LIBRARY's model (strict: equal
                                         key sets; torch.load's weights-only default), runs IO's
                                         'input' in eval mode, and compares with IO's 'logits'.
  make LIBRARY ARCH CLASSES OUT_DIR      writes LIBRARY's weights as model.state_dict()
                                         (OrderedDict, state_dict.pth) and as a plain dict
                                         (plain.pt), with input and logits (io.pt) for nxt.
"""
import sys

import torch
import torchvision


def build(library, arch, classes):
    if library == "timm":
        import timm
        return timm.create_model(arch, pretrained=False, num_classes=int(classes)).eval()
    assert library == "torchvision", library
    return getattr(torchvision.models, arch)(num_classes=int(classes)).eval()


def check(library, arch, classes, weights_path, io_path):
    model = build(library, arch, classes)
    state = torch.load(weights_path)  # torch.load's defaults (weights-only since 2.6)
    expected, actual = set(model.state_dict().keys()), set(state.keys())
    if expected != actual:
        print("key sets differ: only torchvision:", sorted(expected - actual)[:5],
              "only nxt:", sorted(actual - expected)[:5])
        return 1
    model.load_state_dict(state, strict=True)
    io = torch.load(io_path)
    with torch.no_grad():
        logits = model(io["input"])
    diff = (logits - io["logits"]).abs().max().item()
    print(f"max |logits_{library} - logits_nxt| = {diff:.3g}")
    return 0 if diff < 1e-4 else 1


def randomise_batchnorm(model, generator):
    # Non-trivial running stats, so that eval-mode BN really is compared.
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1, generator=generator)
            module.running_var.uniform_(0.5, 1.5, generator=generator)
            module.weight.data.uniform_(0.5, 1.5, generator=generator)
            module.bias.data.uniform_(-0.1, 0.1, generator=generator)
            module.num_batches_tracked.fill_(7)


def make(library, arch, classes, out_dir):
    torch.manual_seed(123)
    model = build(library, arch, classes)
    randomise_batchnorm(model, torch.Generator().manual_seed(5))
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        logits = model(x)
    torch.save(model.state_dict(), f"{out_dir}/state_dict.pth")  # an OrderedDict
    torch.save(dict(model.state_dict()), f"{out_dir}/plain.pt")
    torch.save({"input": x, "logits": logits}, f"{out_dir}/io.pt")
    return 0


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    sys.exit({"check": check, "make": make}[command](*args))
