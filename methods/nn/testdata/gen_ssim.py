#!/usr/bin/python3
"""Writes ssim_golden.json: reference SSIM values for methods/nn's SSIM and SSIMMap.

Run from methods/nn with Debian's packages (python3-skimage, python3-torch):
    /usr/bin/python3 testdata/gen_ssim.py

Two independent references:
  - scikit-image's structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
    data_range=1, full=True), the setting of Wang et al. 2004: its mean ("mean") and its per-pixel map
    averaged over channels, kept only where the 11x11 window fits ("interior", rows/cols 5..-5);
  - a direct torch computation of the renormalised border rule SSIMMap uses ("same"): the local
    Gaussian statistics are conv2d with zero padding 5 divided by the window's mass inside the image.
Images are NHWC, float64, values in [0, 1].
"""
import json
import math

import numpy as np
import torch
import torch.nn.functional as F
from skimage.metrics import structural_similarity

rng = np.random.default_rng(20040413)


def pair(n, h, w, c):
    yy, xx = np.mgrid[0:h, 0:w]
    xs, ys = [], []
    for _ in range(n):
        base = np.zeros((h, w, c))
        for ch in range(c):
            fx, fy, ph = rng.uniform(0.1, 0.6), rng.uniform(0.1, 0.6), rng.uniform(0, 6)
            base[:, :, ch] = 0.5 + 0.3 * np.sin(fx * xx + ph) * np.cos(fy * yy)
        x = np.clip(base + rng.normal(0, 0.05, base.shape), 0, 1)
        y = x + rng.normal(0, 0.08, base.shape)
        cy, cx, r = rng.integers(0, h), rng.integers(0, w), max(2, min(h, w) // 5)
        y[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.uniform(0, 1)
        xs.append(x)
        ys.append(np.clip(y, 0, 1))
    return np.stack(xs), np.stack(ys)


def window(k=11, sigma=1.5):
    g = torch.tensor([math.exp(-((i - k // 2) ** 2) / (2 * sigma * sigma)) for i in range(k)], dtype=torch.float64)
    g = g / g.sum()
    return torch.outer(g, g)


def same_map(x, y, k=11, c1=0.01 ** 2, c2=0.03 ** 2):
    """Renormalised per-pixel SSIM, averaged over channels: [N, H, W]."""
    xt = torch.from_numpy(x).permute(0, 3, 1, 2)
    yt = torch.from_numpy(y).permute(0, 3, 1, 2)
    n, c, h, w = xt.shape
    win = window(k).reshape(1, 1, k, k).repeat(c, 1, 1, 1)
    mass = F.conv2d(torch.ones(1, c, h, w, dtype=torch.float64), win, padding=k // 2, groups=c)

    def filt(t):
        return F.conv2d(t, win, padding=k // 2, groups=c) / mass

    mx, my = filt(xt), filt(yt)
    vx, vy, cxy = filt(xt * xt) - mx * mx, filt(yt * yt) - my * my, filt(xt * yt) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return s.mean(1)


cases = []
for (n, h, w, c) in [(2, 20, 24, 3), (1, 16, 16, 1), (1, 32, 27, 3)]:
    x, y = pair(n, h, w, c)
    means, interiors = [], []
    for i in range(n):
        m, s = structural_similarity(x[i], y[i], gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                     data_range=1.0, channel_axis=-1, full=True)
        means.append(float(m))
        interiors.append(s[5:-5, 5:-5].mean(-1))
    cases.append(dict(shape=[n, h, w, c], x=x.reshape(-1).tolist(), y=y.reshape(-1).tolist(), mean=means,
                      interior=np.stack(interiors).reshape(-1).tolist(),
                      same=same_map(x, y).reshape(-1).tolist()))

with open("testdata/ssim_golden.json", "w") as f:
    json.dump({"generator": "testdata/gen_ssim.py", "cases": cases}, f)
print("wrote testdata/ssim_golden.json:", len(cases), "cases")
