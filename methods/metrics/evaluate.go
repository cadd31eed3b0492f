package metrics

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/methods"
)

// ThresholdMode says how Evaluate picks the operating thresholds.
type ThresholdMode int

const (
	// ThresholdAdaptive (the default) takes the F1-optimal threshold of Options.Val (see
	// AdaptiveThreshold), or of the evaluated set itself when there is no validation set (optimistic;
	// the report says so).
	ThresholdAdaptive ThresholdMode = iota
	// ThresholdManual uses Options.ImageThreshold and Options.PixelThreshold.
	ThresholdManual
)

// Validation is a held-out set the adaptive thresholds and the normalisation ranges come from.
// Masks may be nil.
type Validation struct {
	Preds  []methods.Prediction
	Labels []datasets.Label
	Masks  []datasets.Image
}

// Options configures Evaluate. The zero value is the papers' protocol: exact pixel metrics, AUPRO up to
// FPR 0.3, adaptive thresholds.
type Options struct {
	// FPRLimit is the AUPRO integration limit; default DefaultFPRLimit (0.3).
	FPRLimit float64
	// Bins > 0 computes pixel metrics in binned mode (see WithBins); 0 is exact.
	Bins int
	// CurvePoints thins pixel curves (see WithCurvePoints); 0 is DefaultCurvePoints, < 0 keeps all.
	CurvePoints int
	// Workers scanning maps; 0 is GOMAXPROCS.
	Workers int
	// Threshold selects adaptive or manual thresholds.
	Threshold ThresholdMode
	// ImageThreshold and PixelThreshold are the manual thresholds (ThresholdManual only).
	ImageThreshold, PixelThreshold float64
	// Val, if not nil, is the validation set for adaptive thresholds and normalisation ranges.
	Val *Validation
	// NormalQuantile is the quantile of normal validation scores used as threshold when the validation
	// set has no anomalies; 0 (default) or 1 means just above the largest normal score.
	NormalQuantile float64
	// NoPerDefect skips the per-defect breakdown.
	NoPerDefect bool
}

// Report is what Evaluate measured. Pixel fields are NaN when no masks were given (or, with a warning,
// when the masks hold no anomalous or no normal pixel).
type Report struct {
	// Images and Anomalous count the evaluated images.
	Images, Anomalous int
	// ImageAUROC, ImageAP and ImageF1Max are the image-level metrics; ImageThreshold is the threshold
	// reaching ImageF1Max on this set.
	ImageAUROC, ImageAP, ImageF1Max, ImageThreshold float64
	// PixelAUROC, PixelAP, AUPRO (up to FPRLimit) and PixelF1Max are the pixel-level metrics;
	// PixelF1Threshold reaches PixelF1Max.
	PixelAUROC, PixelAP, AUPRO, PixelF1Max, PixelF1Threshold float64
	FPRLimit                                                 float64
	// ROC and PR are the image-level curves (every threshold); PRO is the pixel PRO curve up to FPR 1
	// (thinned); Pixel holds the pixel ROC and PR curves, binned-mode error bounds and pixel counts.
	ROC, PR, PRO Curve
	Pixel        PixelResult
	// Threshold and PixelThreshold are the operating thresholds (see ThresholdMode); ThresholdSource
	// says where they come from.
	Threshold, PixelThreshold float64
	ThresholdSource           string
	// Precision, Recall, F1 and Accuracy are image-level, at Threshold.
	Precision, Recall, F1, Accuracy float64
	// ScoreNorm and MapNorm normalise image scores and anomaly maps around the operating thresholds
	// (ranges from the validation set if given, else from this set).
	ScoreNorm, MapNorm Normalizer
	// PerDefect holds one report per defect type: that type's images against all normal images, with
	// the operating thresholds of the whole set. Defects lists its keys in order.
	PerDefect map[string]Report
	Defects   []string
	// Warnings lists metrics left NaN and why.
	Warnings []string
}

// Evaluate scores predictions against image labels, ground-truth masks (nil: no pixel metrics; a zero
// Image stands for an all-normal mask) and defect types (nil: no breakdown; normal images are those
// labelled Normal whatever their defect string). It is the entry point of notebooks.
// See also EvaluateContext.
func Evaluate(preds []methods.Prediction, labels []datasets.Label, masks []datasets.Image, defects []string, opts Options) (Report, error) {
	return EvaluateContext(context.Background(), preds, labels, masks, defects, opts)
}

