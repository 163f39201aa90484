#!/usr/bin/env python3
"""Trains a ResidualNet network in PyTorch with DistributedDataParallel, for the ScaleOut sample.

The .NET side (samples/ScaleOut) writes into MODEL_DIR:
  model.json   the network: its torchvision constructor, the edits after it and the Python code of both (from
               ResidualNet's TorchvisionPortability.Check), input channels, classes and the pixel normalisation
  initial.pt   its initial weights, torch.save(state_dict) format

This script builds the network from model.json, loads initial.pt STRICTLY (so a network that torchvision does not
rebuild exactly fails here, never silently), trains it with DistributedDataParallel on the gloo backend (CPU, one
process per rank, a DistributedSampler giving each rank its own shard of every epoch), and rank 0 writes:
  trained.pt            the trained state_dict (loads strictly in .NET with ModelWeights.Load)
  reference-input.f32   a fixed input: the first 8 test images, normalised, raw little-endian float32
  reference-logits.f32  the trained model's eval-mode logits for it
  reference.json        shapes, versions, world size, steps, time, the data folder (null for generated data) and
                        the accuracy PyTorch measured on its first test images

model.json holds Python code that this script runs (as torch.load runs the pickles in a .pt file): use only files
you made.

Data: Fashion-MNIST IDX files (gzip or raw) from --data, else /usr/share/datasets/fashion-mnist (Debian package
dataset-fashion-mnist), else generated stand-in data (seeded striped textures, 10 classes).

Start it either way:
  python3 ddp_train.py --model-dir DIR --processes 2            # torch.multiprocessing.spawn, one machine
  on every machine, torchrun setting RANK, WORLD_SIZE, MASTER_ADDR... for each process:
  torchrun --nnodes 2 --nproc_per_node 4 --rdzv_id scaleout --rdzv_backend c10d --rdzv_endpoint HOST:29500
           --redirects 2 --tee 2 ddp_train.py --model-dir DIR
(Debian's torchrun 1.13 fails on Python 3.11 with its default --redirects 0 / --tee 0, "'NoneType' object has no
attribute 'get'": Python 3.11 no longer lists IntFlag's zero member; any of 1 or 2 works.)
"""
import argparse
import gzip
import json
import os
import struct
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torchvision
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
REFERENCE_IMAGES = 8


def say(line):
    """One line in one write, so that the lines of concurrent ranks do not interleave."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def read_idx(folder, stem):
    """An IDX file (raw or .gz) as a uint8 tensor: images (N, 28, 28) or labels (N,)."""
    for name in (stem + ".gz", stem):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            opener = gzip.open if name.endswith(".gz") else open
            with opener(path, "rb") as f:
                data = f.read()
            magic, = struct.unpack(">I", data[:4])
            dims = magic & 0xFF
            shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
            values = torch.frombuffer(bytearray(data[4 + 4 * dims:]), dtype=torch.uint8)
            return values.reshape(shape)
    raise FileNotFoundError(f"{os.path.join(folder, stem)}[.gz] does not exist")


def generated_data(count, seed):
    """Seeded stand-in images: each class is a stripe direction and frequency, plus noise."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (count,), generator=g)
    ys, xs = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    angle = labels.float()[:, None, None] * (3.14159 / 10)
    frequency = 0.3 + 0.05 * labels.float()[:, None, None]
    images = 0.5 + 0.4 * torch.sin(frequency * (xs * torch.cos(angle) + ys * torch.sin(angle)))
    images = images + 0.15 * torch.randn(count, 28, 28, generator=g)
    return (images.clamp(0, 1) * 255).to(torch.uint8), labels


def load_data(folder, seed):
    """(train images, train labels, test images, test labels, description, folder or None when generated)."""
    if folder is None and os.path.isdir(DEBIAN_FASHION_MNIST):
        folder = DEBIAN_FASHION_MNIST
    if folder is None:
        train = generated_data(6000, seed)
        test = generated_data(1000, seed + 1)
        return (*train, *test, "GENERATED stand-in data (Fashion-MNIST not found)", None)
    return (read_idx(folder, "train-images-idx3-ubyte"), read_idx(folder, "train-labels-idx1-ubyte"),
            read_idx(folder, "t10k-images-idx3-ubyte"), read_idx(folder, "t10k-labels-idx1-ubyte"),
            f"Fashion-MNIST from '{folder}'" if folder == DEBIAN_FASHION_MNIST else f"IDX files from '{folder}'",
            os.path.abspath(folder))


def to_input(images, spec):
    """uint8 (N, 28, 28) to the network's normalised float input (N, C, 28, 28)."""
    norm = spec["normalization"]
    x = (images.float() / 255.0 - norm["mean"]) / norm["std"]
    return x[:, None].repeat(1, spec["input_channels"], 1, 1).contiguous()


def build_model(model_dir):
    with open(os.path.join(model_dir, "model.json")) as f:
        spec = json.load(f)
    namespace = {}
    exec(spec["python"], namespace)  # the code TorchvisionPortability.Check wrote; it leaves `model`
    model = namespace["model"]
    initial = torch.load(os.path.join(model_dir, "initial.pt"))
    model.load_state_dict(initial, strict=True)
    return spec, model, len(initial)


def worker(rank, world_size, args):
    torch.set_num_threads(args.threads)
    if "MASTER_ADDR" not in os.environ:  # torch.multiprocessing.spawn: one machine, loopback
        os.environ["MASTER_ADDR"] = "127.0.0.1"
        os.environ["MASTER_PORT"] = str(args.port)
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    try:
        train(rank, world_size, args)
    finally:
        dist.destroy_process_group()


