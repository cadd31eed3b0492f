// Package pipeline runs any method of the catalogue on a folder of one's own images, the way anomalib's
// command line does (train, test, predict, benchmark), as Go functions that the gonomaly command
// (methods/cmd/gonomaly) and the notebooks call alike:
//
//   - Fit fits a method (methods.Build with a preset and a JSON overlay of the shared Settings) on an
//     MVTec-layout category or a plain folder of normal images, resumably when the method trains
//     (methods.Resumable), and stores in a model folder the detector, what it was fitted on, and a
//     threshold from held-out normal images at a chosen false-alarm rate.
//   - Predict streams a folder of images through a model and writes a CSV of scores and verdicts and,
//     per image, a PNG anomaly map and overlay.
//   - Evaluate computes the papers' metrics (image AUROC, pixel AUROC, AUPRO, F1-max, AP, per defect
//     type) as JSON and as one self-contained HTML report, and stores the F1-optimal threshold beside the
//     normal-only one.
//   - Bench fits and evaluates many methods on many categories and writes a leaderboard (accuracy, fit
//     time, ms per image, peak memory) as CSV, Markdown and HTML; finished cells are kept on disk and not
//     recomputed.
//
// Every file is written through a temporary file and a rename; a bad input file gives an error naming it
// before anything is written.
package pipeline
