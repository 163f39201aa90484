#!/usr/bin/env python3
"""Proves TorchvisionPortability's verdicts in Python, for TorchvisionPortabilityPythonTests.

Reads CASES_JSON, a list of cases written by the .NET test, each
  {"name": ..., "python": the code TorchvisionPortability.Check produced (it leaves `model`),
   "weights": a torch.save(state_dict) file written by .NET, "input": raw little-endian float32, "input_shape": [...]}
and for each case runs the code, lists the state_dict keys with their shapes, loads the .NET weights STRICTLY and
writes the eval-mode logits for the input to "<input>.logits.f32". Writes the findings to OUT_JSON:
  {name: {"keys": [[key, [shape...], dtype], ...], "load_error": null or the message, "logits_shape": [...]}}

Usage: torchvision_portability.py CASES_JSON OUT_JSON
"""
import json
import sys

import numpy
import torch


def main():
    cases_path, out_path = sys.argv[1], sys.argv[2]
    with open(cases_path) as f:
        cases = json.load(f)
    torch.set_num_threads(1)
    results = {}
    for case in cases:
        namespace = {}
        exec(case["python"], namespace)
        model = namespace["model"]
        state = model.state_dict()
        result = {"keys": [[k, list(v.shape), str(v.dtype).replace("torch.", "")] for k, v in state.items()], "load_error": None, "logits_shape": None}
        try:
            model.load_state_dict(torch.load(case["weights"]), strict=True)
        except RuntimeError as e:
            result["load_error"] = str(e)
        if result["load_error"] is None:
            model.eval()
            x = torch.from_numpy(numpy.fromfile(case["input"], dtype="<f4").reshape(case["input_shape"]))
            with torch.no_grad():
                logits = model(x)
            logits.numpy().astype("<f4").tofile(case["input"] + ".logits.f32")
            result["logits_shape"] = list(logits.shape)
        results[case["name"]] = result
    with open(out_path, "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main()
