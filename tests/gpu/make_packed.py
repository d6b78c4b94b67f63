"""Writes a synthetic packed dataset (nxt-images v1, docs/hdf5-format.md) with h5py alone.

The device check uses it where pack_hdf5's image decoders (OpenCV imgcodecs) are not built:
random-ish uint8 images (smooth per-class patterns plus noise, so a model can learn a little),
one image per chunk, exactly the layout pack_hdf5 writes.

usage: make_packed.py OUT.h5 --train N --val M --size S [--classes C]
"""
import argparse
import os
import tempfile

import h5py
import numpy as np


def images(count, size, classes, rng):
    labels = np.arange(count, dtype=np.int32) % classes
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    out = np.empty((count, size, size, 3), dtype=np.uint8)
    for i, label in enumerate(labels):
        phase = 2 * np.pi * label / classes
        base = 127 + 100 * np.sin(6 * (x * np.cos(phase) + y * np.sin(phase)) + phase)
        noise = rng.integers(-40, 40, size=(size, size, 3))
        out[i] = np.clip(base[..., None] + noise, 0, 255).astype(np.uint8)
    return out, labels


def write_split(f, name, pixels, labels):
    group = f.create_group(name)
    n, h, w, _ = pixels.shape
    group.create_dataset("images", data=pixels, chunks=(1, h, w, 3))
    group.create_dataset("labels", data=labels)
    paths = [f"synthetic/{name}/{i:06d}.png" for i in range(n)]
    group.create_dataset("paths", data=paths, dtype=h5py.string_dtype())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("output")
    parser.add_argument("--train", type=int, required=True)
    parser.add_argument("--val", type=int, required=True)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--classes", type=int, default=4)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    train, train_labels = images(args.train, args.size, args.classes, rng)
    val, val_labels = images(args.val, args.size, args.classes, rng)
    folder = os.path.dirname(os.path.abspath(args.output))
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    os.close(fd)
    with h5py.File(tmp, "w") as f:
        f.attrs["format"] = "nxt-images"
        f.attrs["format_version"] = np.array([1], dtype=np.int64)
        f.attrs["image_size"] = np.array([args.size, args.size], dtype=np.int64)
        f.attrs["channels"] = np.array([3], dtype=np.int64)
        f.attrs["layout"] = "NHWC"
        scaled = train[: min(len(train), 256)].astype(np.float64) / 255
        f.attrs["mean"] = scaled.mean(axis=(0, 1, 2))
        f.attrs["std"] = scaled.std(axis=(0, 1, 2))
        f.attrs["seed"] = np.array([0], dtype=np.int64)
        f.attrs["val_fraction"] = np.array([-1.0])
        f.attrs["source"] = "synthetic"
        f.attrs["val_source"] = "synthetic"
        f.attrs["resize_mode"] = "stretch"
        f.attrs["fingerprint"] = f"{args.train:08x}{args.size:08x}"[:16]
        names = [f"pattern{c}" for c in range(args.classes)]
        f.create_dataset("classes", data=names, dtype=h5py.string_dtype())
        write_split(f, "train", train, train_labels)
        write_split(f, "val", val, val_labels)
        skipped = f.create_group("skipped")
        skipped.create_dataset("paths", shape=(0,), dtype=h5py.string_dtype())
        skipped.create_dataset("reasons", shape=(0,), dtype=h5py.string_dtype())
    os.replace(tmp, args.output)
    print(f"make_packed: {args.output}: {args.train} train + {args.val} val images, "
          f"{args.size}px, {args.classes} classes")


if __name__ == "__main__":
    main()
