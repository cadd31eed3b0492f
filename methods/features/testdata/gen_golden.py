#!/usr/bin/python3
"""Writes aggregate_golden.json: PatchCore-style patch aggregation computed with PyTorch.

Run with Debian's python3 (python3-torch): /usr/bin/python3 gen_golden.py
Two taps (NHWC): a [2,6,5,7] and b [2,3,3,4]; each is average-pooled 3x3 (stride 1, pad 1,
count_include_pad), b is resized bilinearly (align_corners=False) to 6x5, channels are concatenated
(11) and adaptive-average-pooled to 8 and to 4 dimensions.
"""
import json
import torch
import torch.nn.functional as F

torch.manual_seed(0)
a = torch.randn(2, 6, 5, 7)
b = torch.randn(2, 3, 3, 4)

def agg(dim):
    ta = F.avg_pool2d(a.permute(0, 3, 1, 2), 3, stride=1, padding=1)
    tb = F.avg_pool2d(b.permute(0, 3, 1, 2), 3, stride=1, padding=1)
    tb = F.interpolate(tb, size=(6, 5), mode="bilinear", align_corners=False)
    cat = torch.cat([ta, tb], dim=1).permute(0, 2, 3, 1)  # N,H,W,C
    flat = cat.reshape(-1, 1, cat.shape[-1])
    pooled = F.adaptive_avg_pool1d(flat, dim).reshape(2, 6, 5, dim)
    return pooled.flatten().tolist()

out = {
    "a": {"shape": list(a.shape), "data": a.flatten().tolist()},
    "b": {"shape": list(b.shape), "data": b.flatten().tolist()},
    "dim8": agg(8),
    "dim4": agg(4),
}
with open("aggregate_golden.json", "w") as f:
    json.dump(out, f)
