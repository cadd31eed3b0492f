// Package viz draws what gonomaly measures: ROC, PR and PRO curves, score histograms, anomaly-map
// overlays, sample grids, flow densities, loss curves and metric tables, as PNG or SVG files and inline
// in GoNB notebooks.
//
// Every picture is a Figure: Save(path) picks PNG or SVG from the extension, PNG() and SVG() return the
// bytes, and Display(fig) shows it inline when the program runs under GoNB (and does nothing, printing
// nothing, anywhere else). There are three kinds:
//
//   - *Chart, a gonum/plot plot with a size, for curves, histograms and densities (ROC, PR, PRO,
//     LossCurves, ScoreHistogram, LogLikelihoodHistogram, Histograms, LatentDensity). Its Plot field is
//     exported for restyling.
//   - *Raster, one image pixel for pixel (Overlay, NewRaster): exact, so masks and contours land on the
//     right pixels.
//   - *Drawing, a function drawn on a gonum/plot canvas (SampleGrid): one routine, both formats, with
//     text kept as text in SVG. Text uses the Liberation fonts gonum/plot embeds; no system fonts.
//
// Data comes in as plain values so viz depends on no method or metric code: curves are Series (X, Y
// slices; a metrics.Curve converts as Series{Name: n, X: c.X, Y: c.Y}), class values are Groups, images
// are datasets.Image (HWC float32 in [0, 1]; maps and masks have one channel) and densities are a Grid.
// Colormaps (Viridis, Inferno, Turbo, Gray) map [0, 1] to colours; a Table renders to HTML or text.
//
//	c, err := viz.ROC(viz.Series{Name: "patchcore", X: roc.X, Y: roc.Y})
//	if err != nil { ... }
//	viz.Display(c)             // inline in a notebook; a no-op in scripts
//	err = c.Save("roc.svg")    // or roc.png
//
//	ov, err := viz.Overlay(img, pred.Map).Colormap(viz.Inferno).Alpha(0.5).Mask(mask).Done()
//
// Bad input (empty or mismatched series, NaN values, maps and images of different sizes) gives an error,
// never a panic. `go run ./viz/cmd/gallery -out DIR` writes one of every picture from real metrics on the
// synthetic benchmark.
package viz
