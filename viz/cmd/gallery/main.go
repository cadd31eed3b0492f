// Command gallery writes every chart type of package viz, as PNG and SVG, from real metrics on the
// synthetic benchmark: go run ./viz/cmd/gallery -out DIR.
//
// The scores come from plain-Go baselines (distance to the mean normal image, per-pixel z-score), a 2-D
// Gaussian on map statistics (an affine flow) and a linear autoencoder trained by SGD; the metrics come
// from methods/metrics. Nothing is made up for the pictures.
package main

import (
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/datasets/synth"
	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/metrics"
	"github.com/gonomaly/gonomaly/viz"
)

func main() {
	out := flag.String("out", "gallery", "output directory (created if missing)")
	category := flag.String("category", "pill", "synthetic category, one of "+fmt.Sprint(synth.Categories()))
	size := flag.Int("size", 128, "image side in pixels")
	seed := flag.Uint64("seed", 1, "dataset seed")
	cell := flag.Int("cell", 112, "sample-grid cell size in pixels")
	flag.Parse()
	log.SetFlags(0)
	if err := run(*out, *category, *size, *seed, *cell); err != nil {
		log.Fatalf("gallery: %v", err)
	}
}

// evaluated is one baseline's predictions and metrics on the test split.
type evaluated struct {
	name   string
	preds  []methods.Prediction
	report metrics.Report
}

