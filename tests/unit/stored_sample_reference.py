#!/usr/bin/env python3
"""torchvision's Resize (shorter side) and CenterCrop, the reference for
tests/unit/test_stored_sample.cpp (data/stored_sample.h). Two modes:

  geometry CASES.txt OUT.txt
      Each line of CASES.txt is "resize H W S" or "crop H W h w". For "resize", OUT gets
      "H' W'": the shape of F.resize(image [1, H, W], [S]). For "crop", OUT gets "top left": the
      window F.center_crop(image [1, H, W], [h, w]) takes, read off an image whose values are
      their own flat index.
  resize IN.raw H W CASES.txt OUT_DIR
      IN.raw is uint8 HWC RGB; each line k of CASES.txt is "S h w". Writes OUT_DIR/case_k.raw:
      F.center_crop(F.resize(image, [S], antialias=True), [h, w]) (bilinear), uint8 HWC.
"""
import os
import sys

import torch
import torchvision.transforms.functional as F
from torchvision.transforms import InterpolationMode


def geometry(cases, out):
    lines = []
    with open(cases) as f:
        for line in f:
            kind, *values = line.split()
            values = [int(v) for v in values]
            if kind == "resize":
                height, width, shorter = values
                resized = F.resize(torch.zeros(1, height, width, dtype=torch.uint8), [shorter],
                                   antialias=True)
                lines.append(f"{resized.shape[1]} {resized.shape[2]}\n")
            elif kind == "crop":
                height, width, crop_height, crop_width = values
                index = torch.arange(height * width, dtype=torch.int64).view(1, height, width)
                first = int(F.center_crop(index, [crop_height, crop_width])[0, 0, 0])
                lines.append(f"{first // width} {first % width}\n")
            else:
                raise SystemExit(f"{cases}: unknown case kind {kind!r}")
    with open(out, "w") as f:
        f.writelines(lines)


def resize(source, height, width, cases, out_dir):
    with open(source, "rb") as f:
        hwc = torch.frombuffer(bytearray(f.read()), dtype=torch.uint8).view(height, width, 3)
    image = hwc.permute(2, 0, 1).contiguous()
    with open(cases) as f:
        for k, line in enumerate(f):
            shorter, crop_height, crop_width = (int(v) for v in line.split())
            resized = F.resize(image, [shorter], interpolation=InterpolationMode.BILINEAR,
                               antialias=True)
            out = F.center_crop(resized, [crop_height, crop_width])
            with open(os.path.join(out_dir, f"case_{k}.raw"), "wb") as o:
                o.write(out.permute(1, 2, 0).contiguous().numpy().tobytes())


if __name__ == "__main__":
    if sys.argv[1] == "geometry":
        geometry(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "resize":
        resize(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6])
    else:
        raise SystemExit(f"unknown mode {sys.argv[1]!r}")
