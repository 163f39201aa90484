"""The Python peer of the .NET GPU benchmarks: the same workloads in eager PyTorch + torchvision.

Measures images per second for inference and for a training step (forward, backward, SGD step) of
torchvision's resnet18/resnet50 at 224x224 and CIFAR ResNet-20/56/110 (He et al. 2015, option A) at 32x32,
in fp32, channels_last, and mixed precision (autocast bf16 and fp16 with GradScaler), with peak memory.
Writes one JSON line per measurement to stdout (prefix "PEER ") and, with --out, to a JSON file.

Usage: python3 torchvision_peer.py [--quick] [--out results.json]
"""
import argparse
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class CifarBasicBlock(nn.Module):
    """He et al. 2015 section 4.2 basic block with option A (zero-padding) shortcuts."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.pad = cout - cin
        self.stride = stride

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        sc = x
        if self.stride != 1 or self.pad:
            sc = x[:, :, :: self.stride, :: self.stride]
            sc = F.pad(sc, (0, 0, 0, 0, 0, self.pad))
        return F.relu(out + sc)


def cifar_resnet(depth, num_classes=10):
    n = (depth - 2) // 6
    layers = [nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()]
    cin = 16
    for i, width in enumerate((16, 32, 64)):
        for j in range(n):
            layers.append(CifarBasicBlock(cin, width, 2 if (i > 0 and j == 0) else 1))
            cin = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, num_classes)]
    return nn.Sequential(*layers)


def build(name):
    import torchvision

    if name.startswith("resnet") and name[6:].isdigit() and int(name[6:]) in (20, 32, 44, 56, 110, 1202):
        return cifar_resnet(int(name[6:])), 32
    return getattr(torchvision.models, name)(), 224


def measure(name, batch, mode, precision, channels_last, device, iters, warmup):
    torch.manual_seed(0)
    model, size = build(name)
    model = model.to(device)
    x = torch.randn(batch, 3, size, size, device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    amp_dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    scaler = torch.amp.GradScaler("cuda", enabled=precision == "fp16")

    def step():
        if mode == "inference":
            with torch.inference_mode(), torch.autocast("cuda", dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
                return model(x)
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            loss = F.cross_entropy(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        return loss

    model.train(mode == "training")
    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(iters):
        step()
    torch.cuda.synchronize()
    dt = (time.perf_counter() - t0) / iters
    return {
        "impl": "python-torchvision", "model": name, "batch": batch, "mode": mode, "precision": precision,
        "channels_last": channels_last, "ms_per_iter": dt * 1e3, "images_per_s": batch / dt,
        "peak_mem_mib": torch.cuda.max_memory_allocated() / 2**20,
    }


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    p.add_argument("--mixed", action="store_true", help="only training rows: fp32, bf16 and fp16 autocast, channels_last")
    p.add_argument("--out")
    a = p.parse_args()
    if not torch.cuda.is_available():
        print("PEER no CUDA device: nothing measured", flush=True)
        return 0
    dev = torch.device("cuda")
    torch.backends.cudnn.benchmark = False  # TorchSharp has no cudnn.benchmark switch: compare like with like
    print(f"PEER device {torch.cuda.get_device_name(0)} torch {torch.__version__} cuda {torch.version.cuda} cudnn {torch.backends.cudnn.version()}", flush=True)
    iters, warmup = (5, 2) if a.quick else (30, 10)
    plan = [
        ("resnet50", 64), ("resnet18", 64), ("resnet20", 256), ("resnet56", 256), ("resnet110", 256),
    ]
    variants = [("fp32", False), ("fp32", True), ("bf16", True), ("fp16", True)]
    modes = ("inference", "training")
    if a.mixed:
        variants, modes = [("fp32", True), ("bf16", True), ("fp16", True)], ("training",)
    results = []
    for name, batch in plan:
        for mode in modes:
            for precision, cl in variants:
                r = measure(name, batch, mode, precision, cl, dev, iters, warmup)
                results.append(r)
                print("PEER " + json.dumps(r), flush=True)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
