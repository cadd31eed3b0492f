#!/usr/bin/python3
"""Writes golden.json: PyTorch reference outputs for methods/nn's tests.

Run with Debian's torch: /usr/bin/python3 testdata/gen_golden.py (from methods/nn).
Tensors are stored flat in the Go layouts: images NHWC, conv kernels HWIO
(torch [Cout, Cin/G, KH, KW] permuted (2,3,1,0)), transposed-conv kernels [KH, KW, Cin, Cout/G]
(torch [Cin, Cout/G, KH, KW] permuted (2,3,0,1)). Everything in float64.
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(1234)
torch.set_default_dtype(torch.float64)


def nhwc(t):
    return t.permute(0, 2, 3, 1).contiguous()


def flat(t):
    return [float(v) for v in t.reshape(-1).tolist()]


def img(n, c, h, w):
    return torch.randn(n, c, h, w)


cases = {"conv": [], "conv_transpose": [], "pool": [], "resize": [], "adaptive": [], "batchnorm": [],
         "layernorm": [], "activations": []}

for (n, cin, h, w, cout, k, s, p, d, g) in [
    (2, 3, 7, 6, 4, 3, 1, 1, 1, 1),
    (1, 4, 9, 8, 6, 3, 2, 1, 1, 2),
    (1, 2, 10, 9, 3, 3, 1, 2, 2, 1),
    (1, 3, 8, 8, 2, 5, 3, 2, 1, 1),
]:
    x, wt = img(n, cin, h, w), torch.randn(cout, cin // g, k, k)
    y = F.conv2d(x, wt, stride=s, padding=p, dilation=d, groups=g)
    cases["conv"].append(dict(x=flat(nhwc(x)), x_shape=list(nhwc(x).shape), kernel=flat(wt.permute(2, 3, 1, 0)),
                              kernel_shape=list(wt.permute(2, 3, 1, 0).shape), stride=s, padding=p, dilation=d,
                              groups=g, y=flat(nhwc(y)), y_shape=list(nhwc(y).shape)))

for (n, cin, h, w, cout, k, s, p, op, d, g) in [
    (2, 3, 4, 5, 4, 3, 2, 1, 1, 1, 1),
    (1, 4, 3, 3, 6, 4, 2, 1, 0, 1, 2),
    (1, 2, 4, 3, 3, 3, 1, 0, 0, 2, 1),
    (1, 3, 3, 4, 2, 3, 3, 2, 2, 1, 1),
    (1, 2, 5, 5, 2, 2, 2, 0, 0, 1, 1),
]:
    x, wt = img(n, cin, h, w), torch.randn(cin, cout // g, k, k)
    y = F.conv_transpose2d(x, wt, stride=s, padding=p, output_padding=op, dilation=d, groups=g)
    cases["conv_transpose"].append(dict(x=flat(nhwc(x)), x_shape=list(nhwc(x).shape),
                                        kernel=flat(wt.permute(2, 3, 0, 1)), kernel_shape=list(wt.permute(2, 3, 0, 1).shape),
                                        stride=s, padding=p, output_padding=op, dilation=d, groups=g,
                                        y=flat(nhwc(y)), y_shape=list(nhwc(y).shape)))

for (h, w, k, s, p) in [(7, 7, 3, 2, 1), (6, 5, 2, 2, 0), (8, 6, 4, 3, 2), (5, 5, 3, 1, 1)]:
    x = img(2, 3, h, w)
    for mode in ["max", "avg"]:
        y = F.max_pool2d(x, k, s, p) if mode == "max" else F.avg_pool2d(x, k, s, p)
        cases["pool"].append(dict(mode=mode, x=flat(nhwc(x)), x_shape=list(nhwc(x).shape), window=k, stride=s,
                                  padding=p, y=flat(nhwc(y)), y_shape=list(nhwc(y).shape)))

for (h, w, oh, ow) in [(4, 5, 9, 7), (6, 6, 3, 4), (3, 3, 8, 8), (5, 7, 5, 7)]:
    x = img(1, 2, h, w)
    for mode, ac in [("nearest", None), ("bilinear", False), ("bilinear", True)]:
        y = F.interpolate(x, size=(oh, ow), mode=mode) if ac is None else \
            F.interpolate(x, size=(oh, ow), mode=mode, align_corners=ac)
        cases["resize"].append(dict(mode=mode, align_corners=bool(ac), x=flat(nhwc(x)), x_shape=list(nhwc(x).shape),
                                    y=flat(nhwc(y)), y_shape=list(nhwc(y).shape)))

for (h, w, oh, ow) in [(7, 5, 3, 2), (6, 6, 1, 1), (5, 9, 4, 4)]:
    x = img(2, 3, h, w)
    y = F.adaptive_avg_pool2d(x, (oh, ow))
    cases["adaptive"].append(dict(x=flat(nhwc(x)), x_shape=list(nhwc(x).shape), y=flat(nhwc(y)),
                                  y_shape=list(nhwc(y).shape)))

# Batch norm: one training step from fresh statistics with random affine parameters, then eval.
bn = torch.nn.BatchNorm2d(3)
with torch.no_grad():
    bn.weight.copy_(torch.randn(3))
    bn.bias.copy_(torch.randn(3))
x = img(2, 3, 4, 5) * 2 + 1
bn.train()
y_train = bn(x)
x2 = img(2, 3, 4, 5)
bn.eval()
y_eval = bn(x2)
cases["batchnorm"].append(dict(x=flat(nhwc(x)), x_shape=list(nhwc(x).shape), weight=flat(bn.weight.detach()),
                               bias=flat(bn.bias.detach()), y_train=flat(nhwc(y_train.detach())),
                               running_mean=flat(bn.running_mean), running_var=flat(bn.running_var),
                               x_eval=flat(nhwc(x2)), y_eval=flat(nhwc(y_eval.detach()))))

x = torch.randn(2, 3, 5)
ln = torch.nn.LayerNorm(5, eps=1e-5)
cases["layernorm"].append(dict(x=flat(x), x_shape=list(x.shape), y=flat(ln(x).detach())))

x = torch.linspace(-4, 4, 17)
cases["activations"].append(dict(x=flat(x), relu=flat(F.relu(x)), leaky_relu=flat(F.leaky_relu(x, 0.1)),
                                  gelu=flat(F.gelu(x)), silu=flat(F.silu(x)), sigmoid=flat(torch.sigmoid(x)),
                                  tanh=flat(torch.tanh(x))))

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden.json")
tmp = out + ".tmp"
with open(tmp, "w") as f:
    json.dump(dict(torch_version=torch.__version__, cases=cases), f, separators=(",", ":"))
os.replace(tmp, out)
print("wrote", out, os.path.getsize(out), "bytes")
