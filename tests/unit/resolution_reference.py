#!/usr/bin/env python3
"""The references for tests/unit/test_resolution.cpp, computed by the libraries themselves.

    resolution_reference.py ffcv CASES.txt OUT.txt
        Each line of CASES.txt is "train_size train_size_end from to epoch" in nxt's terms
        (1-based epochs and ramp). Writes one size per line: FFCV's get_resolution
        (ffcv-imagenet's train_imagenet.py: numpy's interp and round), called with FFCV's
        0-based epoch and ramp (nxt's minus 1).
    resolution_reference.py erasing N HEIGHT WIDTH OUT.txt
        N draws of torchvision's RandomErasing.get_params(scale=(0.02, 0.33), ratio=(0.3, 3.3),
        value=[0]) on a [3, HEIGHT, WIDTH] image (seeded), one "h w top left" line each; h 0
        where its ten tries failed (torchvision then erases nothing).
"""
import sys

import numpy as np


def ffcv_get_resolution(epoch, min_res, max_res, start_ramp, end_ramp):
    # FFCV's rule, as written there (0-based epochs).
    if epoch <= start_ramp:
        return min_res
    if epoch >= end_ramp:
        return max_res
    interp = np.interp([epoch], [start_ramp, end_ramp], [min_res, max_res])
    return int(np.round(interp[0] / 32)) * 32


def ffcv(cases, out):
    lines = []
    with open(cases) as f:
        for line in f:
            start, end, first, last, epoch = (int(v) for v in line.split())
            lines.append(str(ffcv_get_resolution(epoch - 1, start, end, first - 1, last - 1)))
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")


def erasing(n, height, width, out):
    import torch
    from torchvision.transforms import RandomErasing
    torch.manual_seed(0)
    image = torch.zeros(3, height, width)
    lines = []
    for _ in range(n):
        top, left, h, w, value = RandomErasing.get_params(image, scale=(0.02, 0.33),
                                                          ratio=(0.3, 3.3), value=[0.0])
        if value is image:  # ten failures: erasing with the image itself changes nothing
            h = w = 0
        lines.append(f"{h} {w} {top} {left}")
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    if sys.argv[1] == "ffcv":
        ffcv(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "erasing":
        erasing(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    else:
        sys.exit(f"resolution_reference.py: unknown mode '{sys.argv[1]}' (ffcv | erasing)")
