package metrics

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/methods"
)

// evalSet makes 20 predictions: 10 good, 5 "crack", 5 "scratch"; the image score is the mean of the
// map's first row plus its max (so image metrics are not trivially perfect).
func evalSet(seed uint64) (preds []methods.Prediction, labels []datasets.Label, masks []datasets.Image, defects []string) {
	maps, mks := randomPixels(seed, 20, 24, 24, 0, 0, 1)
	// randomPixels puts defects in odd images; take 10 normals (even) and 10 anomalous (odd).
	for i := 0; i < 20; i++ {
		m := maps[i]
		var row float32
		for _, v := range m.Pix[:m.W] {
			row += v / float32(m.W)
		}
		preds = append(preds, methods.Prediction{Score: row + 0.1*slices.Max(m.Pix), Map: m})
		masks = append(masks, mks[i])
		if i%2 == 0 {
			labels, defects = append(labels, datasets.Normal), append(defects, datasets.GoodDefect)
			continue
		}
		labels = append(labels, datasets.Anomalous)
		if i%4 == 1 {
			defects = append(defects, "crack")
		} else {
			defects = append(defects, "scratch")
		}
	}
	return preds, labels, masks, defects
}

func subset(preds []methods.Prediction, labels []datasets.Label, masks []datasets.Image, keep func(i int) bool) ([]float64, []bool, []datasets.Image, []datasets.Image) {
	var s []float64
	var l []bool
	var maps, mks []datasets.Image
	for i, p := range preds {
		if keep(i) {
			s, l = append(s, float64(p.Score)), append(l, labels[i] == datasets.Anomalous)
			maps, mks = append(maps, p.Map), append(mks, masks[i])
		}
	}
	return s, l, maps, mks
}

func TestEvaluateMatchesParts(t *testing.T) {
	preds, labels, masks, defects := evalSet(11)
	rep, err := Evaluate(preds, labels, masks, defects, Options{})
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, r Report, keep func(i int) bool) {
		s, l, maps, mks := subset(preds, labels, masks, keep)
		auroc, _ := AUROC(s, l)
		ap, _ := AveragePrecision(s, l)
		f1, thr, _ := F1Max(s, l)
		px, err := Pixel(maps, mks)
		if err != nil {
			t.Fatal(err)
		}
		if r.ImageAUROC != auroc || r.ImageAP != ap || r.ImageF1Max != f1 || r.ImageThreshold != thr {
			t.Errorf("%s image metrics %v %v %v %v, want %v %v %v %v", name, r.ImageAUROC, r.ImageAP, r.ImageF1Max, r.ImageThreshold, auroc, ap, f1, thr)
		}
		if r.PixelAUROC != px.AUROC || r.PixelAP != px.AP || r.AUPRO != px.AUPRO || r.PixelF1Max != px.F1Max {
			t.Errorf("%s pixel metrics %v %v %v, want %v %v %v", name, r.PixelAUROC, r.PixelAP, r.AUPRO, px.AUROC, px.AP, px.AUPRO)
		}
		if r.Images != len(s) || r.PRO.Len() == 0 || r.ROC.Len() == 0 {
			t.Errorf("%s: %d images (want %d), %d PRO points, %d ROC points", name, r.Images, len(s), r.PRO.Len(), r.ROC.Len())
		}
	}
	check("all", rep, func(int) bool { return true })
	if !slices.Equal(rep.Defects, []string{"crack", "scratch"}) || len(rep.PerDefect) != 2 {
		t.Fatalf("defects %v", rep.Defects)
	}
	for _, d := range rep.Defects {
		check(d, rep.PerDefect[d], func(i int) bool { return labels[i] == datasets.Normal || defects[i] == d })
		if rep.PerDefect[d].Threshold != rep.Threshold {
			t.Errorf("%s uses threshold %v, want the global %v", d, rep.PerDefect[d].Threshold, rep.Threshold)
		}
	}
	// Without a validation set the operating threshold is this set's F1-max threshold.
	if rep.Threshold != rep.ImageThreshold || !strings.Contains(rep.ThresholdSource, "optimistic") {
		t.Errorf("threshold %v (%s), want %v", rep.Threshold, rep.ThresholdSource, rep.ImageThreshold)
	}
	if !near(rep.F1, rep.ImageF1Max) {
		t.Errorf("F1 at the F1-max threshold is %v, want %v", rep.F1, rep.ImageF1Max)
	}
	if got := rep.ScoreNorm.Apply(rep.Threshold); got != 0.5 {
		t.Errorf("normalised threshold = %v, want 0.5", got)
	}
	if got := rep.MapNorm.Apply(rep.PixelThreshold); got != 0.5 {
		t.Errorf("normalised pixel threshold = %v, want 0.5", got)
	}
	table := rep.String()
	for _, want := range []string{"crack", "scratch", "AUPRO@0.3", "image AUROC", "pixel AP", "20 (10)", "15 (5)"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	t.Logf("\n%s", table)
}

