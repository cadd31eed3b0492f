#!/usr/bin/python3
"""Writes the backbone parity files: small random-weight torchvision ResNets and their tap outputs.

Run from methods/backbone:  /usr/bin/python3 testdata/gen_golden.py
(Debian's python3-torch 1.13 and python3-torchvision 0.14; CI has no torch, so the outputs are committed.)

For each model it writes
  testdata/<name>.safetensors       the state dict with torchvision names (fc.* and num_batches_tracked
                                    included, as in real checkpoints), in the dtype given below;
  testdata/<name>_taps.safetensors  "input" (NHWC, values in [0,1]) and the taps "stem" (after maxpool),
                                    "layer1".."layer4", NHWC, computed in float64 from the same weights
                                    the Go side reads (after rounding to the stored dtype).
Widths are divided by WIDTH_DIV (every channel count of torchvision's ResNet, so depth and layout stay
the real ones) to keep each file under 2 MB. ImageNet normalisation is applied before the model, as the
Go backbone does inside Forward.
"""
import json
import struct

import numpy as np
import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]

# name, block, layers, width_per_group (128 = wide), width divisor, stored dtype
MODELS = [
    ("resnet18_w8", BasicBlock, [2, 2, 2, 2], 64, 8, "F16"),
    ("resnet34_w16", BasicBlock, [3, 4, 6, 3], 64, 16, "F32"),
    ("resnet50_w16", Bottleneck, [3, 4, 6, 3], 64, 16, "BF16"),
    ("wide_resnet50_2_w16", Bottleneck, [3, 4, 6, 3], 128, 16, "F32"),
]


def reduced_resnet(block, layers, width_per_group, div):
    """torchvision's ResNet with every channel count divided by div, built from its own blocks."""
    m = ResNet(block, layers, width_per_group=width_per_group)
    base = 64 // div
    m.inplanes = base
    m.dilation = 1
    m.conv1 = nn.Conv2d(3, base, kernel_size=7, stride=2, padding=3, bias=False)
    m.bn1 = nn.BatchNorm2d(base)
    m.layer1 = m._make_layer(block, base, layers[0])
    m.layer2 = m._make_layer(block, 2 * base, layers[1], stride=2)
    m.layer3 = m._make_layer(block, 4 * base, layers[2], stride=2)
    m.layer4 = m._make_layer(block, 8 * base, layers[3], stride=2)
    m.fc = nn.Linear(8 * base * block.expansion, 10)
    return m


def randomise(m, gen):
    """Random convs (He normal, fan_out), batch-norm statistics measured on random data, random affine."""
    for mod in m.modules():
        if isinstance(mod, nn.Conv2d):
            fan_out = mod.out_channels * mod.kernel_size[0] * mod.kernel_size[1]
            mod.weight.data = torch.randn(mod.weight.shape, generator=gen) * (2.0 / fan_out) ** 0.5
        elif isinstance(mod, nn.BatchNorm2d):
            mod.momentum = None  # cumulative average: running stats = statistics of the calibration batch
            mod.reset_running_stats()
    m.train()
    with torch.no_grad():
        m(torch.rand(4, 3, 64, 64, generator=gen))
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            c = mod.num_features
            mod.weight.data = 0.5 + torch.rand(c, generator=gen)
            mod.bias.data = 0.2 * torch.randn(c, generator=gen)
    m.eval()


def round_to(t, dtype):
    if dtype == "F16":
        return t.half().float()
    if dtype == "BF16":
        return t.bfloat16().float()
    return t


def tensor_bytes(t, dtype):
    t = t.detach().contiguous()
    if dtype == "F32":
        return t.float().numpy().astype("<f4").tobytes()
    if dtype == "F16":
        return t.half().numpy().astype("<f2").tobytes()
    if dtype == "BF16":
        bits = t.float().numpy().astype("<f4").view(np.uint32) >> 16
        return bits.astype("<u2").tobytes()
    if dtype == "I64":
        return t.numpy().astype("<i8").tobytes()
    raise ValueError(dtype)


def write_safetensors(path, named, metadata):
    """A minimal safetensors writer (the Python package is not installed here): [(name, tensor, dtype)]."""
    header = {"__metadata__": metadata}
    blob = b""
    for name, t, dtype in named:
        data = tensor_bytes(t, dtype)
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + blob)
    return 8 + len(h) + len(blob)


def main():
    gen = torch.Generator().manual_seed(20261129)
    # NHWC in [0,1], shared by every model; 50x70 makes odd sizes appear after every stride-2 step.
    x = torch.rand(2, 50, 70, 3, generator=gen)
    for name, block, layers, wpg, div, dtype in MODELS:
        m = reduced_resnet(block, layers, wpg, div)
        randomise(m, gen)
        sd = m.state_dict()
        named = []
        for k, v in sd.items():
            dt = "I64" if k.endswith("num_batches_tracked") else dtype
            named.append((k, v, dt))
            if dt != "I64":
                v.copy_(round_to(v, dt))  # the reference uses exactly the stored values
        m.load_state_dict(sd)
        size = write_safetensors(f"testdata/{name}.safetensors", named, {"format": "pt", "arch": name})

        md = m.double()
        with torch.no_grad():
            h = x.double().permute(0, 3, 1, 2)
            h = (h - torch.tensor(MEAN, dtype=torch.float64).view(1, 3, 1, 1)) / torch.tensor(STD, dtype=torch.float64).view(1, 3, 1, 1)
            h = md.maxpool(md.relu(md.bn1(md.conv1(h))))
            taps = {"stem": h}
            for layer in ["layer1", "layer2", "layer3", "layer4"]:
                h = getattr(md, layer)(h)
                taps[layer] = h
        named = [("input", x, "F32")] + [(k, v.permute(0, 2, 3, 1).float(), "F32") for k, v in taps.items()]
        tsize = write_safetensors(f"testdata/{name}_taps.safetensors", named, {"layout": "NHWC"})
        print(f"{name}: weights {size} bytes ({dtype}), taps {tsize} bytes,",
              {k: tuple(v.shape) for k, v in taps.items()},
              "max|tap|:", {k: round(float(v.abs().max()), 3) for k, v in taps.items()})


if __name__ == "__main__":
    main()
