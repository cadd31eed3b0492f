#!/usr/bin/python3
"""Writes golden.json: reference values for methods/metrics tests.

Run with Debian's interpreter (scikit-learn 1.2, SciPy, NumPy):

    /usr/bin/python3 methods/metrics/testdata/gen_golden.py

Image-level references come from scikit-learn (roc_auc_score, average_precision_score, roc_curve with
drop_intermediate=False, precision_recall_curve). Pixel-level AUROC/AP come from scikit-learn on the
flattened pixels; the PRO curve and AUPRO follow the definition of MVTec AD's evaluation code
(Bergmann et al., IJCV 2021), re-implemented below: 8-connected ground-truth components per image
(scipy.ndimage.label with a 3x3 structure), FPR over mask==0 pixels of all images, PRO = mean over all
regions of the covered fraction, one point per distinct score (the last point of each tie group),
(0,0) prepended and (1,1) appended, trapezoid rule up to the limit with linear interpolation there,
divided by the limit. The official code casts the FPRs to float32; this script keeps float64 and also
writes aupro_float32fpr, the AUPRO with that cast, to show the difference stays far below 1e-6.
"""
import bisect
import json
import os

import numpy as np
from scipy import ndimage
from sklearn.metrics import (average_precision_score, precision_recall_curve, roc_auc_score,
                             roc_curve)


def f1max(labels, scores):
    p, r, t = precision_recall_curve(labels, scores)
    p, r = p[:-1], r[:-1]
    f1 = np.where(p + r > 0, 2 * p * r / np.where(p + r > 0, p + r, 1), 0)
    k = int(np.argmax(f1))
    return float(f1[k]), float(t[k])


def image_case(name, scores, labels):
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    fpr, tpr, rthr = roc_curve(labels, scores, drop_intermediate=False)
    p, r, pthr = precision_recall_curve(labels, scores)
    f1, f1t = f1max(labels, scores)
    return {
        "name": name, "scores": scores.tolist(), "labels": labels.tolist(),
        "auroc": float(roc_auc_score(labels, scores)),
        "ap": float(average_precision_score(labels, scores)),
        "f1max": f1, "f1threshold": f1t,
        "roc": {"x": fpr.tolist(), "y": tpr.tolist(), "t": rthr.tolist()},
        "pr": {"x": r.tolist(), "y": p.tolist(), "t": pthr.tolist()},
    }


def pro_curve(maps, masks, fpr_dtype=np.float64):
    structure = np.ones((3, 3), dtype=int)
    fp_w, pro_w = [], []
    n_regions = 0
    n_ok = 0
    for m in masks:
        lab, n = ndimage.label(m, structure)
        ok = lab == 0
        n_ok += int(ok.sum())
        fp_w.append(ok.astype(np.float64).ravel())
        w = np.zeros(m.shape, dtype=np.float64)
        for k in range(1, n + 1):
            reg = lab == k
            w[reg] = 1.0 / reg.sum()
        n_regions += n
        pro_w.append(w.ravel())
    s = np.concatenate([a.ravel() for a in maps]).astype(np.float64)
    fp_w, pro_w = np.concatenate(fp_w), np.concatenate(pro_w)
    order = np.argsort(-s, kind="mergesort")
    s, fp_w, pro_w = s[order], fp_w[order], pro_w[order]
    fpr = (np.cumsum(fp_w).astype(fpr_dtype) / n_ok).astype(fpr_dtype)
    pro = np.cumsum(pro_w) / n_regions
    keep = np.append(np.diff(s) != 0, True)
    fpr, pro = np.minimum(fpr[keep], 1), np.minimum(pro[keep], 1)
    return np.concatenate(([0.0], fpr, [1.0])), np.concatenate(([0.0], pro, [1.0])), n_regions


def trapezoid_to(x, y, limit):
    x, y = np.asarray(x), np.asarray(y)
    extra = 0.0
    if limit not in x:
        i = bisect.bisect(x.tolist(), limit)
        yi = y[i - 1] + (y[i] - y[i - 1]) * (limit - x[i - 1]) / (x[i] - x[i - 1])
        extra = 0.5 * (yi + y[i - 1]) * (limit - x[i - 1])
    keep = x <= limit
    x, y = x[keep], y[keep]
    return float(np.sum(0.5 * (y[1:] + y[:-1]) * (x[1:] - x[:-1])) + extra)


