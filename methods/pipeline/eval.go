package pipeline

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/metrics"
	"github.com/gonomaly/gonomaly/viz"
)

// The files Evaluate writes.
const (
	MetricsFile = "metrics.json"
	ReportFile  = "report.html"
)

// EvalOptions says what to evaluate on and where to write the results.
type EvalOptions struct {
	// Data is an MVTec-layout category folder (a test split with good and defective images and masks).
	Data string
	// Out receives MetricsFile and ReportFile (default: the model folder).
	Out string
	// Threshold is the operating threshold of the report's precision and recall: "normal" (default),
	// "f1" or a number.
	Threshold string
	// Examples is how many images each of the report's worst and best grids shows (default 4).
	Examples int
}

// Metrics is what Evaluate writes as MetricsFile: the papers' metrics (NaN as null), the operating
// point, and one entry per defect type.
type Metrics struct {
	Method          string   `json:"method"`
	Display         string   `json:"display"`
	Preset          string   `json:"preset"`
	Data            string   `json:"data"`
	Images          int      `json:"images"`
	Anomalous       int      `json:"anomalous"`
	ImageAUROC      num      `json:"image_auroc"`
	ImageAP         num      `json:"image_ap"`
	ImageF1Max      num      `json:"image_f1_max"`
	F1Threshold     num      `json:"f1_threshold"`
	PixelAUROC      num      `json:"pixel_auroc"`
	PixelAP         num      `json:"pixel_ap"`
	PixelF1Max      num      `json:"pixel_f1_max"`
	AUPRO           num      `json:"aupro"`
	FPRLimit        float64  `json:"aupro_fpr_limit"`
	Threshold       num      `json:"threshold"`
	ThresholdSource string   `json:"threshold_source"`
	Precision       num      `json:"precision"`
	Recall          num      `json:"recall"`
	F1              num      `json:"f1"`
	Accuracy        num      `json:"accuracy"`
	MsPerImage      float64  `json:"ms_per_image"`
	Defects         []string `json:"defects,omitempty"`
	// PerDefect holds each defect type's images against all normal images.
	PerDefect map[string]DefectMetrics `json:"per_defect,omitempty"`
	Warnings  []string                 `json:"warnings,omitempty"`
}

// DefectMetrics are one defect type's metrics.
type DefectMetrics struct {
	Images     int `json:"images"`
	Anomalous  int `json:"anomalous"`
	ImageAUROC num `json:"image_auroc"`
	ImageAP    num `json:"image_ap"`
	PixelAUROC num `json:"pixel_auroc"`
	AUPRO      num `json:"aupro"`
	// Recall is the share of this type's images flagged at the operating threshold.
	Recall num `json:"recall"`
}

// Evaluation is Evaluate's result.
type Evaluation struct {
	Metrics Metrics
	Report  metrics.Report
	// Preds are the test split's predictions in order, Split the split.
	Preds []methods.Prediction
	Split *datasets.Split
	// JSONPath and HTMLPath are the files written.
	JSONPath, HTMLPath string
}

// Evaluate scores the test split of an MVTec-layout folder with a model, computes the papers' metrics
// with metrics.EvaluateSplit (per defect type too) at the chosen operating threshold, writes them as
// MetricsFile and as one self-contained HTML report (ROC and PRO curves, score histogram, the worst and
// best maps), and stores the F1-optimal threshold found on this data in the model's ThresholdsFile.
func Evaluate(ctx context.Context, m *Model, opts EvalOptions) (*Evaluation, error) {
	if opts.Out == "" {
		opts.Out = m.Dir
	}
	if opts.Examples <= 0 {
		opts.Examples = 4
	}
	thr, thrSource, err := m.Thresholds.Choose(opts.Threshold)
	if err != nil {
		return nil, err
	}
	layout, err := DetectLayout(opts.Data)
	if err != nil {
		return nil, err
	}
	if layout != MVTecLayout {
		return nil, fmt.Errorf("eval: %s is a plain folder of images: evaluation needs labelled test images, an MVTec-layout category (test/good, test/<defect>, ground_truth/<defect>); use predict to score unlabelled images", opts.Data)
	}
	ds, _, err := Open(opts.Data, m.ImageSize(), 0, 0)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	rep, preds, err := metrics.EvaluateSplit(ctx, m.Detector, ds.Test, metrics.Options{
		Threshold: metrics.ThresholdManual, ImageThreshold: thr, PixelThreshold: m.Thresholds.Pixel})
	if err != nil {
		return nil, err
	}
	elapsed := time.Since(start)
	abs, _ := filepath.Abs(opts.Data)
	ev := &Evaluation{Report: rep, Preds: preds, Split: ds.Test}
	ev.Metrics = metricsOf(m, abs, rep, thrSource, elapsed, len(preds))
	if rep.Anomalous > 0 && rep.Anomalous < rep.Images && !math.IsNaN(rep.ImageThreshold) {
		f1 := rep.ImageThreshold
		m.Thresholds.F1 = &f1
		m.Thresholds.F1Source = fmt.Sprintf("F1-max on the %d test images of %s", rep.Images, abs)
		if err := writeJSON(filepath.Join(m.Dir, ThresholdsFile), m.Thresholds); err != nil {
			return nil, err
		}
	}
	html, err := reportHTML(m, ev, thr, opts.Examples)
	if err != nil {
		return nil, err
	}
	ev.JSONPath, ev.HTMLPath = filepath.Join(opts.Out, MetricsFile), filepath.Join(opts.Out, ReportFile)
	if err := writeJSON(ev.JSONPath, ev.Metrics); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(ev.HTMLPath, html); err != nil {
		return nil, err
	}
	return ev, nil
}

