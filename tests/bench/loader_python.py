#!/usr/bin/python3
"""The notebook's input pipeline (the baseline of bench_loader.sh): ImageFolder over JPEG files,
Resize([224, 224]) + ToTensor + Normalize with ImageNet's mean/std, through a DataLoader with
batch 32 and shuffling, in one process on one thread. Prints images/s and peak RSS."""
import resource
import sys
import time

import torch
from torchvision import datasets, transforms

root, size = sys.argv[1], int(sys.argv[2])
limit = int(sys.argv[3]) if len(sys.argv) > 3 else None
torch.set_num_threads(1)
transform = transforms.Compose([
    transforms.Resize([size, size]),
    transforms.ToTensor(),
    transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
])
dataset = datasets.ImageFolder(root, transform=transform)
loader = torch.utils.data.DataLoader(dataset, batch_size=32, shuffle=True, num_workers=0)
images = 0
start = time.time()
for x, y in loader:
    images += x.shape[0]
    if limit and images >= limit:
        break
elapsed = time.time() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
print(f"python loader: {images} images in {elapsed:.2f} s = {images / elapsed:.1f} img/s, "
      f"peak RSS {peak} MB")