def train(rank, world_size, args):
    spec, model, key_count = build_model(args.model_dir)
    train_images, train_labels, test_images, test_labels, described, folder = load_data(args.data, args.seed)
    if rank == 0:
        say(f"{spec['network']}: model = {spec['constructor']}" + "".join("; " + e for e in spec["edits"]))
        say(f"initial.pt loaded strictly into it ({key_count} tensors)")
        say(f"{described}: {len(train_labels)} training, {len(test_labels)} test images; world size {world_size} "
            f"(gloo), batch {args.batch_size} per rank, {args.steps} steps, SGD lr {args.lr} (cosine to 0) momentum 0.9, "
            f"torch {torch.__version__}, torchvision {torchvision.__version__}")

    dataset = TensorDataset(to_input(train_images, spec), train_labels.long())
    sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=args.seed)
    loader = DataLoader(dataset, batch_size=args.batch_size, sampler=sampler, drop_last=True)
    ddp = DistributedDataParallel(model)
    optimizer = torch.optim.SGD(ddp.parameters(), lr=args.lr, momentum=0.9, weight_decay=args.weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.steps)  # per step, down to 0
    loss_fn = torch.nn.CrossEntropyLoss()

    ddp.train()
    step, epoch, window = 0, 0, []
    started = time.time()
    while step < args.steps:
        sampler.set_epoch(epoch)  # a new shuffle each epoch, the same on every rank, each rank its own shard
        for images, labels in loader:
            optimizer.zero_grad()
            loss = loss_fn(ddp(images), labels)
            loss.backward()  # DDP averages the gradients of all ranks here (all-reduce over gloo)
            optimizer.step()
            schedule.step()
            step += 1
            window.append(loss.item())
            if step % args.log_every == 0 or step == args.steps:
                say(f"[rank {rank}] step {step:4d}/{args.steps}  loss {sum(window) / len(window):.4f} "
                    f"(mean of its last {len(window)} batches)")
                window = []
            if step == args.steps:
                break
        epoch += 1
    seconds = time.time() - started
    dist.barrier()

    if rank == 0:
        save_results(model, spec, test_images, test_labels, folder, world_size, args, seconds)


def save_results(model, spec, test_images, test_labels, folder, world_size, args, seconds):
    model.eval()
    count = len(test_labels) if args.test_count == 0 else min(args.test_count, len(test_labels))
    correct = 0
    with torch.no_grad():
        for start in range(0, count, 500):
            end = min(start + 500, count)
            logits = model(to_input(test_images[start:end], spec))
            correct += int((logits.argmax(1) == test_labels[start:end].long()).sum())
        reference_input = to_input(test_images[:REFERENCE_IMAGES], spec)
        reference_logits = model(reference_input)

    torch.save(model.state_dict(), os.path.join(args.model_dir, "trained.pt"))
    with open(os.path.join(args.model_dir, "reference-input.f32"), "wb") as f:
        f.write(reference_input.numpy().astype("<f4").tobytes())
    with open(os.path.join(args.model_dir, "reference-logits.f32"), "wb") as f:
        f.write(reference_logits.numpy().astype("<f4").tobytes())
    with open(os.path.join(args.model_dir, "reference.json"), "w") as f:
        json.dump({
            "torch_version": torch.__version__, "torchvision_version": torchvision.__version__,
            "world_size": world_size, "steps": args.steps, "batch_size_per_rank": args.batch_size,
            "train_seconds": round(seconds, 1),
            "input_shape": list(reference_input.shape), "logits_shape": list(reference_logits.shape),
            "data": folder, "test_images": count, "test_correct": correct,
        }, f, indent=1)
    say(f"rank 0: {args.steps} steps in {seconds:.1f} s; test accuracy {100.0 * correct / count:.2f}% "
        f"({correct}/{count}); wrote trained.pt and the reference logits to '{args.model_dir}'")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", required=True, help="folder with model.json and initial.pt (results go there too)")
    parser.add_argument("--processes", type=int, default=2, help="ranks to spawn on this machine (ignored under torchrun)")
    parser.add_argument("--steps", type=int, default=300, help="optimizer steps (each rank does this many)")
    parser.add_argument("--batch-size", type=int, default=64, help="batch size per rank")
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    parser.add_argument("--seed", type=int, default=1, help="seed of the sampler's shuffle and of generated data")
    parser.add_argument("--data", default=None, help=f"Fashion-MNIST folder (default {DEBIAN_FASHION_MNIST})")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads per rank")
    parser.add_argument("--port", type=int, default=29500, help="rendezvous port on 127.0.0.1 (spawn only)")
    parser.add_argument("--log-every", type=int, default=50, help="print each rank's mean loss every N steps")
    parser.add_argument("--test-count", type=int, default=0, help="test images rank 0 evaluates (0 = all)")
    args = parser.parse_args()
    for name in ("processes", "steps", "batch_size", "threads", "log_every"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1; got {getattr(args, name)}")
    for name in ("model.json", "initial.pt"):
        if not os.path.isfile(os.path.join(args.model_dir, name)):
            parser.error(f"{os.path.join(args.model_dir, name)} does not exist (run the .NET side first)")

    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:  # started by torchrun
        worker(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), args)
    else:
        mp.spawn(worker, args=(args.processes, args), nprocs=args.processes, join=True)


if __name__ == "__main__":
    sys.exit(main())