func metricsOf(m *Model, data string, rep metrics.Report, thrSource string, elapsed time.Duration, n int) Metrics {
	out := Metrics{Method: m.Info.Method, Display: m.Info.Display, Preset: m.Info.Preset, Data: data,
		Images: rep.Images, Anomalous: rep.Anomalous,
		ImageAUROC: num(rep.ImageAUROC), ImageAP: num(rep.ImageAP), ImageF1Max: num(rep.ImageF1Max), F1Threshold: num(rep.ImageThreshold),
		PixelAUROC: num(rep.PixelAUROC), PixelAP: num(rep.PixelAP), PixelF1Max: num(rep.PixelF1Max), AUPRO: num(rep.AUPRO), FPRLimit: rep.FPRLimit,
		Threshold: num(rep.Threshold), ThresholdSource: thrSource,
		Precision: num(rep.Precision), Recall: num(rep.Recall), F1: num(rep.F1), Accuracy: num(rep.Accuracy),
		MsPerImage: float64(elapsed.Microseconds()) / 1000 / float64(max(n, 1)),
		Defects:    rep.Defects, Warnings: rep.Warnings}
	if len(rep.PerDefect) > 0 {
		out.PerDefect = map[string]DefectMetrics{}
		for name, r := range rep.PerDefect {
			out.PerDefect[name] = DefectMetrics{Images: r.Images, Anomalous: r.Anomalous, ImageAUROC: num(r.ImageAUROC), ImageAP: num(r.ImageAP),
				PixelAUROC: num(r.PixelAUROC), AUPRO: num(r.AUPRO), Recall: num(r.Recall)}
		}
	}
	return out
}

