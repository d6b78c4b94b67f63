#!/usr/bin/env python3
"""torchvision's TrivialAugmentWide ops, forced, on one raw uint8 HWC RGB image (the reference for
tests/unit/test_augment.cpp). Arguments: INPUT.raw HEIGHT WIDTH CASES.txt OUT_DIR, where each
line of CASES.txt is "op_index bin negative" (torchvision's op order). For case k it writes
OUT_DIR/case_k.raw (uint8 HWC) and one line "k magnitude" (repr) to OUT_DIR/magnitudes.txt."""
import os
import sys

import torch
from torchvision.transforms import InterpolationMode, TrivialAugmentWide
from torchvision.transforms.autoaugment import _apply_op

source, height, width, cases, out_dir = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
    sys.argv[4], sys.argv[5]
with open(source, "rb") as f:
    hwc = torch.frombuffer(bytearray(f.read()), dtype=torch.uint8).view(height, width, 3)
image = hwc.permute(2, 0, 1).contiguous()
space = TrivialAugmentWide()._augmentation_space(31)
names = list(space.keys())
lines = []
with open(cases) as f:
    for k, line in enumerate(f):
        op_index, bin_index, negative = (int(v) for v in line.split())
        name = names[op_index]
        magnitudes, signed = space[name]
        # As TrivialAugmentWide.forward picks it.
        magnitude = float(magnitudes[bin_index].item()) if magnitudes.ndim > 0 else 0.0
        if signed and negative:
            magnitude *= -1.0
        out = _apply_op(image, name, magnitude, interpolation=InterpolationMode.NEAREST, fill=None)
        with open(os.path.join(out_dir, f"case_{k}.raw"), "wb") as o:
            o.write(out.permute(1, 2, 0).contiguous().numpy().tobytes())
        lines.append(f"{k} {magnitude!r}\n")
with open(os.path.join(out_dir, "magnitudes.txt"), "w") as f:
    f.writelines(lines)
