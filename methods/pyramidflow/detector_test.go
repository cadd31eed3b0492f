package pyramidflow

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/datasets/synth"
	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/metrics"
)

// tinyLite trains in seconds: the lite variant at 64 px.
func tinyLite() Config {
	c := CPULite()
	c.ImageSize, c.Epochs = 64, 5
	return c
}

// tinyFull is the full variant with a seeded ResNet-18 at 64 px (16 x 16 features, 3 levels).
func tinyFull() Config {
	c := CPU()
	c.Weights, c.ImageSize = "random", 64
	return c
}

func tinyData(t *testing.T, category string, train int) *datasets.Dataset {
	t.Helper()
	ds, err := synth.New(category, synth.Options{Size: 64, Seed: 3, Train: train, TestNormal: 8, TestPerDefect: 2})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// evaluate returns image and pixel AUROC of predictions on ds.Test.
func evaluate(t *testing.T, preds []methods.Prediction, ds *datasets.Dataset) (image, pixel float64) {
	t.Helper()
	scores := make([]float64, len(preds))
	labels := make([]bool, len(preds))
	maps := make([]datasets.Image, len(preds))
	for i, p := range preds {
		scores[i] = float64(p.Score)
		labels[i] = ds.Test.Items[i].Label == datasets.Anomalous
		maps[i] = p.Map
	}
	image, err := metrics.AUROC(scores, labels)
	if err != nil {
		t.Fatal(err)
	}
	masks, err := ds.Test.Masks()
	if err != nil {
		t.Fatal(err)
	}
	pixel, err = metrics.PixelAUROC(maps, masks)
	if err != nil {
		t.Fatal(err)
	}
	return image, pixel
}

// fitPredict fits cfg on ds and returns the detector and its test predictions.
func fitPredict(t *testing.T, cfg Config, ds *datasets.Dataset) (*Detector, []methods.Prediction) {
	t.Helper()
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := d.Predict(ctx, ds.Test); !errors.Is(err, methods.ErrNotFitted) {
		t.Fatalf("predict before fit: %v", err)
	}
	start := time.Now()
	if err := d.Fit(ctx, ds.Train); err != nil {
		t.Fatal(err)
	}
	fit := time.Since(start)
	preds, err := d.Predict(ctx, ds.Test)
	if err != nil {
		t.Fatal(err)
	}
	if len(preds) != ds.Test.Len() {
		t.Fatalf("%d predictions for %d images", len(preds), ds.Test.Len())
	}
	for i, p := range preds {
		if p.Map.H != cfg.ImageSize || p.Map.W != cfg.ImageSize || p.Map.C != 1 || math.IsNaN(float64(p.Score)) || math.IsInf(float64(p.Score), 0) {
			t.Fatalf("prediction %d: score %v, map %dx%dx%d", i, p.Score, p.Map.W, p.Map.H, p.Map.C)
		}
	}
	t.Logf("fit %s, epoch losses %v", fit.Round(time.Millisecond), d.History)
	return d, preds
}

// TestLiteLearns: the lite variant, trained from scratch on 16 normal images of a synthetic texture,
// localises its defects clearly better than chance (fixed seeds), and its loss falls.
func TestLiteLearns(t *testing.T) {
	ds := tinyData(t, "carpet", 16)
	d, preds := fitPredict(t, tinyLite(), ds)
	img, pix := evaluate(t, preds, ds)
	t.Logf("PyramidFlow lite (64 px, 16 images, 5 epochs): image AUROC %.3f, pixel AUROC %.3f", img, pix)
	if h := d.History; len(h) != d.cfg.Epochs || !(h[len(h)-1] < h[0]) {
		t.Errorf("training loss did not fall: %v", h)
	}
	if pix < 0.7 || img < 0.6 {
		t.Errorf("pixel AUROC %.3f (want >= 0.7), image AUROC %.3f (want >= 0.6): not clearly above chance", pix, img)
	}
}

// TestFullLearns: the full variant (a seeded encoder in front) on an object category.
func TestFullLearns(t *testing.T) {
	ds := tinyData(t, "pill", 24)
	d, preds := fitPredict(t, tinyFull(), ds)
	img, pix := evaluate(t, preds, ds)
	t.Logf("PyramidFlow full (seeded ResNet-18, 64 px, 24 images): image AUROC %.3f, pixel AUROC %.3f", img, pix)
	if h := d.History; !(h[len(h)-1] < h[0]) {
		t.Errorf("training loss did not fall: %v", h)
	}
	if pix < 0.7 || img < 0.6 {
		t.Errorf("pixel AUROC %.3f (want >= 0.7), image AUROC %.3f (want >= 0.6): not clearly above chance", pix, img)
	}
	// Save, load, identical maps.
	dir := filepath.Join(t.TempDir(), "pf")
	if err := d.Save(dir); err != nil {
		t.Fatal(err)
	}
	back, err := methods.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	again, err := back.Predict(context.Background(), ds.Test)
	if err != nil {
		t.Fatal(err)
	}
	for i := range preds {
		for p, v := range preds[i].Map.Pix {
			if w := again[i].Map.Pix[p]; math.Abs(float64(w-v)) > 1e-5 {
				t.Fatalf("image %d pixel %d: %v after load, %v before", i, p, w, v)
			}
		}
	}
	if _, err := back.Predict(context.Background(), methods.ImageList{datasets.NewImage(96, 96, 3)}); err == nil || !strings.Contains(err.Error(), "96x96") {
		t.Fatalf("wrong size: %v", err)
	}
}

// TestMVTecFolder: fit and predict on a category written to disk in the MVTec AD layout.
func TestMVTecFolder(t *testing.T) {
	ds := tinyData(t, "tile", 8)
	root := t.TempDir()
	if err := synth.WriteMVTec(root, ds); err != nil {
		t.Fatal(err)
	}
	loaded, err := datasets.LoadMVTec(root, "tile", datasets.Options{ImageSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	cfg := tinyFull()
	cfg.Epochs = 3
	_, preds := fitPredict(t, cfg, loaded)
	img, pix := evaluate(t, preds, loaded)
	t.Logf("MVTec-layout folder (tile, 8 train images, 3 epochs): image AUROC %.3f, pixel AUROC %.3f", img, pix)
	if pix < 0.6 {
		t.Errorf("pixel AUROC %.3f on the folder: want >= 0.6", pix)
	}
}

// TestCheckpointResumeAndCancel: a run cancelled after a checkpoint returns the context's error and
// leaves a loadable checkpoint; a new run of the same recipe resumes from it and ends with the same
// weights, template and maps as an uninterrupted run.
func TestCheckpointResumeAndCancel(t *testing.T) {
	ds := tinyData(t, "grid", 8)
	base := tinyFull()
	base.Epochs = 2 // 2 steps per epoch at batch 4: 4 steps
	ctx := context.Background()

	whole, err := New(base)
	if err != nil {
		t.Fatal(err)
	}
	if err := whole.Fit(ctx, ds.Train); err != nil {
		t.Fatal(err)
	}
	want, err := whole.Predict(ctx, ds.Test)
	if err != nil {
		t.Fatal(err)
	}

	cfg := base
	cfg.CheckpointDir, cfg.CheckpointEvery = filepath.Join(t.TempDir(), "ckpt"), 2
	cancelled, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cctx = methods.WithProgress(cctx, func(e methods.Event) {
		if e.Task == Name+": training" && e.Done == 3 {
			cancel() // after the checkpoint at step 2, before step 4
		}
	})
	if err := cancelled.Fit(cctx, ds.Train); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Fit: %v, want context.Canceled", err)
	}
	mid, err := methods.Load(cfg.CheckpointDir)
	if err != nil {
		t.Fatalf("checkpoint after cancellation: %v", err)
	}
	if got := mid.(*Detector).stepsDone; got != 2 {
		t.Fatalf("checkpoint holds %d steps, want 2", got)
	}

	resumed, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sawResume := false
	rctx := methods.WithProgress(ctx, func(e methods.Event) {
		sawResume = sawResume || strings.Contains(e.Task, "resumed")
	})
	if err := resumed.Fit(rctx, ds.Train); err != nil {
		t.Fatal(err)
	}
	if !sawResume || resumed.stepsDone != 4 {
		t.Fatalf("resumed=%v, steps %d (want 4)", sawResume, resumed.stepsDone)
	}
	got, err := resumed.Predict(ctx, ds.Test)
	if err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for i := range want {
		for p, v := range want[i].Map.Pix {
			worst = max(worst, math.Abs(float64(got[i].Map.Pix[p]-v)))
		}
	}
	t.Logf("resumed run against uninterrupted: max map difference %.2g", worst)
	if worst > 1e-4 {
		t.Fatalf("resumed run's maps differ from the uninterrupted run's by %g", worst)
	}
	// The final checkpoint holds the finished run.
	final, err := methods.Load(cfg.CheckpointDir)
	if err != nil {
		t.Fatal(err)
	}
	if s := final.(*Detector).stepsDone; s != 4 {
		t.Fatalf("final checkpoint holds %d steps", s)
	}
}

// TestLevelDifferences: the per-level differences compose (as a Laplacian pyramid) into Predict's
// anomaly map.
func TestLevelDifferences(t *testing.T) {
	ds := tinyData(t, "tile", 6)
	cfg := tinyLite()
	cfg.Epochs = 1
	d, preds := fitPredict(t, cfg, ds)
	test := methods.Slice(ds.Test, 0, 3)
	diffs, err := d.LevelDifferences(context.Background(), test)
	if err != nil {
		t.Fatal(err)
	}
	for i, levels := range diffs {
		if len(levels) != cfg.Levels || levels[0].H != cfg.ImageSize || levels[cfg.Levels-1].H != cfg.ImageSize>>(cfg.Levels-1) {
			t.Fatalf("image %d: %d levels, sizes %d..%d", i, len(levels), levels[0].H, levels[len(levels)-1].H)
		}
		composed := ComposePyramid(levels)
		worst := 0.0
		for p, v := range composed.Pix {
			worst = max(worst, math.Abs(float64(v-preds[i].Map.Pix[p])))
		}
		if worst > 1e-3 {
			t.Fatalf("image %d: composed level differences differ from the anomaly map by %g", i, worst)
		}
	}
}

// TestLiteRejectsBadImages: the lite variant (which reads pixels itself, without an encoder) refuses a
// non-finite pixel and a wrong size with errors naming the image, and needs two training images.
func TestLiteRejectsBadImages(t *testing.T) {
	d, err := New(tinyLite())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	good := datasets.NewImage(64, 64, 3)
	bad := datasets.NewImage(64, 64, 3)
	bad.Pix[7] = float32(math.NaN())
	if err := d.Fit(ctx, methods.ImageList{good, bad}); err == nil || !strings.Contains(err.Error(), "image 1") || !strings.Contains(err.Error(), "NaN") {
		t.Errorf("NaN pixel: %v", err)
	}
	if err := d.Fit(ctx, methods.ImageList{good, datasets.NewImage(32, 32, 3)}); err == nil || !strings.Contains(err.Error(), "32x32") {
		t.Errorf("wrong size: %v", err)
	}
	if err := d.Fit(ctx, methods.ImageList{good}); err == nil || !strings.Contains(err.Error(), "at least 2") {
		t.Errorf("one image: %v", err)
	}
	if _, err := New(Config{Levels: 4}); err == nil {
		t.Error("empty configuration accepted")
	}
	c := tinyLite()
	c.ImageSize = 60 // does not halve 3 times
	if _, err := New(c); err == nil || !strings.Contains(err.Error(), "multiple of 8") {
		t.Errorf("ImageSize 60 with 4 levels: %v", err)
	}
}