def pixel_case(name, maps, masks):
    maps = [np.asarray(m, dtype=np.float32) for m in maps]
    masks = [np.asarray(m, dtype=np.uint8) for m in masks]
    s = np.concatenate([m.ravel() for m in maps]).astype(np.float64)
    l = np.concatenate([m.ravel() for m in masks]).astype(bool)
    fpr, pro, nreg = pro_curve(maps, masks)
    # As the official code: FPRs rounded to float32 before integration.
    fpr32, pro32, _ = pro_curve(maps, masks, np.float32)
    f1, f1t = f1max(l, s)
    return {
        "name": name,
        "maps": [m.astype(np.float64).tolist() for m in maps],
        "masks": [m.tolist() for m in masks],
        "auroc": float(roc_auc_score(l, s)),
        "ap": float(average_precision_score(l, s)),
        "f1max": f1, "f1threshold": f1t,
        "regions": int(nreg),
        "aupro": {str(lim): trapezoid_to(fpr, pro, lim) / lim for lim in (0.3, 1.0, 0.05)},
        "aupro_float32fpr": trapezoid_to(fpr32.astype(np.float64), pro32, 0.3) / 0.3,
        "pro": {"x": fpr.tolist(), "y": pro.tolist()},
    }


def blobs(rng, h, w, n, rmax):
    m = np.zeros((h, w), dtype=np.uint8)
    for _ in range(n):
        cy, cx = rng.integers(0, h), rng.integers(0, w)
        ry, rx = rng.integers(0, rmax + 1), rng.integers(0, rmax + 1)
        m[max(0, cy - ry):cy + ry + 1, max(0, cx - rx):cx + rx + 1] = 1
    return m


def main():
    rng = np.random.default_rng(20261129)
    images = []
    lab = rng.random(50) < 0.4
    images.append(image_case("random", rng.normal(size=50) + 1.2 * lab, lab))
    lab = rng.random(60) < 0.5
    images.append(image_case("ties", np.round(rng.random(60) * 0.6 + 0.4 * lab, 1), lab))
    images.append(image_case("all_tied", [0.5] * 7, [0, 1, 0, 1, 1, 0, 0]))
    images.append(image_case("perfect", [0.1, 0.2, 0.3, 0.9, 1.5], [0, 0, 0, 1, 1]))
    images.append(image_case("inverted", [0.9, 0.8, 0.1, 0.2], [0, 0, 1, 1]))
    images.append(image_case("small", [0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]))
    lab = rng.random(40) < 0.3
    images.append(image_case("negative_int", rng.integers(-5, 5, size=40) + 2 * lab, lab))

    pixels = []
    # Several blobs per image (some touching only diagonally), two all-normal images.
    masks = [blobs(rng, 16, 16, k, 2) for k in (3, 1, 4, 2)] + [np.zeros((16, 16), np.uint8)] * 2
    maps = [rng.random((16, 16)) * 0.7 + 0.45 * m for m in masks]
    pixels.append(pixel_case("random_regions", maps, masks))
    # Heavy ties: scores quantised to 6 levels.
    maps = [np.round((rng.random((16, 16)) * 0.6 + 0.4 * m) * 5) / 5 for m in masks]
    pixels.append(pixel_case("ties", maps, masks))
    # Tiny regions: single pixels and diagonal pairs (one 8-connected region, two 4-connected ones).
    m = np.zeros((12, 20), np.uint8)
    m[1, 1] = 1
    m[5, 5] = m[6, 6] = 1
    m[10, 18] = 1
    m[3, 12:15] = 1
    m2 = np.zeros((12, 20), np.uint8)
    m2[0, 0] = m2[11, 19] = m2[6, 10] = 1
    masks = [m, m2, np.zeros((12, 20), np.uint8)]
    maps = [rng.random((12, 20)) * 0.8 + 0.3 * x for x in masks]
    pixels.append(pixel_case("tiny_regions", maps, masks))
    # Mostly normal images, one large region touching the border.
    m = np.zeros((10, 10), np.uint8)
    m[4:10, 0:7] = 1
    masks = [m] + [np.zeros((10, 10), np.uint8)] * 5
    maps = [rng.random((10, 10)) + 0.2 * x for x in masks]
    pixels.append(pixel_case("mostly_normal", maps, masks))

    out = {"generator": "gen_golden.py", "sklearn": __import__("sklearn").__version__,
           "image": images, "pixel": pixels}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden.json")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(out, f, separators=(",", ":"))
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
