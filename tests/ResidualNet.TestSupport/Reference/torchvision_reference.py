#!/usr/bin/env python3
"""Reference outputs from Python torchvision, for ResidualNet's tests.

Builds a torchvision model by name with a fixed seed (random weights; batch-norm statistics and affine
parameters are randomised too, so that loading every buffer matters; the last normalisation of each residual
branch gets a small scale so that the logits of deep networks stay of order 1), and writes into --out:

  weights.pt           torch.save(model.state_dict())
  weights.safetensors  (with --safetensors) the same state_dict in the safetensors format, written by hand
                       below (the `safetensors` package is not needed)
  input.f32            the fixed input, raw little-endian float32, C order
  logits.f32           the eval-mode logits for that input, raw little-endian float32, C order
  reference.json       model name, versions, seed, input/logits shapes and the state_dict keys in order,
                       each with its shape and dtype

With --weights FILE the model loads that state_dict (strictly) instead of keeping its random weights: this
checks that a file written by .NET loads in Python and gives the same logits.

Usage: torchvision_reference.py --model resnet18 --out DIR [--seed 0] [--input 1,3,64,64]
                                [--num-classes 1000] [--safetensors] [--weights FILE]
"""
import argparse
import json
import os
import struct
import sys

import torch
import torchvision

SAFETENSORS_DTYPES = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL",
}


def write_safetensors(state_dict, path):
    """The safetensors format: u64 little-endian header length, a JSON header, then the tensor bytes."""
    header = {}
    blobs = []
    offset = 0
    for name, tensor in state_dict.items():
        data = tensor.detach().cpu().contiguous().numpy().tobytes()
        header[name] = {"dtype": SAFETENSORS_DTYPES[tensor.dtype], "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "pt"}
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * ((8 - len(encoded) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for blob in blobs:
            f.write(blob)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--input", default="1,3,64,64")
    parser.add_argument("--num-classes", type=int, default=1000)
    parser.add_argument("--safetensors", action="store_true")
    parser.add_argument("--weights", help="load this torch.save(state_dict) file (strictly) instead of random weights")
    args = parser.parse_args()

    builder = getattr(torchvision.models, args.model, None)
    if builder is None or not callable(builder):
        sys.exit(f"torchvision {torchvision.__version__} has no model named '{args.model}'")

    torch.manual_seed(args.seed)
    model = builder(weights=None, num_classes=args.num_classes)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.normal_(0.0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0.0, 0.1)
                module.num_batches_tracked.fill_(7)
        # Keep the residual stream (and so the logits) of deep networks of order 1: the last normalisation of
        # every residual branch gets a small scale, so no block dominates and 1e-4 stays a meaningful tolerance.
        for module in model.modules():
            last_norm = getattr(module, "bn3", None) or getattr(module, "bn2", None)
            if isinstance(module, (torchvision.models.resnet.BasicBlock, torchvision.models.resnet.Bottleneck)):
                last_norm.weight.uniform_(0.05, 0.3)
    if args.weights:
        model.load_state_dict(torch.load(args.weights), strict=True)
    model.eval()

    shape = [int(s) for s in args.input.split(",")]
    x = torch.randn(*shape)
    with torch.no_grad():
        logits = model(x)

    os.makedirs(args.out, exist_ok=True)
    state = model.state_dict()
    torch.save(state, os.path.join(args.out, "weights.pt"))
    if args.safetensors:
        write_safetensors(state, os.path.join(args.out, "weights.safetensors"))
    with open(os.path.join(args.out, "input.f32"), "wb") as f:
        f.write(x.contiguous().numpy().astype("<f4").tobytes())
    with open(os.path.join(args.out, "logits.f32"), "wb") as f:
        f.write(logits.contiguous().numpy().astype("<f4").tobytes())
    reference = {
        "model": args.model,
        "torch_version": torch.__version__,
        "torchvision_version": torchvision.__version__,
        "seed": args.seed,
        "num_classes": args.num_classes,
        "input_shape": list(x.shape),
        "logits_shape": list(logits.shape),
        "logits_max_abs": float(logits.abs().max()),
        "keys": [{"name": k, "shape": list(v.shape), "dtype": str(v.dtype).replace("torch.", "")}
                 for k, v in state.items()],
    }
    with open(os.path.join(args.out, "reference.json"), "w") as f:
        json.dump(reference, f, indent=1)


if __name__ == "__main__":
    main()