func TestEvaluateThresholds(t *testing.T) {
	preds, labels, masks, defects := evalSet(12)
	// Validation with normals only: threshold just above their largest score.
	var val Validation
	var maxNormal float32
	for i := range preds {
		if labels[i] == datasets.Normal {
			val.Preds, val.Labels = append(val.Preds, preds[i]), append(val.Labels, labels[i])
			maxNormal = max(maxNormal, preds[i].Score)
		}
	}
	rep, err := Evaluate(preds, labels, masks, defects, Options{Val: &val})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Threshold <= float64(maxNormal) || rep.Threshold != math.Nextafter(float64(maxNormal), 2) {
		t.Errorf("threshold %v, want just above %v", rep.Threshold, maxNormal)
	}
	if !strings.Contains(rep.ThresholdSource, "no anomalies") {
		t.Errorf("source %q", rep.ThresholdSource)
	}
	// Every validation normal falls below the threshold, so no normal of the test set with the same
	// scores is flagged: precision counts only anomalies.
	if rep.ScoreNorm.Apply(float64(maxNormal)) >= 0.5 {
		t.Error("max normal score normalises to >= 0.5")
	}
	// Binned pixel metrics carry their bounds into the table.
	binned, err := Evaluate(preds, labels, masks, nil, Options{Bins: 256})
	if err != nil {
		t.Fatal(err)
	}
	if binned.Pixel.Bins != 256 || binned.Pixel.AUROCBound <= 0 || !strings.Contains(binned.String(), "binned pixel metrics (256 bins)") {
		t.Errorf("binned report: bins %d, bound %v\n%s", binned.Pixel.Bins, binned.Pixel.AUROCBound, binned)
	}
	// Quantile fallback.
	rep, err = Evaluate(preds, labels, masks, nil, Options{Val: &val, NormalQuantile: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rep.ThresholdSource, "0.5-quantile") {
		t.Errorf("source %q", rep.ThresholdSource)
	}
	// Manual.
	rep, err = Evaluate(preds, labels, nil, nil, Options{Threshold: ThresholdManual, ImageThreshold: 0.9, PixelThreshold: 0.8})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Threshold != 0.9 || rep.PixelThreshold != 0.8 || rep.ThresholdSource != "manual" {
		t.Errorf("manual thresholds %v %v %q", rep.Threshold, rep.PixelThreshold, rep.ThresholdSource)
	}
	if !math.IsNaN(rep.PixelAUROC) || !math.IsNaN(rep.AUPRO) || !strings.Contains(rep.String(), "-") {
		t.Errorf("without masks pixel metrics should be NaN: %v %v", rep.PixelAUROC, rep.AUPRO)
	}
	// Validation with both classes and masks: F1-optimal thresholds of the validation set.
	vs, vl, vmaps, vmasks := subset(preds, labels, masks, func(i int) bool { return i < 12 })
	full := Validation{Preds: preds[:12], Labels: labels[:12], Masks: masks[:12]}
	rep, err = Evaluate(preds, labels, masks, nil, Options{Val: &full})
	if err != nil {
		t.Fatal(err)
	}
	_, wantT, _ := F1Max(vs, vl)
	px, _ := Pixel(vmaps, vmasks)
	if rep.Threshold != wantT || rep.PixelThreshold != px.F1Threshold {
		t.Errorf("validation thresholds %v %v, want %v %v", rep.Threshold, rep.PixelThreshold, wantT, px.F1Threshold)
	}
}

func TestEvaluateBadInput(t *testing.T) {
	preds, labels, masks, defects := evalSet(13)
	bad := slices.Clone(preds)
	bad[3].Score = float32(math.NaN())
	normalWithDefect := slices.Clone(masks)
	normalWithDefect[0] = masks[1]
	allNormal := make([]datasets.Label, len(labels))
	cases := []struct {
		name    string
		run     func() error
		want    string
		oneClss bool
	}{
		{"empty", func() error { _, err := Evaluate(nil, nil, nil, nil, Options{}); return err }, "no predictions", false},
		{"labels", func() error { _, err := Evaluate(preds, labels[:3], nil, nil, Options{}); return err }, "20 predictions but 3 labels", false},
		{"masks", func() error { _, err := Evaluate(preds, labels, masks[:2], nil, Options{}); return err }, "20 predictions but 2 masks", false},
		{"defects", func() error { _, err := Evaluate(preds, labels, masks, defects[:1], Options{}); return err }, "20 predictions but 1 defect types", false},
		{"nan", func() error { _, err := Evaluate(bad, labels, masks, nil, Options{}); return err }, "prediction 3 has score NaN", false},
		{"normal-with-defect", func() error { _, err := Evaluate(preds, labels, normalWithDefect, nil, Options{}); return err }, "image 0 is labelled normal but its mask", false},
		{"one-class", func() error { _, err := Evaluate(preds, allNormal, nil, nil, Options{}); return err }, "all 20 samples are normal", true},
		{"fpr-limit", func() error { _, err := Evaluate(preds, labels, masks, nil, Options{FPRLimit: 2}); return err }, "FPR limit 2", false},
		{"image-nan", func() error { _, err := AUROC([]float64{1, math.Inf(1)}, []bool{true, false}); return err }, "score 1 is +Inf", false},
		{"image-len", func() error { _, err := AUROC([]float64{1}, []bool{true, false}); return err }, "1 scores but 2 labels", false},
		{"image-empty", func() error { _, err := AveragePrecision(nil, nil); return err }, "no scores", false},
		{"image-no-neg", func() error { _, err := AUROC([]float64{1, 2}, []bool{true, true}); return err }, "all 2 samples are anomalous", true},
		{"image-no-pos", func() error { _, _, err := F1Max([]float64{1, 2}, []bool{false, false}); return err }, "all 2 samples are normal", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.run()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to contain %q", err, c.want)
			}
			if errors.Is(err, ErrOneClass) != c.oneClss {
				t.Errorf("errors.Is(err, ErrOneClass) = %v", !c.oneClss)
			}
		})
	}
	// A test set without normals is an error (defect subsets always hold every normal image).
	noNormals := slices.Clone(labels)
	for i := range noNormals {
		noNormals[i] = datasets.Anomalous
	}
	noNormalMasks := slices.Clone(masks)
	for i := range noNormalMasks {
		if labels[i] == datasets.Normal {
			noNormalMasks[i] = masks[1]
		}
	}
	if _, err := Evaluate(preds, noNormals, noNormalMasks, defects, Options{}); !errors.Is(err, ErrOneClass) {
		t.Errorf("all-anomalous set: err = %v", err)
	}
	rep, err := Evaluate(preds[:4], labels[:4], masks[:4], []string{"good", "crack", "good", "scratch"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r := rep.PerDefect["crack"]; math.IsNaN(r.PixelAUROC) || math.IsNaN(r.ImageAUROC) {
		t.Errorf("crack subset metrics missing: %v %v", r.PixelAUROC, r.ImageAUROC)
	}
	// Anomalous images whose masks are all zero: image metrics, pixel metrics NaN with a warning.
	empty := make([]datasets.Image, len(masks))
	rep, err = Evaluate(preds, labels, empty, defects, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(rep.PixelAUROC) || len(rep.Warnings) == 0 || math.IsNaN(rep.ImageAUROC) {
		t.Errorf("zero masks: pixel AUROC %v, warnings %v", rep.PixelAUROC, rep.Warnings)
	}
}

func TestThresholdHelpers(t *testing.T) {
	s := []float64{0.1, 0.9, 0.4, 0.3, 0.2}
	// numpy.quantile([0.1,0.9,0.4,0.3,0.2], 0.9) = 0.4 + 0.6*(0.9-0.4) = 0.7
	if q, err := NormalThreshold(s, 0.9); err != nil || !near(q, 0.7) {
		t.Errorf("quantile = %v, %v; want 0.7", q, err)
	}
	if q, _ := NormalThreshold(s, 1); q <= 0.9 || q > 0.9000001 {
		t.Errorf("max threshold = %v", q)
	}
	if _, err := NormalThreshold(nil, 1); err == nil {
		t.Error("no error for empty scores")
	}
	tt, src, err := AdaptiveThreshold([]float64{0.2, 0.8, 0.9}, []bool{true, true, true}, 0)
	if err != nil || tt != 0.2 || !strings.Contains(src, "no normals") {
		t.Errorf("all-anomalous threshold %v %q %v", tt, src, err)
	}
	n, err := NewNormalizer(0.6, []float64{0.2, 1.0})
	if err != nil {
		t.Fatal(err)
	}
	for x, want := range map[float64]float64{0.6: 0.5, 1.0: 1, 0.2: 0, 0.8: 0.75, 5: 1, -5: 0} {
		if got := n.Apply(x); !near(got, want) {
			t.Errorf("Apply(%v) = %v, want %v", x, got, want)
		}
	}
	flat := Normalizer{Threshold: 1, Min: 2, Max: 2}
	if flat.Apply(1) != 0.5 || flat.Apply(3) != 1 || flat.Apply(0) != 0 {
		t.Error("degenerate range normaliser")
	}
	im := n.ApplyImage(datasets.Image{H: 1, W: 2, C: 1, Pix: []float32{0.6, 1}})
	if im.Pix[0] != 0.5 || im.Pix[1] != 1 || im.H != 1 || im.W != 2 {
		t.Errorf("ApplyImage = %+v", im)
	}
	if _, err := NewNormalizer(math.NaN(), s); err == nil {
		t.Error("NaN threshold accepted")
	}
}

func TestEvaluateContextProgress(t *testing.T) {
	preds, labels, masks, defects := evalSet(14)
	var events []methods.Event
	ctx := methods.WithProgress(context.Background(), func(e methods.Event) { events = append(events, e) })
	if _, err := EvaluateContext(ctx, preds, labels, masks, defects, Options{}); err != nil {
		t.Fatal(err)
	}
	if len(events) != 3 || events[2].Done != 3 || events[2].Total != 3 || !events[2].Finished || events[0].Finished {
		t.Errorf("progress events %+v, want 3 ending with 3/3 finished", events)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := EvaluateContext(cancelled, preds, labels, masks, defects, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: err = %v", err)
	}
}
