"""Times SimpleNet's and Deep SVDD's CPU-preset training steps in PyTorch (same shapes as
BenchmarkSimpleNetTrainStep and BenchmarkSVDDTrainStep: 2048 patch features of 384 dimensions), on 2 threads.

    /usr/bin/python3 methods/simplenet/testdata/torch_step.py   (Debian's python3-torch)
"""
import time

import torch

torch.set_num_threads(2)
torch.manual_seed(0)
x = torch.randn(2048, 384)

adaptor = torch.nn.Linear(384, 384)
disc = torch.nn.Sequential(torch.nn.Linear(384, 1024), torch.nn.BatchNorm1d(1024), torch.nn.LeakyReLU(0.2),
                           torch.nn.Linear(1024, 1, bias=False))
opt_a = torch.optim.Adam(adaptor.parameters(), lr=1e-4, weight_decay=1e-5)
opt_d = torch.optim.Adam(disc.parameters(), lr=2e-4, weight_decay=1e-5)


def simplenet_step():
    opt_a.zero_grad()
    opt_d.zero_grad()
    q = adaptor(x)
    fake = q + torch.randn_like(q) * 0.1
    s = disc(torch.cat([q, fake]))
    loss = torch.clip(0.5 - s[:2048], min=0).mean() + torch.clip(s[2048:] + 0.5, min=0).mean()
    loss.backward()
    opt_a.step()
    opt_d.step()


phi = torch.nn.Sequential(torch.nn.Linear(384, 256, bias=False), torch.nn.LeakyReLU(0.01),
                          torch.nn.Linear(256, 32, bias=False))
opt_p = torch.optim.Adam(phi.parameters(), lr=1e-3, weight_decay=5e-7)
c = torch.full((32,), 0.1)


def svdd_step():
    opt_p.zero_grad()
    loss = ((phi(x) - c) ** 2).sum(1).mean()
    loss.backward()
    opt_p.step()


for name, fn in [("simplenet", simplenet_step), ("deepsvdd", svdd_step)]:
    for _ in range(3):
        fn()
    n = 10
    t = time.perf_counter()
    for _ in range(n):
        fn()
    print(f"{name} train step: {(time.perf_counter() - t) / n * 1000:.1f} ms")