// EvaluateContext is Evaluate reporting progress (one step per evaluated subset: all images, then
// each defect type) through methods.ReportProgress and stopping with ctx.Err() between subsets.
func EvaluateContext(ctx context.Context, preds []methods.Prediction, labels []datasets.Label, masks []datasets.Image, defects []string, opts Options) (Report, error) {
	start := time.Now()
	if err := ctx.Err(); err != nil {
		return Report{}, err
	}
	n := len(preds)
	if n == 0 {
		return Report{}, errors.New("metrics: no predictions")
	}
	if len(labels) != n {
		return Report{}, fmt.Errorf("metrics: %d predictions but %d labels", n, len(labels))
	}
	if masks != nil && len(masks) != n {
		return Report{}, fmt.Errorf("metrics: %d predictions but %d masks", n, len(masks))
	}
	if defects != nil && len(defects) != n {
		return Report{}, fmt.Errorf("metrics: %d predictions but %d defect types", n, len(defects))
	}
	if opts.FPRLimit == 0 {
		opts.FPRLimit = DefaultFPRLimit
	}
	if !(opts.FPRLimit > 0 && opts.FPRLimit <= 1) {
		return Report{}, fmt.Errorf("metrics: FPR limit %v not in (0, 1]", opts.FPRLimit)
	}
	scores, bl, err := scoresOf(preds, labels)
	if err != nil {
		return Report{}, err
	}
	maps := mapsOf(preds)
	if masks != nil {
		if err := checkMaskLabels(masks, labels); err != nil {
			return Report{}, err
		}
	}
	cfg := newPixelConfig([]PixelOption{WithBins(opts.Bins), WithCurvePoints(opts.CurvePoints), WithWorkers(opts.Workers)})

	// Image-level metrics need both classes in the evaluated set (subsets may lack normals: warnings).
	if _, _, err := F1Max(scores, bl); err != nil {
		return Report{}, err
	}
	if _, err := AUROC(scores, bl); err != nil {
		return Report{}, err
	}
	rep, err := evaluateSubset(scores, bl, maps, masks, nil, opts.FPRLimit, cfg)
	if err != nil {
		return rep, err
	}
	if err := rep.setThresholds(scores, bl, maps, opts, cfg); err != nil {
		return rep, err
	}
	rep.confusion(scores, bl)

	steps := 1
	progress := func(done int) {
		methods.ReportProgress(ctx, methods.Event{Task: "metrics: evaluating", Done: done, Total: steps,
			Elapsed: time.Since(start), Finished: done == steps})
	}
	if defects != nil && !opts.NoPerDefect {
		var normal []int
		groups := map[string][]int{}
		for i, l := range labels {
			if l == datasets.Normal {
				normal = append(normal, i)
				continue
			}
			d := defects[i]
			if d == "" {
				d = "unknown"
			}
			groups[d] = append(groups[d], i)
		}
		rep.PerDefect = map[string]Report{}
		for d := range groups {
			rep.Defects = append(rep.Defects, d)
		}
		slices.Sort(rep.Defects)
		steps += len(rep.Defects)
		progress(1)
		for k, d := range rep.Defects {
			if err := ctx.Err(); err != nil {
				return rep, err
			}
			idx := groups[d]
			sub := slices.Concat(normal, idx)
			slices.Sort(sub)
			ss, sl := make([]float64, len(sub)), make([]bool, len(sub))
			for k, i := range sub {
				ss[k], sl[k] = scores[i], bl[i]
			}
			r, err := evaluateSubset(ss, sl, maps, masks, sub, opts.FPRLimit, cfg)
			if err != nil {
				return rep, fmt.Errorf("metrics: defect %q: %w", d, err)
			}
			r.Threshold, r.PixelThreshold, r.ThresholdSource = rep.Threshold, rep.PixelThreshold, rep.ThresholdSource
			r.ScoreNorm, r.MapNorm = rep.ScoreNorm, rep.MapNorm
			r.confusion(ss, sl)
			for _, w := range r.Warnings {
				rep.Warnings = append(rep.Warnings, d+": "+w)
			}
			rep.PerDefect[d] = r
			progress(2 + k)
		}
		return rep, nil
	}
	progress(1)
	return rep, nil
}

func scoresOf(preds []methods.Prediction, labels []datasets.Label) ([]float64, []bool, error) {
	if len(labels) != len(preds) {
		return nil, nil, fmt.Errorf("metrics: %d predictions but %d labels", len(preds), len(labels))
	}
	scores, bl := make([]float64, len(preds)), make([]bool, len(preds))
	for i, p := range preds {
		scores[i] = float64(p.Score)
		if math.IsNaN(scores[i]) || math.IsInf(scores[i], 0) {
			return nil, nil, fmt.Errorf("metrics: prediction %d has score %v; scores must be finite", i, p.Score)
		}
		switch labels[i] {
		case datasets.Normal:
		case datasets.Anomalous:
			bl[i] = true
		default:
			return nil, nil, fmt.Errorf("metrics: label %d is %d, want Normal (0) or Anomalous (1)", i, labels[i])
		}
	}
	return scores, bl, nil
}

