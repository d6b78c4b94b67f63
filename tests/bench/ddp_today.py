#!/usr/bin/env python3
"""Today's Python peer for bench_train.sh: PyTorch DDP (gloo) training torchvision's
resnext50_32x4d on the same packed HDF5 file nxt reads (train split, uint8 NHWC, held in memory,
normalised with ImageNet mean/std), Adam 1e-4, with the settings that favour it on a CPU:
channels-last, torch.set_num_threads = the rank's share of the cores, no data loader workers
(the batches are slices of a tensor in memory, so the loader costs nothing).

    ddp_today.py PACKED.h5 RANKS BATCH WARMUP_STEPS TIMED_STEPS eager|compile

`compile` wraps the DDP model in torch.compile (inductor's C++ backend on CPU). The warm-up
steps (the compilation included) are excluded from the timing and their time is printed apart.
Prints one line from rank 0: images/s over the timed steps of all ranks together.
With NXT_PEER_TRACE=PATH, rank 0 records the timed steps with torch.profiler (shapes, memory,
FLOPs, each step a ProfilerStep#N range, as nxt's run.profile_steps) and writes PATH, for
compare_profiles.py; the rate is then the profiled one.
"""
import os
import resource
import sys
import time

import h5py
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torchvision

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def worker(rank, world, path, batch, warmup, timed, mode, port, threads):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(threads)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    with h5py.File(path) as f:
        images = torch.from_numpy(f["train/images"][()])
        labels = torch.from_numpy(f["train/labels"][()]).long()
        classes = len(f["classes"])
    mean = torch.tensor(MEAN).view(1, 3, 1, 1) * 255
    std = torch.tensor(STD).view(1, 3, 1, 1) * 255
    torch.manual_seed(0)
    model = torchvision.models.resnext50_32x4d(num_classes=classes)
    model = model.to(memory_format=torch.channels_last)
    model = torch.nn.parallel.DistributedDataParallel(model)
    if mode == "compile":
        model = torch.compile(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step(index):
        start = ((index * world + rank) * batch) % max(1, len(images) - batch)
        x = images[start:start + batch].permute(0, 3, 1, 2).float()
        x = ((x - mean) / std).contiguous(memory_format=torch.channels_last)
        loss = torch.nn.functional.cross_entropy(model(x), labels[start:start + batch])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    model.train()
    t0 = time.time()
    for i in range(warmup):
        step(i)
    dist.barrier()
    t1 = time.time()
    trace = os.environ.get("NXT_PEER_TRACE") if rank == 0 else None
    profiler = None
    if trace:
        profiler = torch.profiler.profile(
            activities=[torch.profiler.ProfilerActivity.CPU], record_shapes=True,
            profile_memory=True, with_flops=True)
        profiler.start()
    for i in range(warmup, warmup + timed):
        if profiler:
            with torch.profiler.record_function(f"ProfilerStep#{i + 1}"):
                step(i)
        else:
            step(i)
    if profiler:
        profiler.stop()
        profiler.export_chrome_trace(trace)
    dist.barrier()
    t2 = time.time()
    if rank == 0:
        rate = timed * batch * world / (t2 - t1)
        print(f"python {mode}: {world} rank(s) x batch {batch}, {threads} thread(s) per rank: "
              f"{rate:.2f} img/s over {timed} steps ({t2 - t1:.1f} s); warm-up {warmup} steps "
              f"{t1 - t0:.1f} s (excluded); rank 0 peak RSS "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    path, world, batch, warmup, timed, mode = sys.argv[1:7]
    world = int(world)
    threads = max(1, (os.cpu_count() or 1) // world)
    mp.spawn(worker, nprocs=world, args=(world, path, int(batch), int(warmup), int(timed), mode,
                                         29500 + os.getpid() % 1000, threads))
