"""The PyTorch side of the device check: torchvision's resnext50_32x4d trained in eager mode
with bf16 autocast and channels_last, the way a careful PyTorch user would, on the same batch
size and optimizer as nxt's run. Data: uint8 batches already on the GPU, normalised there each
step (no loader cost at all: the most favourable setting for PyTorch).

Prints one JSON line: images_per_s, peak_allocated_gib, step_ms.

usage: torch_reference.py --batch B --steps N --warmup W [--size 224] [--classes 4] [--device cuda]
"""
import argparse
import json
import time

import torch
import torchvision


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--classes", type=int, default=4)
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True
    model = torchvision.models.resnext50_32x4d(num_classes=args.classes).to(device)
    model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True,
                                weight_decay=5e-5)
    mean = torch.tensor([0.485, 0.456, 0.406], device=device).view(1, 3, 1, 1) * 255
    std = torch.tensor([0.229, 0.224, 0.225], device=device).view(1, 3, 1, 1) * 255
    generator = torch.Generator(device="cpu").manual_seed(0)
    batches = [
        (torch.randint(0, 256, (args.batch, args.size, args.size, 3), dtype=torch.uint8,
                       generator=generator).to(device),
         torch.randint(0, args.classes, (args.batch,), generator=generator).to(device))
        for _ in range(4)
    ]
    loss_fn = torch.nn.CrossEntropyLoss()

    def step(i):
        pixels, labels = batches[i % len(batches)]
        images = (pixels.permute(0, 3, 1, 2).float() - mean) / std  # channels-last view
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=cuda):
            loss = loss_fn(model(images).float(), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss

    def sync():
        if cuda:
            torch.cuda.synchronize()

    for i in range(args.warmup):
        step(i)
    sync()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for i in range(args.steps):
        loss = step(i)
    loss.item()
    sync()
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else 0.0
    print(json.dumps({"images_per_s": args.batch * args.steps / seconds,
                      "step_ms": 1000 * seconds / args.steps,
                      "peak_allocated_gib": peak, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