// hasMaps reports whether every prediction carries a map.
func hasMaps(maps []datasets.Image) bool {
	for _, m := range maps {
		if len(m.Pix) == 0 {
			return false
		}
	}
	return len(maps) > 0
}

func mapsOf(preds []methods.Prediction) []datasets.Image {
	maps := make([]datasets.Image, len(preds))
	for i, p := range preds {
		maps[i] = p.Map
	}
	return maps
}

// checkMaskLabels rejects normal-labelled images whose mask marks defects (a sign of misaligned inputs).
func checkMaskLabels(masks []datasets.Image, labels []datasets.Label) error {
	for i, m := range masks {
		if labels[i] != datasets.Normal {
			continue
		}
		for j, v := range m.Pix {
			if v != 0 {
				return fmt.Errorf("metrics: image %d is labelled normal but its mask is %v at index %d", i, v, j)
			}
		}
	}
	return nil
}

// evaluateSubset computes image and pixel metrics of one subset (idx into maps/masks; nil = all).
func evaluateSubset(scores []float64, labels []bool, maps, masks []datasets.Image, idx []int, limit float64, cfg pixelConfig) (Report, error) {
	nan := math.NaN()
	rep := Report{Images: len(scores), FPRLimit: limit,
		PixelAUROC: nan, PixelAP: nan, AUPRO: nan, PixelF1Max: nan, PixelF1Threshold: nan,
		Threshold: nan, PixelThreshold: nan, Precision: nan, Recall: nan, F1: nan, Accuracy: nan}
	for _, l := range labels {
		if l {
			rep.Anomalous++
		}
	}
	r, err := imageSweep(scores, labels, 'b')
	switch {
	case errors.Is(err, ErrOneClass):
		rep.ImageAUROC, rep.ImageAP, rep.ImageF1Max, rep.ImageThreshold = nan, nan, nan, nan
		rep.Warnings = append(rep.Warnings, "image metrics undefined: "+err.Error())
	case err != nil:
		return rep, err
	default:
		rep.ImageAUROC, rep.ImageAP, rep.ImageF1Max, rep.ImageThreshold = r.auroc, r.ap, r.f1, r.f1Thr
		rep.ROC, rep.PR = r.roc, r.pr
	}
	if masks == nil {
		return rep, nil
	}
	px, err := pixelMetrics(maps, masks, idx, limit, 1, cfg)
	if errors.Is(err, ErrOneClass) {
		rep.Warnings = append(rep.Warnings, "pixel metrics undefined: "+err.Error())
		return rep, nil
	}
	if err != nil {
		return rep, err
	}
	rep.Pixel = px
	rep.PixelAUROC, rep.PixelAP, rep.AUPRO = px.AUROC, px.AP, px.AUPRO
	rep.PixelF1Max, rep.PixelF1Threshold = px.F1Max, px.F1Threshold
	rep.PRO = px.PRO
	return rep, nil
}

// setThresholds picks the operating thresholds and the normalisers.
func (rep *Report) setThresholds(scores []float64, labels []bool, maps []datasets.Image, opts Options, cfg pixelConfig) error {
	normScores, normMaps := scores, maps
	switch {
	case opts.Threshold == ThresholdManual:
		rep.Threshold, rep.PixelThreshold, rep.ThresholdSource = opts.ImageThreshold, opts.PixelThreshold, "manual"
		if opts.Val != nil && len(opts.Val.Preds) > 0 {
			vs, _, err := scoresOf(opts.Val.Preds, opts.Val.Labels)
			if err != nil {
				return fmt.Errorf("validation: %w", err)
			}
			normScores, normMaps = vs, mapsOf(opts.Val.Preds)
		}
	case opts.Val != nil:
		v := opts.Val
		if len(v.Labels) != len(v.Preds) || (v.Masks != nil && len(v.Masks) != len(v.Preds)) {
			return fmt.Errorf("metrics: validation set has %d predictions, %d labels, %d masks", len(v.Preds), len(v.Labels), len(v.Masks))
		}
		vs, vl, err := scoresOf(v.Preds, v.Labels)
		if err != nil {
			return fmt.Errorf("validation: %w", err)
		}
		t, src, err := AdaptiveThreshold(vs, vl, opts.NormalQuantile)
		if err != nil {
			return fmt.Errorf("validation: %w", err)
		}
		rep.Threshold, rep.ThresholdSource = t, src
		rep.PixelThreshold = t
		normScores, normMaps = vs, mapsOf(v.Preds)
		if v.Masks != nil {
			px, err := pixelMetrics(normMaps, v.Masks, nil, rep.FPRLimit, 1, cfg)
			switch {
			case err == nil:
				rep.PixelThreshold = px.F1Threshold
				rep.ThresholdSource += "; pixel F1-max on validation"
			case errors.Is(err, ErrOneClass):
				rep.ThresholdSource += "; pixel threshold = image threshold (validation masks lack a class)"
			default:
				return fmt.Errorf("validation: %w", err)
			}
		} else {
			rep.ThresholdSource += "; pixel threshold = image threshold (no validation masks)"
		}
	default:
		rep.Threshold, rep.ThresholdSource = rep.ImageThreshold, "F1-max on the evaluated set (no validation set: optimistic)"
		rep.PixelThreshold = rep.PixelF1Threshold
		if math.IsNaN(rep.PixelThreshold) {
			rep.PixelThreshold = rep.Threshold
		}
	}
	var err error
	if rep.ScoreNorm, err = NewNormalizer(rep.Threshold, normScores); err != nil {
		return err
	}
	if hasMaps(normMaps) {
		if rep.MapNorm, err = NewMapNormalizer(rep.PixelThreshold, normMaps); err != nil {
			return err
		}
	}
	return nil
}

