#!/usr/bin/env python3
"""Writes the committed torchvision fixtures of ResidualNet's tests (run once; the tests need no Python).

For each reference model it builds Python torchvision's network (Debian's python3-torchvision: PyTorch 1.13,
torchvision 0.14), fills EVERY state_dict entry with formula weights (below), runs a formula input through it in
eval mode and writes Fixtures/<model>.json:

  model, versions, formula, input_shape, num_classes,
  keys    the state_dict in order: name, shape, dtype and "bits" (a checksum of the formula values, below)
  logits  the eval-mode logits, one list per input image, each float32 value written exactly

It also writes a small file-format pair for the weights tests: torchvision's BasicBlock(8, 16, stride 2, with a
projection shortcut), formula weights, saved by Python as Fixtures/basic_block.pt (torch.save(state_dict)) and as
Fixtures/basic_block.safetensors (hand-written, see torchvision_reference.py), with Fixtures/basic_block.json
(keys, and the block's eval-mode output for the formula input).

The formula (FORMULA below; ResidualNet.TestSupport.Reference.FormulaWeights computes the same values in C#). It uses
only integer arithmetic and correctly rounded IEEE operations (+, *, /, sqrt), so both sides agree bit for bit:
  h   = FNV-1a 64-bit hash of the key's UTF-8 bytes
  z_i = splitmix64(h + (i + 1) * 0x9E3779B97F4A7C15 mod 2^64), i the element's index in C order
  v_i = (2 * (z_i >> 40) + 1 - 2^24) / 2^24          in (-1, 1), exact in float32
  value, computed in float64 and rounded once to float32:
    *.num_batches_tracked (int64)   1 + (z_0 >> 54)                (1..1024)
    *.running_mean                  0.1 v
    *.running_var                   1 + 0.5 v                      (0.5..1.5)
    *.bias                          0.1 v
    *.weight, 1-D (norm scale)      0.175 + 0.125 v when the key contains ".bn2." or ".bn3." (the residual
                                    branch's last norms inside the layers, so deep networks keep logits of
                                    order 1), else 1 + 0.5 v
    *.weight, 3-D or more           v * sqrt(6 / fan_in), fan_in = product of shape[1:] (He's uniform)
    *.weight, 2-D (the classifier)  0.125 * (v * sqrt(6 / fan_in)): logits of order 1
    the input (key "input")         v
  bits = sum over elements of the float32 bit pattern (uint32; int64 entries: the value), as a decimal string

Usage: /usr/bin/python3 make_fixtures.py [--out DIR] [--model NAME ...]
       (default: every model in MODELS and the file-format pair, into Fixtures/ next to this script)
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torchvision_reference import write_safetensors  # noqa: E402  (the same hand-written safetensors writer)

FORMULA = "fnv1a64-splitmix64-v1"
MODELS = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
          "resnext50_32x4d", "resnext101_32x8d", "wide_resnet50_2", "wide_resnet101_2"]
INPUT_SHAPE = [2, 3, 64, 64]
NUM_CLASSES = 1000
BLOCK_INPUT_SHAPE = [2, 8, 12, 12]

MASK64 = (1 << 64) - 1
GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def fnv1a64(name):
    h = 0xCBF29CE484222325
    for byte in name.encode("utf-8"):
        h ^= byte
        h = (h * 0x100000001B3) & MASK64
    return h


def hashes(name, count):
    """z_i for i = 0..count-1 as uint64 (numpy array arithmetic wraps modulo 2^64)."""
    z = np.arange(1, count + 1, dtype=np.uint64) * GOLDEN + np.uint64(fnv1a64(name))
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def uniform(name, count):
    """v_i in (-1, 1) as float64 (exactly representable in float32)."""
    u = (hashes(name, count) >> np.uint64(40)).astype(np.float64)
    return (2.0 * u + 1.0 - 16777216.0) / 16777216.0


def formula_value(name, shape, dtype):
    count = int(np.prod(shape, dtype=np.int64)) if len(shape) > 0 else 1
    if name.endswith(".num_batches_tracked"):
        if dtype != torch.int64 or count != 1:
            raise ValueError(f"{name}: expected one int64, got {dtype} {shape}")
        return np.array(1 + int(hashes(name, 1)[0] >> np.uint64(54)), dtype=np.int64).reshape(shape)
    if dtype != torch.float32:
        raise ValueError(f"{name}: the formula covers float32 and num_batches_tracked only, got {dtype}")
    v = uniform(name, count)
    if name.endswith(".running_mean") or name.endswith(".bias"):
        x = 0.1 * v
    elif name.endswith(".running_var"):
        x = 1.0 + 0.5 * v
    elif name.endswith(".weight") and len(shape) == 1:
        x = 0.175 + 0.125 * v if (".bn2." in name or ".bn3." in name) else 1.0 + 0.5 * v
    elif name.endswith(".weight") and len(shape) >= 2:
        fan_in = int(np.prod(shape[1:], dtype=np.int64))
        x = v * math.sqrt(6.0 / fan_in)
        if len(shape) == 2:
            x = 0.125 * x  # the classifier: logits of order 1, so that 1e-4 is a tight bound
    elif name == "input":
        x = v
    else:
        raise ValueError(f"{name}: no formula for this key")
    return x.astype(np.float32).reshape(shape)


def bits(array):
    if array.dtype == np.float32:
        return str(int(array.reshape(-1).view(np.uint32).astype(np.uint64).sum(dtype=np.uint64)))
    return str(int(array.reshape(-1).astype(np.int64).sum()))


def fill(module):
    """Every state_dict entry of the module gets its formula value; returns the key records."""
    records = []
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            value = formula_value(name, list(tensor.shape), tensor.dtype)
            tensor.copy_(torch.from_numpy(value))
            records.append({"name": name, "shape": list(tensor.shape),
                            "dtype": str(tensor.dtype).replace("torch.", ""), "bits": bits(value)})
    return records


def exact(values):
    """float32 values as Python floats: repr gives the shortest text that reads back to the same float32."""
    return [float(x) for x in values]


def header():
    return {"torch_version": torch.__version__, "torchvision_version": torchvision.__version__,
            "numpy_version": np.__version__, "formula": FORMULA,
            "command": "/usr/bin/python3 tests/ResidualNet.TestSupport/Reference/make_fixtures.py"}


def write_json(path, document):
    """One top-level field per line, and one line per key and per row of values: small and diff-friendly."""
    def compact(value):
        return json.dumps(value, separators=(",", ":"))

    lines = []
    for field, value in document.items():
        if isinstance(value, list) and value and isinstance(value[0], (dict, list)):
            rows = ",\n  ".join(compact(row) for row in value)
            lines.append(f" {compact(field)}: [\n  {rows}]")
        else:
            lines.append(f" {compact(field)}: {compact(value)}")
    with open(path, "w") as f:
        f.write("{\n" + ",\n".join(lines) + "\n}\n")


def make_model(name, out):
    model = getattr(torchvision.models, name)(weights=None, num_classes=NUM_CLASSES)
    keys = fill(model)
    model.eval()
    x = torch.from_numpy(formula_value("input", INPUT_SHAPE, torch.float32))
    with torch.no_grad():
        logits = model(x).numpy()
    document = {"model": name, **header(), "input_shape": INPUT_SHAPE, "num_classes": NUM_CLASSES,
                "logits_max_abs": float(np.abs(logits).max()), "keys": keys,
                "logits": [exact(row) for row in logits]}
    write_json(os.path.join(out, f"{name}.json"), document)
    print(f"{name}: {len(keys)} keys, max |logit| {np.abs(logits).max():.3g}")


def make_block(out):
    resnet = torchvision.models.resnet
    downsample = torch.nn.Sequential(resnet.conv1x1(8, 16, stride=2), torch.nn.BatchNorm2d(16))
    block = resnet.BasicBlock(8, 16, stride=2, downsample=downsample)
    keys = fill(block)
    block.eval()
    state = block.state_dict()
    torch.save(state, os.path.join(out, "basic_block.pt"))
    write_safetensors(state, os.path.join(out, "basic_block.safetensors"))
    x = torch.from_numpy(formula_value("input", BLOCK_INPUT_SHAPE, torch.float32))
    with torch.no_grad():
        y = block(x).numpy()
    document = {"model": "torchvision.models.resnet.BasicBlock(8, 16, stride=2, downsample=conv1x1+BatchNorm2d)",
                **header(), "input_shape": BLOCK_INPUT_SHAPE, "output_shape": list(y.shape), "keys": keys,
                "output": exact(y.reshape(-1))}
    write_json(os.path.join(out, "basic_block.json"), document)
    print(f"basic_block: {len(keys)} keys, output {list(y.shape)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "Fixtures"))
    parser.add_argument("--model", action="append", help="only this model (repeatable); no file-format pair")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    for name in args.model or MODELS:
        make_model(name, args.out)
    if not args.model:
        make_block(args.out)


if __name__ == "__main__":
    main()