func run(out, category string, size int, seed uint64, cell int) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	ds, err := synth.New(category, synth.Options{Size: size, Seed: seed, Train: 50, TestNormal: 20, TestPerDefect: 6, ValFraction: 0.2})
	if err != nil {
		return err
	}
	train, err := synth.LoadAll(ds.Train)
	if err != nil {
		return err
	}
	val, err := synth.LoadAll(ds.Val)
	if err != nil {
		return err
	}
	test, err := synth.LoadAll(ds.Test)
	if err != nil {
		return err
	}
	labels, masks, defects := make([]datasets.Label, len(test)), make([]datasets.Image, len(test)), make([]string, len(test))
	for i, s := range test {
		labels[i], masks[i], defects[i] = s.Label, s.Mask, s.Defect
	}
	valLabels := make([]datasets.Label, len(val))
	for i, s := range val {
		valLabels[i] = s.Label
	}

	stats := fitPixelStats(train)
	var runs []evaluated
	for _, b := range baselines(stats) {
		preds := predict(b, test)
		rep, err := metrics.Evaluate(preds, labels, masks, defects, metrics.Options{
			Val: &metrics.Validation{Preds: predict(b, val), Labels: valLabels},
		})
		if err != nil {
			return fmt.Errorf("%s: %w", b.name, err)
		}
		runs = append(runs, evaluated{name: b.name, preds: preds, report: rep})
	}
	save := func(name string, fig viz.Figure, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		for _, ext := range []string{".png", ".svg"} {
			if err := fig.Save(filepath.Join(out, name+ext)); err != nil {
				return err
			}
		}
		return nil
	}
	title := fmt.Sprintf(" (synthetic %s, %d test images)", category, len(test))

	// Curves: the metrics' own points; legend numbers are the metrics' exact values (pixel curves are
	// thinned, so their areas would differ slightly).
	var roc, pr, pro []viz.Series
	for _, r := range runs {
		roc = append(roc, viz.Series{Name: r.name, X: r.report.ROC.X, Y: r.report.ROC.Y,
			Label: fmt.Sprintf("%s (AUROC %.3f)", r.name, r.report.ImageAUROC)})
		pr = append(pr, viz.Series{Name: r.name, X: r.report.PR.X, Y: r.report.PR.Y,
			Label: fmt.Sprintf("%s (AP %.3f)", r.name, r.report.ImageAP)})
		pro = append(pro, viz.Series{Name: r.name, X: r.report.PRO.X, Y: r.report.PRO.Y,
			Label: fmt.Sprintf("%s (AUPRO@0.3 %.3f)", r.name, r.report.AUPRO)})
	}
	c, err := viz.ROC(roc...)
	if err == nil {
		c.Plot.Title.Text = "Image-level ROC" + title
	}
	if err := save("roc", c, err); err != nil {
		return err
	}
	c, err = viz.PR(pr...)
	if err == nil {
		c.Plot.Title.Text = "Image-level precision-recall" + title
	}
	if err := save("pr", c, err); err != nil {
		return err
	}
	c, err = viz.PRO(metrics.DefaultFPRLimit, pro...)
	if err == nil {
		c.Plot.Title.Text = "Per-region overlap" + title
	}
	if err := save("pro", c, err); err != nil {
		return err
	}

	// The best baseline by image AUROC drives the per-image pictures.
	best := slices.MaxFunc(runs, func(a, b evaluated) int {
		return cmpFloat(a.report.ImageAUROC, b.report.ImageAUROC)
	})
	var normalScores, anomalousScores []float64
	for i, p := range best.preds {
		if labels[i] == datasets.Normal {
			normalScores = append(normalScores, float64(p.Score))
		} else {
			anomalousScores = append(anomalousScores, float64(p.Score))
		}
	}
	c, err = viz.ScoreHistogram(normalScores, anomalousScores, best.report.Threshold)
	if err == nil {
		c.Plot.Title.Text = "Image scores: " + best.name
	}
	if err := save("score_histogram", c, err); err != nil {
		return err
	}

	// Colours compare across images: one range, from the smallest to the largest value of every map.
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range best.preds {
		for _, v := range p.Map.Pix {
			lo, hi = math.Min(lo, float64(v)), math.Max(hi, float64(v))
		}
	}
	firstAnomalous := slices.IndexFunc(test, func(s datasets.Sample) bool { return s.Label == datasets.Anomalous })
	for _, cm := range []viz.Colormap{viz.Turbo, viz.Viridis, viz.Inferno} {
		i := firstAnomalous
		ov, err := viz.Overlay(test[i].Image, best.preds[i].Map).Colormap(cm).Range(lo, hi).Mask(test[i].Mask).Done()
		if err == nil {
			ov = ov.Scaled(max(1, 256/size))
		}
		if err := save("overlay_"+cm.Name(), ov, err); err != nil {
			return err
		}
	}

	// Sample grid: the highest-scoring normal image and the first image of three defect types.
	var rows []viz.Sample
	normalIdx := []int{}
	for i := range test {
		if labels[i] == datasets.Normal {
			normalIdx = append(normalIdx, i)
		}
	}
	slices.SortFunc(normalIdx, func(a, b int) int { return cmpFloat(float64(best.preds[b].Score), float64(best.preds[a].Score)) })
	seen := map[string]bool{}
	var pick []int
	pick = append(pick, normalIdx[:min(1, len(normalIdx))]...)
	for i := range test {
		if labels[i] == datasets.Anomalous && !seen[defects[i]] && len(seen) < 3 {
			seen[defects[i]] = true
			pick = append(pick, i)
		}
	}
	for _, i := range pick {
		rows = append(rows, viz.Sample{Image: test[i].Image, Mask: test[i].Mask, Map: best.preds[i].Map,
			Score: float64(best.preds[i].Score), Truth: labels[i], Defect: defects[i]})
	}
	grid, err := viz.SampleGrid(rows...).CellSize(cell).Range(lo, hi).PixelThreshold(best.report.PixelThreshold).
		ScoreThreshold(best.report.Threshold).Title(best.name + title).Done()
	if err := save("sample_grid", grid, err); err != nil {
		return err
	}

	// Flow density: a 2-D Gaussian (affine flow) on (log mean, log max) of the z-score map, fitted on the
	// validation images (normal, unseen by the pixel statistics).
	zs := baselines(stats)[1]
	var valFeat [][2]float64
	for _, s := range val {
		valFeat = append(valFeat, mapFeatures(zs.score(s.Image)))
	}
	flow, err := fitGaussian2(valFeat)
	if err != nil {
		return err
	}
	byClass := map[datasets.Label][]float64{}
	normalPts, anomalousPts := viz.PointGroup{Name: "normal"}, viz.PointGroup{Name: "anomalous"}
	zx0, zx1, zy0, zy1 := -3.0, 3.0, -3.0, 3.0
	for _, s := range test {
		f := mapFeatures(zs.score(s.Image))
		byClass[s.Label] = append(byClass[s.Label], flow.logLikelihood(f))
		z := flow.latent(f)
		zx0, zx1, zy0, zy1 = math.Min(zx0, z[0]-0.5), math.Max(zx1, z[0]+0.5), math.Min(zy0, z[1]-0.5), math.Max(zy1, z[1]+0.5)
		pg := &normalPts
		if s.Label == datasets.Anomalous {
			pg = &anomalousPts
		}
		pg.X, pg.Y = append(pg.X, z[0]), append(pg.Y, z[1])
	}
	c, err = viz.LogLikelihoodHistogram(viz.Group{Name: "normal", Values: byClass[datasets.Normal]},
		viz.Group{Name: "anomalous", Values: byClass[datasets.Anomalous]})
	if err == nil {
		c.Plot.Title.Text = "Log-likelihood per class (affine flow on map statistics)"
	}
	if err := save("flow_loglik_histogram", c, err); err != nil {
		return err
	}
	density, err := viz.GridFunc(zx0, zx1, zy0, zy1, 120, 120, stdNormalLogPDF2)
	if err != nil {
		return err
	}
	c, err = viz.LatentDensity(density, normalPts, anomalousPts)
	if err == nil {
		c.Plot.Title.Text = "Affine-flow latent space: log N(z; 0, I) and test images"
	}
	if err := save("flow_latent_density", c, err); err != nil {
		return err
	}

	// Training loss: a linear autoencoder on 16x16 grey thumbnails, two learning rates.
	var thumbs [][]float64
	for _, s := range train {
		thumbs = append(thumbs, thumbnail(s.Image, 16))
	}
	var loss []viz.Series
	for _, lr := range []float64{0.02, 0.005} {
		l := trainLinearAE(thumbs, 8, 60, lr, seed)
		s := viz.Series{Name: fmt.Sprintf("linear AE, lr %g", lr), Y: l}
		for e := range l {
			s.X = append(s.X, float64(e+1))
		}
		loss = append(loss, s)
	}
	c, err = viz.LossCurves(true, loss...)
	if err == nil {
		c.Plot.Title.Text = "Training loss: linear autoencoder on 16x16 thumbnails"
		c.Plot.X.Label.Text = "epoch"
		c.Plot.Y.Label.Text = "mean squared error"
	}
	if err := save("training_loss", c, err); err != nil {
		return err
	}

	// Metrics table.
	t := viz.NewTable("Synthetic "+category+": plain-Go baselines", "method", "image AUROC", "image AP",
		"image F1-max", "pixel AUROC", "pixel AP", "AUPRO@0.3")
	for _, r := range runs {
		rp := r.report
		if err := t.AddRow(r.name, rp.ImageAUROC, rp.ImageAP, rp.ImageF1Max, rp.PixelAUROC, rp.PixelAP, rp.AUPRO); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(out, "metrics_table.html"), []byte(t.HTML()), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "metrics_table.txt"), []byte(t.Text()), 0o644); err != nil {
		return err
	}
	fmt.Fprint(os.Stderr, t.Text())

	// Per-defect breakdown of the best baseline: each defect type's images against all normal images.
	pd := viz.NewTable("Synthetic "+category+", "+best.name+": per defect type", "defect", "images",
		"image AUROC", "pixel AUROC", "AUPRO@0.3")
	for _, d := range best.report.Defects {
		rp := best.report.PerDefect[d]
		if err := pd.AddRow(d, rp.Anomalous, rp.ImageAUROC, rp.PixelAUROC, rp.AUPRO); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(out, "metrics_per_defect.html"), []byte(pd.HTML()), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "metrics_per_defect.txt"), []byte(pd.Text()), 0o644); err != nil {
		return err
	}
	fmt.Fprint(os.Stderr, "\n", pd.Text())
	return nil
}

// cmpFloat orders floats with NaN first.
func cmpFloat(a, b float64) int {
	switch {
	case a < b || (math.IsNaN(a) && !math.IsNaN(b)):
		return -1
	case a > b || (math.IsNaN(b) && !math.IsNaN(a)):
		return 1
	}
	return 0
}
