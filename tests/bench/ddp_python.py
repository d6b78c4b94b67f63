#!/usr/bin/python3
"""The Python way, for bench_train.sh: PyTorch DDP (gloo, torch.multiprocessing) training a
torchvision ResNeXt fed the notebook's way (ImageFolder over JPEG files, Resize + ToTensor +
Normalize, DistributedSampler, DataLoader with num_workers=0), one thread per rank, Adam.
Prints the training images/s of one epoch (like nxt_ddp's Img/s).
    ddp_python.py IMAGE_DIR RANKS SIZE BATCH BLOCKS(e.g. 3,4,6,3) EPOCHS"""
import os
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torchvision import datasets, transforms
from torchvision.models.resnet import Bottleneck, ResNet


def worker(rank, world, root, size, batch, blocks, epochs, port):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    data = datasets.ImageFolder(root, transforms.Compose([
        transforms.Resize([size, size]), transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])]))
    sampler = torch.utils.data.distributed.DistributedSampler(data, world, rank, shuffle=True, seed=0)
    loader = torch.utils.data.DataLoader(data, batch_size=batch, sampler=sampler, num_workers=0)
    torch.manual_seed(0)
    model = ResNet(Bottleneck, blocks, groups=32, width_per_group=4, num_classes=len(data.classes))
    model = torch.nn.parallel.DistributedDataParallel(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        model.train()
        seen, start = 0, time.time()
        for x, y in loader:
            loss = torch.nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            seen += x.shape[0]
        elapsed = time.time() - start
        total = torch.tensor([seen], dtype=torch.float64)
        dist.all_reduce(total)
        if rank == 0:
            print(f"python ddp: epoch {epoch + 1}: {int(total)} images in {elapsed:.1f} s = "
                  f"{total.item() / elapsed:.2f} img/s", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    root, ranks, size, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    blocks = [int(b) for b in sys.argv[5].split(",")]
    epochs = int(sys.argv[6])
    mp.spawn(worker, args=(ranks, root, size, batch, blocks, epochs, 29500 + os.getpid() % 1000),
             nprocs=ranks)
