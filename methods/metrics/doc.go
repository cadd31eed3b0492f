// Package metrics scores anomaly detectors the way papers report them: image-level AUROC, average
// precision and F1-max; pixel-level AUROC, average precision and AUPRO (the area under the
// per-region-overlap curve of MVTec AD's official evaluation code); the ROC, PR and PRO curves;
// thresholds (adaptive F1-optimal, manual) and min-max normalisation centred on the threshold; and a
// per-defect-type breakdown through Evaluate.
//
// Conventions (those of scikit-learn 1.2 and MVTec AD's evaluation code):
//   - A score s is predicted anomalous at threshold t when s >= t.
//   - Every distinct score is one threshold step: tied scores enter the positive set together, so
//     curves never depend on the order of ties.
//   - Curves are walked from the highest threshold down; ROC and PRO curves start at (0, 0), whose
//     threshold is max+1 as in scikit-learn 1.2's roc_curve.
//
// Pixel metrics run in one of two modes. Exact mode (the default) groups every pixel by its exact
// float32 score with a two-level radix partition (no comparison sort of all pixels) and streams the
// tie groups through every metric at once, using both cores and a bounded scatter window. Binned mode
// histograms the scores into B equal-width bins between the minimum and maximum score; it is exact at the
// bin edges and reports a data-dependent error bound for every metric (see PixelResult).
//
// References: Bergmann, Batzner, Fauser, Sattlegger, Steger, "The MVTec Anomaly Detection Dataset: A
// Comprehensive Real-World Dataset for Unsupervised Anomaly Detection", IJCV 2021, Sec. 5.2 (PRO);
// Bergmann et al., "MVTec AD", CVPR 2019.
package metrics