// reportHTML renders the evaluation as one self-contained page.
func reportHTML(m *Model, ev *Evaluation, thr float64, examples int) ([]byte, error) {
	rep, mt := ev.Report, ev.Metrics
	p := newPage(fmt.Sprintf("%s on %s", m.Info.Display, filepath.Base(mt.Data)))
	p.para(fmt.Sprintf("Method %s (%s, %s family), preset %s at %d px, fitted on %d normal images of %s in %.1f s. Evaluated on %d test images (%d defective) of %s, %.1f ms per image.",
		m.Info.Display, m.Info.Method, m.Info.Family, m.Info.Preset, m.Info.Settings.ImageSize, m.Info.TrainImages, m.Info.Data, m.Info.FitSeconds,
		mt.Images, mt.Anomalous, mt.Data, mt.MsPerImage))
	p.h2("Metrics")
	p.table([]string{"metric", "value"}, [][]any{
		{"image AUROC", rep.ImageAUROC}, {"image AP", rep.ImageAP}, {"image F1-max", rep.ImageF1Max},
		{"pixel AUROC", rep.PixelAUROC}, {"pixel AP", rep.PixelAP}, {fmt.Sprintf("AUPRO (FPR <= %g)", rep.FPRLimit), rep.AUPRO},
		{"pixel F1-max", rep.PixelF1Max},
	})
	p.h2("Operating point")
	p.para(fmt.Sprintf("Threshold %.6g: %s.", thr, mt.ThresholdSource))
	p.table([]string{"at this threshold", "value"}, [][]any{
		{"precision", rep.Precision}, {"recall (defective images flagged)", rep.Recall}, {"F1", rep.F1}, {"accuracy", rep.Accuracy},
		{"false alarms (normal images flagged)", falseAlarmRate(ev, thr)},
	})
	if m.Thresholds.F1 != nil {
		p.note(fmt.Sprintf("Normal-only threshold %.6g (%s, false-alarm rate %g); F1-optimal threshold %.6g (%s).",
			m.Thresholds.Normal, m.Thresholds.NormalSource, m.Thresholds.FalseAlarmRate, *m.Thresholds.F1, m.Thresholds.F1Source))
	}
	if len(rep.Defects) > 0 {
		p.h2("Per defect type")
		var rows [][]any
		for _, name := range rep.Defects {
			r := rep.PerDefect[name]
			rows = append(rows, []any{name, r.Anomalous, r.ImageAUROC, r.ImageAP, r.PixelAUROC, r.AUPRO, r.Recall})
		}
		p.table([]string{"defect", "defective images", "image AUROC", "image AP", "pixel AUROC", "AUPRO", "recall at threshold"}, rows)
	}
	for _, w := range rep.Warnings {
		p.note("Warning: " + w)
	}
	p.h2("Curves")
	if rep.ROC.Len() > 0 {
		c, err := viz.ROC(viz.Series{Name: m.Info.Display, X: rep.ROC.X, Y: rep.ROC.Y})
		if err != nil {
			return nil, err
		}
		if err := addChart(p, c, "ROC curve", "Image-level ROC curve."); err != nil {
			return nil, err
		}
	}
	if rep.PRO.Len() > 0 && !math.IsNaN(rep.AUPRO) {
		c, err := viz.PRO(rep.FPRLimit, viz.Series{Name: m.Info.Display, X: rep.PRO.X, Y: rep.PRO.Y})
		if err != nil {
			return nil, err
		}
		if err := addChart(p, c, "PRO curve", "Per-region overlap against the false-positive rate of normal pixels; AUPRO integrates it up to the shaded limit."); err != nil {
			return nil, err
		}
	}
	var normal, anomalous []float64
	for i, it := range ev.Split.Items {
		if it.Label == datasets.Normal {
			normal = append(normal, float64(ev.Preds[i].Score))
		} else {
			anomalous = append(anomalous, float64(ev.Preds[i].Score))
		}
	}
	h, err := viz.ScoreHistogram(normal, anomalous, thr)
	if err != nil {
		return nil, err
	}
	if err := addChart(p, h, "score histogram", "Image scores of normal and defective test images, with the operating threshold."); err != nil {
		return nil, err
	}
	p.h2("Worst and best maps")
	p.note("Each row: the image, its ground truth, the anomaly map (coloured so the model's pixel threshold is mid-scale), the overlay with the ground-truth contour, and the thresholded map.")
	norm := metrics.Normalizer{Threshold: m.Thresholds.Pixel, Min: m.Thresholds.MapMin, Max: m.Thresholds.MapMax}
	for _, g := range exampleGroups(ev, examples) {
		if len(g.idx) == 0 {
			continue
		}
		samples := make([]viz.Sample, len(g.idx))
		for k, i := range g.idx {
			s, err := ev.Split.Sample(i)
			if err != nil {
				return nil, err
			}
			samples[k] = viz.Sample{Image: s.Image, Mask: s.Mask, Map: norm.ApplyImage(ev.Preds[i].Map), Score: float64(ev.Preds[i].Score), Truth: s.Label}
			if s.Label != datasets.Normal {
				samples[k].Defect = s.Defect
			}
		}
		d, err := viz.SampleGrid(samples...).Range(0, 1).PixelThreshold(0.5).ScoreThreshold(thr).CellSize(112).Title(g.title).Done()
		if err != nil {
			return nil, err
		}
		png, err := d.PNG()
		if err != nil {
			return nil, err
		}
		p.picture(png, g.title, g.caption)
	}
	return p.done(), nil
}

func falseAlarmRate(ev *Evaluation, thr float64) float64 {
	n, fa := 0, 0
	for i, it := range ev.Split.Items {
		if it.Label == datasets.Normal {
			n++
			if float64(ev.Preds[i].Score) >= thr {
				fa++
			}
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return float64(fa) / float64(n)
}

type exampleGroup struct {
	title, caption string
	idx            []int
}

// exampleGroups picks the highest-scoring normal images (worst false alarms), the lowest-scoring
// defective ones (worst misses), and the clearest detections and quietest normals (best).
func exampleGroups(ev *Evaluation, n int) []exampleGroup {
	var normal, defective []int
	for i, it := range ev.Split.Items {
		if it.Label == datasets.Normal {
			normal = append(normal, i)
		} else {
			defective = append(defective, i)
		}
	}
	byScore := func(idx []int, desc bool) []int {
		out := slices.Clone(idx)
		sort.SliceStable(out, func(a, b int) bool {
			sa, sb := ev.Preds[out[a]].Score, ev.Preds[out[b]].Score
			if desc {
				return sa > sb
			}
			return sa < sb
		})
		return out[:min(n, len(out))]
	}
	return []exampleGroup{
		{"Worst: normal images with the highest scores", "Likeliest false alarms.", byScore(normal, true)},
		{"Worst: defective images with the lowest scores", "Likeliest misses.", byScore(defective, false)},
		{"Best: defective images with the highest scores", "Clearest detections.", byScore(defective, true)},
		{"Best: normal images with the lowest scores", "Quietest normal images.", byScore(normal, false)},
	}
}

func addChart(p *page, c *viz.Chart, alt, caption string) error {
	png, err := c.PNG()
	if err != nil {
		return err
	}
	p.picture(png, alt, caption)
	return nil
}
