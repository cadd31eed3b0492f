#!/usr/bin/python3
"""PatchCore's CPU preset in PyTorch, for the README's peak-memory comparison (issue 17).

Same shapes as `go run ./methods/cmd/evalbench -method patchcore` with its defaults: ResNet-18 (seeded,
no ImageNet weights), 128 px, layer2 + layer3, 3x3 neighbourhood average, adaptive average pooling to
D = 256, 5% greedy k-center coreset on a 128-dimensional random projection, nearest-neighbour patch
scores, bilinear upsampling and Gaussian smoothing (sigma 4), maps kept for every test image; Fit and
Predict in batches of 8. Pixels are random (memory does not depend on them). Fit and predict run in
separate processes, as evalbench with -checkpoint does:

    /usr/bin/python3 patchcore_torch.py --phase fit --train 16
    /usr/bin/python3 patchcore_torch.py --phase predict --test 64

prints the peak RSS (getrusage) of the process. Runs on Debian's python3-torch (1.13), 2 threads.
"""
import argparse
import resource
import time

import torch
import torch.nn.functional as F
import torchvision

SIZE, DIM, RATIO, PROJ, BATCH, SIGMA = 128, 256, 0.05, 128, 8, 4.0


def backbone():
    torch.manual_seed(0)
    m = torchvision.models.resnet18(weights=None).eval()
    return m


def taps(m, x):
    x = m.maxpool(m.relu(m.bn1(m.conv1(x))))
    l2 = m.layer2(m.layer1(x))
    return l2, m.layer3(l2)


def patch_features(m, x):
    """[N, H*W, DIM] locally aware patch features (PatchCore Sec. 3.1)."""
    l2, l3 = taps(m, x)
    l2 = F.avg_pool2d(l2, 3, 1, 1)
    l3 = F.avg_pool2d(l3, 3, 1, 1)
    l3 = F.interpolate(l3, size=l2.shape[-2:], mode="bilinear", align_corners=False)
    f = torch.cat([l2, l3], 1)  # [N, C, H, W]
    n, c, h, w = f.shape
    f = f.permute(0, 2, 3, 1).reshape(-1, 1, c)
    f = F.adaptive_avg_pool1d(f, DIM).reshape(n, h * w, DIM)
    return f, h, w


def greedy_coreset(x, k):
    g = torch.Generator().manual_seed(0)
    p = torch.randn(x.shape[1], PROJ, generator=g) / PROJ ** 0.5
    z = x @ p
    chosen = [0]
    d = torch.cdist(z, z[0:1]).squeeze(1)
    for _ in range(k - 1):
        i = int(torch.argmax(d))
        chosen.append(i)
        d = torch.minimum(d, torch.cdist(z, z[i:i + 1]).squeeze(1))
    return x[chosen].clone()


def gaussian(maps):
    r = int(4 * SIGMA + 0.5)
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-t * t / (2 * SIGMA * SIGMA))
    k = k / k.sum()
    maps = F.pad(maps, (r, r, 0, 0), mode="reflect")
    maps = F.conv2d(maps, k.view(1, 1, 1, -1))
    maps = F.pad(maps, (0, 0, r, r), mode="reflect")
    return F.conv2d(maps, k.view(1, 1, -1, 1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--phase", choices=["fit", "predict"], required=True)
    ap.add_argument("--train", type=int, default=16)
    ap.add_argument("--test", type=int, default=16)
    ap.add_argument("--bank", default="/tmp/patchcore_torch_bank.pt")
    a = ap.parse_args()
    torch.set_num_threads(2)
    m = backbone()
    start = time.time()
    with torch.no_grad():
        if a.phase == "fit":
            feats = []
            for lo in range(0, a.train, BATCH):
                x = torch.rand(min(BATCH, a.train - lo), 3, SIZE, SIZE)
                f, _, _ = patch_features(m, x)
                feats.append(f.reshape(-1, DIM))
            feats = torch.cat(feats)
            bank = greedy_coreset(feats, max(1, round(RATIO * len(feats))))
            torch.save(bank, a.bank)
            what = f"fit {a.train} images, bank {tuple(bank.shape)}"
        else:
            bank = torch.load(a.bank)
            maps, scores = [], []
            for lo in range(0, a.test, BATCH):
                x = torch.rand(min(BATCH, a.test - lo), 3, SIZE, SIZE)
                f, h, w = patch_features(m, x)
                d = torch.cdist(f.reshape(-1, DIM), bank).min(1).values.reshape(-1, 1, h, w)
                up = gaussian(F.interpolate(d, size=(SIZE, SIZE), mode="bilinear", align_corners=False))
                maps.append(up)
                scores.append(d.flatten(1).max(1).values)
            maps = torch.cat(maps)
            what = f"predict {a.test} images, maps {tuple(maps.shape)}"
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"pytorch {torch.__version__}: {what}: {time.time() - start:.1f} s, peak RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main()
