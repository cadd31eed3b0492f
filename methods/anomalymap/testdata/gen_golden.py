#!/usr/bin/python3
"""Writes golden.json for anomalymap tests with torch (Debian python3-torch).

Run from this folder: /usr/bin/python3 gen_golden.py
Bilinear upsampling: torch.nn.functional.interpolate(mode="bilinear", align_corners=False).
Gaussian blur: separable kernel of 2*floor(4*sigma+0.5)+1 taps, reflect padding (as kornia/anomalib).
"""
import json
import math

import torch
import torch.nn.functional as F

torch.manual_seed(7)


def gaussian(sigma):
    n = 2 * int(math.floor(4 * sigma + 0.5)) + 1
    x = torch.arange(n, dtype=torch.float64) - n // 2
    k = torch.exp(-x * x / (2 * sigma * sigma))
    return (k / k.sum()).float()


def blur(m, sigma):
    k = gaussian(sigma)
    p = len(k) // 2
    x = m[None, None]
    x = F.pad(x, (p, p, p, p), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, -1))
    x = F.conv2d(x, k.view(1, 1, -1, 1))
    return x[0, 0]


cases = {"upsample": [], "upsample_aligned": [], "blur": []}
for (h, w, oh, ow) in [(7, 5, 23, 17), (4, 4, 16, 16), (14, 14, 56, 56), (6, 9, 6, 3)]:
    m = torch.rand(h, w)
    out = F.interpolate(m[None, None], size=(oh, ow), mode="bilinear", align_corners=False)[0, 0]
    cases["upsample"].append({"h": h, "w": w, "oh": oh, "ow": ow,
                              "in": m.flatten().tolist(), "out": out.flatten().tolist()})
for (h, w, oh, ow) in [(7, 5, 23, 17), (8, 8, 32, 32), (1, 3, 4, 6)]:
    m = torch.rand(h, w)
    out = F.interpolate(m[None, None], size=(oh, ow), mode="bilinear", align_corners=True)[0, 0]
    cases["upsample_aligned"].append({"h": h, "w": w, "oh": oh, "ow": ow,
                                      "in": m.flatten().tolist(), "out": out.flatten().tolist()})
for (h, w, sigma) in [(10, 12, 1.5), (20, 24, 4.0), (40, 33, 2.0)]:
    m = torch.rand(h, w)
    cases["blur"].append({"h": h, "w": w, "sigma": sigma,
                          "in": m.flatten().tolist(), "out": blur(m, sigma).flatten().tolist()})
with open("golden.json", "w") as f:
    json.dump(cases, f)
