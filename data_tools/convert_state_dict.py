#!/usr/bin/env python3
"""Converts any PyTorch weights file into the plain {name: tensor} dict that nxt loads.

LibTorch's C++ unpickler reads a plain dict saved by torch.save, but not the OrderedDict that
model.state_dict() returns, nor the legacy (pre-zip) format of older published .pth files.
This script takes any of those, and also full training checkpoints that keep the weights
under 'state_dict' or 'model', strips DataParallel's 'module.' prefix, and writes a plain dict.

    data_tools/convert_state_dict.py resnext50_32x4d-1a0047aa.pth resnext50.pt
    nxt_ddp --config configs/seed.yaml --set model.pretrained=resnext50.pt
"""
import nxt_venv  # noqa: F401  (re-runs this script under the project venv: data_tools/nxt_venv.py)
import argparse
import os
import sys
import tempfile

import torch


def extract_tensors(obj, source):
    if isinstance(obj, dict):
        for key in ("state_dict", "model", "model_state"):
            if key in obj and isinstance(obj[key], dict):
                return extract_tensors(obj[key], source)
        tensors = {k: v for k, v in obj.items() if torch.is_tensor(v)}
        if tensors:
            return tensors
    if isinstance(obj, torch.nn.Module):
        return obj.state_dict()
    sys.exit(f"convert_state_dict: '{source}' holds no {{name: tensor}} dict")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", help="a .pth/.pt file written by Python")
    parser.add_argument("output", help="the plain-dict file for nxt")
    args = parser.parse_args()
    try:
        loaded = torch.load(args.input, map_location="cpu")
    except Exception as error:  # any unreadable file: say which and why
        sys.exit(f"convert_state_dict: cannot read '{args.input}': {error}")
    tensors = extract_tensors(loaded, args.input)
    plain = {k[len("module."):] if k.startswith("module.") else k: v.contiguous()
             for k, v in tensors.items()}
    folder = os.path.dirname(os.path.abspath(args.output))
    with tempfile.NamedTemporaryFile(dir=folder, delete=False, suffix=".tmp") as tmp:
        torch.save(plain, tmp)
        tmp.flush()
        os.fsync(tmp.fileno())
    os.replace(tmp.name, args.output)
    print(f"convert_state_dict: wrote {len(plain)} tensors to {args.output}")


if __name__ == "__main__":
    main()
