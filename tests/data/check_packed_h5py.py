#!/usr/bin/env python3
"""Reads a packed file with h5py (Debian's python3-h5py) and checks it against the image folder
it came from: format attributes, class order (sorted, as ImageFolder), split shapes, labels
matching each path's class folder, pixels equal to a PIL decode of a few source files, and the
optional test split (with its attributes when present; splits disjoint).

usage: check_packed_h5py.py FILE.h5 IMAGE_FOLDER
  (packed from IMAGE_FOLDER alone, no --val-dir or --test-dir, with --size equal to the sources')
"""
import sys

import h5py
import numpy as np
from PIL import Image

path, folder = sys.argv[1], sys.argv[2]
with h5py.File(path, "r") as f:
    assert f.attrs["format"] == "nxt-images", f.attrs["format"]
    assert f.attrs["layout"] == "NHWC" and int(f.attrs["channels"][0]) == 3
    h, w = (int(v) for v in f.attrs["image_size"])
    classes = [c.decode() if isinstance(c, bytes) else c for c in f["classes"][()]]
    assert classes == sorted(classes), classes
    has_test = "test" in f
    assert has_test == ("test_fraction" in f.attrs) == ("test_source" in f.attrs), list(f.attrs)
    splits = ("train", "val", "test") if has_test else ("train", "val")
    seen = set()
    worst = 0
    for split in splits:
        images, labels = f[split]["images"], f[split]["labels"][()]
        paths = [p.decode() for p in f[split]["paths"][()]]
        assert images.shape == (len(labels), h, w, 3) and images.dtype == np.uint8, images.shape
        for label, rel in zip(labels, paths):
            assert rel.split("/")[0] == classes[label], (rel, label)
        assert seen.isdisjoint(paths), (split, sorted(seen.intersection(paths))[:3])
        seen.update(paths)
        for i in range(0, len(paths), max(1, len(paths) // 5)):
            reference = np.asarray(Image.open(f"{folder}/{paths[i]}").convert("RGB"), np.int16)
            worst = max(worst, int(np.abs(images[i].astype(np.int16) - reference).max()))
    mean = np.asarray(f.attrs["mean"])
    assert mean.shape == (3,) and (0 < mean).all() and (mean < 1).all(), mean
print(f"h5py check OK: {len(classes)} classes, splits {', '.join(splits)}, "
      f"max |nxt - PIL| pixel difference {worst}")
sys.exit(0 if worst <= 2 else 1)
