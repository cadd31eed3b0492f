#!/usr/bin/python3
"""Writes resize_golden.json: PIL (mode "F", float) resize outputs that datasets.Resize and
datasets.ResizeNearest must reproduce. Run with Debian's python3: /usr/bin/python3 gen_golden.py

The input is a deterministic pattern the Go test rebuilds: v[y][x] = ((y*7919 + x*104729) % 257) / 256.
Also checks torchvision's antialiased tensor resize agrees with PIL on the same input (it should:
both implement the same separable triangle filter).
"""
import json

import numpy as np
from PIL import Image
import torch
import torch.nn.functional as F

H, W = 23, 31


def pattern(h, w):
    return np.array([[((y * 7919 + x * 104729) % 257) / 256.0 for x in range(w)] for y in range(h)], dtype=np.float32)


def main():
    src = pattern(H, W)
    img = Image.fromarray(src, mode="F")
    cases = []
    for (h, w) in [(8, 11), (5, 31), (23, 7), (40, 50), (1, 1), (12, 62)]:
        bil = np.asarray(img.resize((w, h), Image.BILINEAR), dtype=np.float32)
        near = np.asarray(img.resize((w, h), Image.NEAREST), dtype=np.float32)
        t = torch.from_numpy(src)[None, None]
        tv = F.interpolate(t, size=(h, w), mode="bilinear", align_corners=False, antialias=True)[0, 0].numpy()
        assert np.abs(tv - bil).max() < 1e-5, (h, w, np.abs(tv - bil).max())
        cases.append({"h": h, "w": w, "bilinear": [round(float(v), 7) for v in bil.ravel()],
                      "nearest": [round(float(v), 7) for v in near.ravel()]})
    with open("resize_golden.json", "w") as f:
        json.dump({"src_h": H, "src_w": W, "cases": cases}, f)


if __name__ == "__main__":
    main()
