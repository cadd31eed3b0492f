package cflow

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

// tinyConfig trains in seconds: a seeded ResNet-18 encoder at 64 px, 4 blocks, 64-channel condition.
func tinyConfig() Config {
	c := CPU()
	c.Weights, c.Backbone = "random", "resnet18"
	c.ImageSize, c.CouplingBlocks, c.ConditionDims = 64, 4, 64
	c.MetaEpochs = 4
	c.FibersPerImage = 64
	return c
}

func tinyData(t *testing.T, category string) *datasets.Dataset {
	t.Helper()
	ds, err := synth.New(category, synth.Options{Size: 64, Seed: 3, Train: 16, TestNormal: 8, TestPerDefect: 2})
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

func TestCFlowLearns(t *testing.T) {
	ds := tinyData(t, "pill")
	d, err := New(tinyConfig())
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
	start = time.Now()
	preds, err := d.Predict(ctx, ds.Test)
	if err != nil {
		t.Fatal(err)
	}
	pred := time.Since(start)
	if len(preds) != ds.Test.Len() || preds[0].Map.H != 64 || preds[0].Map.W != 64 {
		t.Fatalf("got %d predictions of %dx%d", len(preds), preds[0].Map.H, preds[0].Map.W)
	}
	img, pix := evaluate(t, preds, ds)
	h := d.History
	t.Logf("CFLOW tiny (seeded encoder, 64 px, 16 images): fit %s, predict %s for %d images; meta-epoch losses %v; max log-likelihood per tap %v; image AUROC %.3f, pixel AUROC %.3f",
		fit.Round(time.Millisecond), pred.Round(time.Millisecond), len(preds), h, d.MaxLogLikelihood, img, pix)
	if len(h) != 4 || !(h[len(h)-1] < h[0]) {
		t.Errorf("training loss did not fall: %v", h)
	}
	if img < 0.65 || pix < 0.7 {
		t.Errorf("image AUROC %.3f (want >= 0.65), pixel AUROC %.3f (want >= 0.7): not clearly above chance", img, pix)
	}

	// Save, load, identical maps.
	dir := filepath.Join(t.TempDir(), "cflow")
	if err := d.Save(dir); err != nil {
		t.Fatal(err)
	}
	back, err := methods.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	again, err := back.Predict(ctx, ds.Test)
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
	// Wrong size is a clear error naming the size.
	big, err := synth.New("grid", synth.Options{Size: 96, Seed: 3, Train: 1, TestNormal: 1, TestPerDefect: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := back.Predict(ctx, big.Test); err == nil || !strings.Contains(err.Error(), "96x96") {
		t.Fatalf("wrong size: %v", err)
	}
}

// TestLatents: a fitted decoder's latents of training images are closer to N(0, I) than an untrained
// decoder's would make the raw features (mean near 0, standard deviation near 1), and have the tap's
// channel count.
func TestLatents(t *testing.T) {
	ds := tinyData(t, "pill")
	cfg := tinyConfig()
	cfg.MetaEpochs = 2
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, _, err := d.Latents(ctx, ds.Train, 0); !errors.Is(err, methods.ErrNotFitted) {
		t.Fatalf("latents before fit: %v", err)
	}
	if err := d.Fit(ctx, ds.Train); err != nil {
		t.Fatal(err)
	}
	train := methods.Slice(ds.Train, 0, 4)
	z, c, err := d.Latents(ctx, train, 0)
	if err != nil {
		t.Fatal(err)
	}
	h := d.Encoder().OutputSize(cfg.Taps[0], cfg.ImageSize)
	if c != d.Encoder().Channels(cfg.Taps[0]) || len(z) != 4*h*h*c {
		t.Fatalf("latents: %d values of %d channels, want 4 x %d x %d x %d", len(z), c, h, h, d.Encoder().Channels(cfg.Taps[0]))
	}
	var mean, sq float64
	for _, v := range z {
		mean += float64(v)
	}
	mean /= float64(len(z))
	for _, v := range z {
		sq += (float64(v) - mean) * (float64(v) - mean)
	}
	std := math.Sqrt(sq / float64(len(z)))
	t.Logf("tap %s latents: mean %.3f, std %.3f", cfg.Taps[0], mean, std)
	if math.Abs(mean) > 0.3 || std < 0.5 || std > 1.5 {
		t.Errorf("latents mean %.3f, std %.3f: not near N(0, 1)", mean, std)
	}
	if _, _, err := d.Latents(ctx, train, len(cfg.Taps)); err == nil {
		t.Error("out-of-range tap: no error")
	}
}

// TestFitIsReproducible: two fits of one configuration on the same images give the same maps (the
// decoders' initialisation is seeded by Config.Seed), and another Seed gives other maps.
func TestFitIsReproducible(t *testing.T) {
	ds := tinyData(t, "tile")
	fit := func(seed uint64) []methods.Prediction {
		cfg := tinyConfig()
		cfg.Seed, cfg.MetaEpochs = seed, 1
		d, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Fit(context.Background(), ds.Train); err != nil {
			t.Fatal(err)
		}
		img, err := ds.Test.Image(ds.Test.Len() - 1)
		if err != nil {
			t.Fatal(err)
		}
		preds, err := d.Predict(context.Background(), methods.ImageList{img})
		if err != nil {
			t.Fatal(err)
		}
		return preds
	}
	a, b, c := fit(1), fit(1), fit(2)
	same := func(x, y []methods.Prediction) bool {
		for i, v := range x[0].Map.Pix {
			if v != y[0].Map.Pix[i] {
				return false
			}
		}
		return true
	}
	if !same(a, b) {
		t.Error("two fits with Seed 1 gave different maps")
	}
	if same(a, c) {
		t.Error("Seed 1 and Seed 2 gave identical maps: the seed does not reach the decoders")
	}
}

// TestUnconditional: on a uniform image the encoder's features are the same at every interior position,
// so the unconditional decoder must give them one log-likelihood, while the positional condition makes
// the conditional decoder's differ from place to place.
func TestUnconditional(t *testing.T) {
	ds := tinyData(t, "pill")
	flat := datasets.NewImage(64, 64, 3)
	for i := range flat.Pix {
		flat.Pix[i] = 0.5
	}
	spread := func(unconditional bool) float64 {
		cfg := tinyConfig()
		cfg.MetaEpochs, cfg.Unconditional = 1, unconditional
		d, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Fit(context.Background(), ds.Train); err != nil {
			t.Fatal(err)
		}
		maps, err := d.LogLikelihoodMaps(context.Background(), methods.ImageList{flat})
		if err != nil {
			t.Fatal(err)
		}
		m := maps[0][0] // layer1, 16 x 16: rows and columns 7..8 see no padding
		lo, hi := math.Inf(1), math.Inf(-1)
		for y := 7; y <= 8; y++ {
			for x := 7; x <= 8; x++ {
				v := float64(m.Pix[y*m.W+x])
				lo, hi = min(lo, v), max(hi, v)
			}
		}
		return hi - lo
	}
	u, c := spread(true), spread(false)
	t.Logf("log-likelihood spread over four interior positions of a uniform image: unconditional %.2g, conditional %.2g", u, c)
	if u > 1e-4 {
		t.Errorf("unconditional decoder: log-likelihood varies by %.3g across positions with identical features", u)
	}
	if c < 100*max(u, 1e-6) {
		t.Errorf("conditional decoder: spread %.3g, not clearly above the unconditional %.3g", c, u)
	}
}
