#!/usr/bin/env python3
"""The Python side of bench_loader.sh: ImageFolder over JPEG files through a DataLoader with batch
32 and shuffling, in one process on one thread. Without options: the notebook's pipeline,
Resize([size, size]) + ToTensor + Normalize with ImageNet's mean/std (the baseline). With
--augment: torchvision's reference training pipeline for the same options as nxt's loader,
RandomResizedCrop(size) + RandomHorizontalFlip + [TrivialAugmentWide] + [ColorJitter(s, s, s)]
+ ToTensor + Normalize. Prints images/s and peak RSS.
  loader_python.py ROOT SIZE [LIMIT] [--augment] [--auto-augment none|trivial]
                   [--color-jitter S]"""
import argparse
import resource
import time

import torch
from torchvision import datasets, transforms

parser = argparse.ArgumentParser()
parser.add_argument("root")
parser.add_argument("size", type=int)
parser.add_argument("limit", type=int, nargs="?")
parser.add_argument("--augment", action="store_true")
parser.add_argument("--auto-augment", choices=["none", "trivial"], default="none")
parser.add_argument("--color-jitter", type=float, default=0.0)
args = parser.parse_args()
torch.set_num_threads(1)
if args.augment:
    stages = [transforms.RandomResizedCrop(args.size), transforms.RandomHorizontalFlip()]
    if args.auto_augment == "trivial":
        stages.append(transforms.TrivialAugmentWide())
    if args.color_jitter > 0:
        s = args.color_jitter
        stages.append(transforms.ColorJitter(brightness=s, contrast=s, saturation=s))
    what = ", ".join(type(stage).__name__ for stage in stages)
else:
    stages = [transforms.Resize([args.size, args.size])]
    what = "Resize"
transform = transforms.Compose(stages + [
    transforms.ToTensor(),
    transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
])
dataset = datasets.ImageFolder(args.root, transform=transform)
loader = torch.utils.data.DataLoader(dataset, batch_size=32, shuffle=True, num_workers=0)
images = 0
start = time.time()
for x, y in loader:
    images += x.shape[0]
    if args.limit and images >= args.limit:
        break
elapsed = time.time() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
print(f"python loader ({what}): {images} images in {elapsed:.2f} s = {images / elapsed:.1f} "
      f"img/s, peak RSS {peak} MB")
