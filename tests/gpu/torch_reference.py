"""The PyTorch side of the device check: ResNeXt-50 (32x4d) trained in eager mode with bf16
autocast and channels_last, the way a careful PyTorch user would, on the same batch size and
optimizer as nxt's run. Data: uint8 batches already on the GPU, normalised there each step (no
loader cost at all: the most favourable setting for PyTorch).

The model is torchvision's resnext50_32x4d when torchvision is installed; the device machine is
only known to have torch, so without torchvision the same network is built here (torchvision's
layer for layer: 25,028,904 parameters at 1000 classes, checked by --count-parameters).

Prints one JSON line: images_per_s, step_ms, peak_allocated_gib and peak_reserved_gib (CUDA's
caching allocator over the timed steps) or peak_rss_gib (CPU: the process's peak RSS), model
(where the network came from), torch.

usage: torch_reference.py --batch B --steps N --warmup W [--size 224] [--classes 4] [--device cuda]
       torch_reference.py --count-parameters [--own-model]
"""
import argparse
import json
import resource
import time

import torch
from torch import nn


class Bottleneck(nn.Module):
    """torchvision's Bottleneck with groups=32, width_per_group=4 (stride on the 3x3)."""

    def __init__(self, inplanes, planes, stride):
        super().__init__()
        width = planes * 2  # planes * (4 / 64) * 32
        out = planes * 4
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, groups=32, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or inplanes != out:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, out, 1, stride, bias=False),
                                            nn.BatchNorm2d(out))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        return self.relu(self.bn3(self.conv3(y)) + identity)


class ResNeXt50(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        layers, inplanes = [], 64
        for planes, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
            stage = []
            for b in range(blocks):
                stage.append(Bottleneck(inplanes, planes, stride if b == 0 else 1))
                inplanes = planes * 4
            layers.append(nn.Sequential(*stage))
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2048, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def make_model(num_classes, own):
    if not own:
        try:
            import torchvision
            return torchvision.models.resnext50_32x4d(num_classes=num_classes), \
                "torchvision " + torchvision.__version__
        except ImportError:
            pass
    return ResNeXt50(num_classes), "tests/gpu/torch_reference.py (no torchvision)"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--classes", type=int, default=4)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--own-model", action="store_true", help="never torchvision's")
    parser.add_argument("--count-parameters", action="store_true",
                        help="print the parameter count at 1000 classes and stop")
    args = parser.parse_args()
    if args.count_parameters:
        model, source = make_model(1000, args.own_model)
        print(sum(p.numel() for p in model.parameters()), source)
        return
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True
    model, source = make_model(args.classes, args.own_model)
    model = model.to(device, memory_format=torch.channels_last)
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
    result = {"images_per_s": args.batch * args.steps / seconds,
              "step_ms": 1000 * seconds / args.steps, "model": source, "torch": torch.__version__}
    if cuda:
        result["peak_allocated_gib"] = torch.cuda.max_memory_allocated() / 2**30
        result["peak_reserved_gib"] = torch.cuda.max_memory_reserved() / 2**30
    else:
        result["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(json.dumps(result))


if __name__ == "__main__":
    main()