// confusion fills the image-level precision, recall, F1 and accuracy at rep.Threshold.
func (rep *Report) confusion(scores []float64, labels []bool) {
	var tp, fp, fn, tn float64
	for i, s := range scores {
		pred := s >= rep.Threshold
		switch {
		case pred && labels[i]:
			tp++
		case pred:
			fp++
		case labels[i]:
			fn++
		default:
			tn++
		}
	}
	rep.Precision = tp / (tp + fp)
	if tp+fp == 0 {
		rep.Precision = 1 // nothing flagged: no false alarms (scikit-learn's zero_division aside)
	}
	rep.Recall = tp / (tp + fn)
	rep.F1 = f1Of(rep.Precision, rep.Recall)
	rep.Accuracy = (tp + tn) / float64(len(scores))
}

// String renders the report as a compact text table: one column for all images, then one per defect.
func (rep Report) String() string {
	cols := []string{"all"}
	reps := []Report{rep}
	for _, d := range rep.Defects {
		cols = append(cols, d)
		reps = append(reps, rep.PerDefect[d])
	}
	rows := []struct {
		name string
		get  func(Report) float64
	}{
		{"image AUROC", func(r Report) float64 { return r.ImageAUROC }},
		{"image AP", func(r Report) float64 { return r.ImageAP }},
		{"image F1-max", func(r Report) float64 { return r.ImageF1Max }},
		{"pixel AUROC", func(r Report) float64 { return r.PixelAUROC }},
		{"pixel AP", func(r Report) float64 { return r.PixelAP }},
		{fmt.Sprintf("AUPRO@%g", rep.FPRLimit), func(r Report) float64 { return r.AUPRO }},
		{"pixel F1-max", func(r Report) float64 { return r.PixelF1Max }},
		{"F1 @ threshold", func(r Report) float64 { return r.F1 }},
	}
	width := 10
	for _, c := range cols {
		width = max(width, len(c)+1)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-16s", "metric")
	for _, c := range cols {
		fmt.Fprintf(&b, "%*s", width, c)
	}
	b.WriteByte('\n')
	for _, row := range rows {
		fmt.Fprintf(&b, "%-16s", row.name)
		for _, r := range reps {
			v := row.get(r)
			if math.IsNaN(v) {
				fmt.Fprintf(&b, "%*s", width, "-")
			} else {
				fmt.Fprintf(&b, "%*.4f", width, v)
			}
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "%-16s", "images (anom.)")
	for _, r := range reps {
		fmt.Fprintf(&b, "%*s", width, fmt.Sprintf("%d (%d)", r.Images, r.Anomalous))
	}
	b.WriteByte('\n')
	fmt.Fprintf(&b, "threshold %.6g (pixel %.6g): %s\n", rep.Threshold, rep.PixelThreshold, rep.ThresholdSource)
	if rep.Pixel.Bins > 0 {
		fmt.Fprintf(&b, "binned pixel metrics (%d bins): AUROC ±%.2g, AP ±%.2g, AUPRO ±%.2g\n",
			rep.Pixel.Bins, rep.Pixel.AUROCBound, rep.Pixel.APBound, rep.Pixel.AUPROBound)
	}
	for _, w := range rep.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	return b.String()
}
