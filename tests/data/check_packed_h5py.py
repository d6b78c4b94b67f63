#!/usr/bin/env python3
"""Reads a packed file with h5py (Debian's python3-h5py) and checks it against the image folder
it came from: format attributes, class order (sorted, as ImageFolder), split shapes, labels
matching each path's class folder, pixels close to a PIL decode of the source files, and the
optional test split (with its attributes when present; splits disjoint).

Version 1 (--size): pixels equal to PIL's (within 2 levels) for a few files per split.
Version 2 (--max-side): every index row (columns, records back to back filling the stream, the
shape PIL's image fits to), every record decoded here (raw: a reshape; JPEG: PIL from the bytes)
and compared with PIL's decode of its source (resized with PIL's box (area) filter where the
packer resized: a different resampler from the packer's OpenCV one): raw records of unresized
sources within 2 levels; other raw records a mean difference under 6 levels (measured on
tests/unit/test_pack.cpp's folder: PNG sources 0.2 to 0.7, large JPEG sources, which the packer
decodes at 1/8 scale in the DCT domain, up to 4.3); JPEG records (q90, 4:2:0) under 8
(measured: 5.8 at most). An unrelated or transposed image differs by ~50.

usage: check_packed_h5py.py FILE.h5 IMAGE_FOLDER
  (packed from IMAGE_FOLDER alone, no --val-dir or --test-dir; version 1 with --size equal to
  the sources')
"""
import io
import sys

import h5py
import numpy as np
from PIL import Image, ImageOps

INDEX_COLUMNS = "offset,bytes,height,width,encoding"
RAW, JPEG = 0, 1
CHUNK_BYTES = 4 << 20


