// Package viz draws what gonomaly measures: ROC and PRO curves, score histograms, anomaly-map overlays,
// sample grids, flow densities, loss curves and metric tables, as PNG or SVG files and inline in GoNB.
package viz
