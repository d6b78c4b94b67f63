#!/usr/bin/env python3
"""The obvious Python way to pack an ImageFolder (the baseline of bench_pack.sh): one process,
PIL decode + convert('RGB') + resize, written image by image into an h5py dataset."""
import os
import sys
import time

import h5py
import numpy as np
from PIL import Image

root, output, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
files = [(os.path.join(root, c, f), i) for i, c in enumerate(classes)
         for f in sorted(os.listdir(os.path.join(root, c)))]
start = time.time()
with h5py.File(output, "w") as out:
    images = out.create_dataset("images", (len(files), size, size, 3), np.uint8,
                                chunks=(1, size, size, 3))
    labels = np.zeros(len(files), np.int32)
    for n, (path, label) in enumerate(files):
        image = Image.open(path).convert("RGB").resize((size, size), Image.BILINEAR)
        images[n] = np.asarray(image)
        labels[n] = label
    out["labels"] = labels
elapsed = time.time() - start
print(f"python: {len(files)} images in {elapsed:.2f} s = {len(files) / elapsed:.1f} img/s")