def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def fit(width, height, max_side):
    """The packer's fit: longer side to max_side (never enlarged), other side rounded half up."""
    longer = max(width, height)
    if longer <= max_side:
        return width, height
    other = lambda side: max(1, (2 * side * max_side + longer) // (2 * longer))
    return (max_side, other(height)) if width >= height else (other(width), max_side)


def source_rgb(folder, rel):
    return ImageOps.exif_transpose(Image.open(f"{folder}/{rel}")).convert("RGB")


def check_squares(f, split, paths, folder):
    """Version 1: [N, H, W, 3] squares; returns the worst pixel difference to PIL, and two
    zeros (version 2's mean differences)."""
    h, w = (int(v) for v in f.attrs["image_size"])
    images = f[split]["images"]
    assert images.shape == (len(paths), h, w, 3) and images.dtype == np.uint8, images.shape
    worst = 0
    for i in range(0, len(paths), max(1, len(paths) // 5)):
        reference = np.asarray(Image.open(f"{folder}/{paths[i]}").convert("RGB"), np.int16)
        worst = max(worst, int(np.abs(images[i].astype(np.int16) - reference).max()))
    return worst, 0.0, 0.0


def check_stream(f, split, paths, folder):
    """Version 2: the stream and its index; returns the worst difference of unresized raw
    records, and the worst mean differences of the other raw records and of the JPEG ones, to
    PIL."""
    max_side = int(f.attrs["max_side"][0])
    data, index = f[split]["data"], f[split]["index"][()]
    assert text(f[split]["index"].attrs["columns"]) == INDEX_COLUMNS, f[split]["index"].attrs
    assert data.ndim == 1 and data.dtype == np.uint8 and data.compression is None, data
    assert data.chunks == (CHUNK_BYTES,), data.chunks
    assert index.shape == (len(paths), 5) and index.dtype == np.int64, index.shape
    offsets, sizes, heights, widths, encodings = index.T
    assert (offsets == np.cumsum(sizes) - sizes).all(), "records must lie back to back"
    assert sizes.sum() == data.shape[0], (sizes.sum(), data.shape)
    assert set(encodings.tolist()) <= {RAW, JPEG}, set(encodings.tolist())
    storage = text(f.attrs["storage"])
    expected_encodings = {"raw": {RAW}, "jpeg": {JPEG}, "mixed": {RAW, JPEG}}[storage]
    assert set(encodings.tolist()) <= expected_encodings, (storage, set(encodings.tolist()))
    stream = data[()]
    worst_exact, worst_raw, worst_jpeg = 0, 0.0, 0.0
    for i, rel in enumerate(paths):
        source = source_rgb(folder, rel)
        width, height = fit(*source.size, max_side)
        assert (heights[i], widths[i]) == (height, width), (rel, heights[i], widths[i], source.size)
        record = stream[offsets[i]:offsets[i] + sizes[i]].tobytes()
        if encodings[i] == RAW:
            assert sizes[i] == height * width * 3, (rel, sizes[i])
            stored = np.frombuffer(record, np.uint8).reshape(height, width, 3)
        else:
            decoded = Image.open(io.BytesIO(record))
            assert decoded.format == "JPEG" and decoded.size == (width, height), (rel, decoded)
            stored = np.asarray(decoded.convert("RGB"))
        resized = source.size != (width, height)
        reference = np.asarray(source.resize((width, height), Image.BOX) if resized else source,
                               np.int16)
        difference = np.abs(stored.astype(np.int16) - reference)
        if encodings[i] == JPEG:
            worst_jpeg = max(worst_jpeg, float(difference.mean()))
        elif resized:
            worst_raw = max(worst_raw, float(difference.mean()))
        else:
            worst_exact = max(worst_exact, int(difference.max()))
    return worst_exact, worst_raw, worst_jpeg


path, folder = sys.argv[1], sys.argv[2]
with h5py.File(path, "r") as f:
    assert f.attrs["format"] == "nxt-images", f.attrs["format"]
    assert f.attrs["layout"] == "NHWC" and int(f.attrs["channels"][0]) == 3
    version = int(f.attrs["format_version"][0])
    assert version in (1, 2), version
    if version == 2:
        max_side = int(f.attrs["max_side"][0])
        assert [int(v) for v in f.attrs["image_size"]] == [max_side, max_side]
        assert text(f.attrs["resize_mode"]) == "fit", f.attrs["resize_mode"]
        assert ("jpeg_share" in f.attrs) == (text(f.attrs["storage"]) == "mixed"), list(f.attrs)
    classes = [text(c) for c in f["classes"][()]]
    assert classes == sorted(classes), classes
    has_test = "test" in f
    assert has_test == ("test_fraction" in f.attrs) == ("test_source" in f.attrs), list(f.attrs)
    splits = ("train", "val", "test") if has_test else ("train", "val")
    seen = set()
    worst, worst_raw, worst_jpeg = 0, 0.0, 0.0
    for split in splits:
        labels = f[split]["labels"][()]
        paths = [p.decode() for p in f[split]["paths"][()]]
        assert len(paths) == len(labels), (split, len(paths), len(labels))
        for label, rel in zip(labels, paths):
            assert rel.split("/")[0] == classes[label], (rel, label)
        assert seen.isdisjoint(paths), (split, sorted(seen.intersection(paths))[:3])
        seen.update(paths)
        check = check_squares if version == 1 else check_stream
        exact, raw, jpeg = check(f, split, paths, folder)
        worst, worst_raw, worst_jpeg = max(worst, exact), max(worst_raw, raw), max(worst_jpeg, jpeg)
    mean = np.asarray(f.attrs["mean"])
    assert mean.shape == (3,) and (0 < mean).all() and (mean < 1).all(), mean
ok = worst <= 2 and worst_raw < 6 and worst_jpeg < 8
print(f"h5py check {'OK' if ok else 'FAILED'}: version {version}, {len(classes)} classes, splits "
      f"{', '.join(splits)}, max |nxt - PIL| pixel difference {worst}" +
      (f", worst mean difference {worst_raw:.2f} (resized raw), {worst_jpeg:.2f} (JPEG)"
       if version == 2 else ""))
sys.exit(0 if ok else 1)
