package patchcore

import (
	"context"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/datasets/synth"
	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/anomalymap"
)

// TestPresetsShape is issue 17's finding 1: the presets carry the shared methods.Settings (ImageSize,
// Backbone, BackboneSeed, FeatureBatch, ImageScore), with the shared default seeded backbone.
func TestPresetsShape(t *testing.T) {
	for name, c := range map[string]Config{"paper": Paper(), "cpu": CPU()} {
		s := c.Settings
		if s.ImageSize == 0 || s.Backbone == "" || s.FeatureBatch != methods.DefaultFeatureBatch ||
			s.BackboneSeed != methods.DefaultBackboneSeed || s.ImageScore != methods.ScoreReweighted {
			t.Errorf("%s preset settings %+v", name, s)
		}
	}
}

// TestInputSizeChecked is issue 17's finding 2: the configured ImageSize is applied, not documentation.
// Data loaded at another size fails Fit with a message naming the image and saying what to set; a
// folder of mixed sizes loaded without a size names the odd file, with W x H as the datasets package.
func TestInputSizeChecked(t *testing.T) {
	ctx := context.Background()
	p, err := New(tinyConfig()) // ImageSize 64
	if err != nil {
		t.Fatal(err)
	}
	big := tinyData(t, "tile", 80)
	err = p.Fit(ctx, big.Train)
	if err == nil || !strings.Contains(err.Error(), "tile/train/good/000.png is 80x80 (W x H)") ||
		!strings.Contains(err.Error(), "datasets.Options{ImageSize: 64}") {
		t.Fatalf("80-px data on a 64-px config: %v", err)
	}

	root := t.TempDir()
	if err := synth.WriteMVTec(root, tinyData(t, "tile", 64)); err != nil {
		t.Fatal(err)
	}
	odd := filepath.Join(root, "tile", "train", "good", "001.png")
	if _, err := os.Stat(odd); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(odd)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, image.NewRGBA(image.Rect(0, 0, 72, 56))); err != nil {
		t.Fatal(err)
	}
	f.Close()
	ds, err := datasets.LoadMVTec(root, "tile", datasets.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Fit(ctx, ds.Train)
	if err == nil || !strings.Contains(err.Error(), odd+" is 72x56 (W x H) but the detector's ImageSize is 64") || strings.Count(err.Error(), "image 1") > 0 {
		t.Fatalf("mixed folder: %v", err)
	}
	t.Logf("mixed folder: %v", err)
}

// TestNewFailsOnBadWeights is issue 17's finding 3: New resolves the weights, so a missing or unreadable
// weights file fails at once, naming it.
func TestNewFailsOnBadWeights(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "garbage.safetensors")
	if err := os.WriteFile(bad, []byte("not a safetensors file"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"/nonexistent/resnet18.safetensors", bad} {
		c := tinyConfig()
		c.Weights = w
		if _, err := New(c); err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("weights %s: New returned %v", w, err)
		}
	}
}

// TestSeedsSeparate is issue 17's finding 4: Seed changes the coreset and not the backbone;
// BackboneSeed changes the backbone.
func TestSeedsSeparate(t *testing.T) {
	ctx := context.Background()
	ds := tinyData(t, "tile", 64)
	build := func(seed, backboneSeed uint64) ([]float32, []float32) {
		c := tinyConfig()
		c.Seed, c.BackboneSeed = seed, backboneSeed
		p, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Fit(ctx, ds.Train); err != nil {
			t.Fatal(err)
		}
		f, err := p.Features(ctx, methods.Slice(ds.Test, 0, 2))
		if err != nil {
			t.Fatal(err)
		}
		bank, _ := p.Bank()
		return f.Data, bank
	}
	f0, b0 := build(0, 0)
	f1, b1 := build(1, 0)
	f2, _ := build(0, 1)
	if !slices.Equal(f0, f1) {
		t.Error("changing Seed changed the backbone's features")
	}
	if slices.Equal(b0, b1) {
		t.Error("changing Seed did not change the coreset")
	}
	if slices.Equal(f0, f2) {
		t.Error("changing BackboneSeed did not change the features")
	}
}

// TestImageScores is issue 17's finding 5: the shared image-score option. map_max is the maximum of
// the smoothed map, patch_max the largest raw patch distance, reweighted (Eq. 7) at most patch_max.
func TestImageScores(t *testing.T) {
	ctx := context.Background()
	ds := tinyData(t, "tile", 64)
	scores := map[methods.ImageScore][]methods.Prediction{}
	for _, mode := range []methods.ImageScore{methods.ScoreReweighted, methods.ScorePatchMax, methods.ScoreMapMax} {
		c := tinyConfig()
		c.ImageScore = mode
		p, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Fit(ctx, ds.Train); err != nil {
			t.Fatal(err)
		}
		if scores[mode], err = p.Predict(ctx, ds.Test); err != nil {
			t.Fatal(err)
		}
	}
	differ := false
	for i, mm := range scores[methods.ScoreMapMax] {
		if mm.Score != anomalymap.ScoreMax(mm.Map) {
			t.Fatalf("image %d: map_max score %v, map maximum %v", i, mm.Score, anomalymap.ScoreMax(mm.Map))
		}
		pm, rw := scores[methods.ScorePatchMax][i].Score, scores[methods.ScoreReweighted][i].Score
		if !(rw > 0 && rw <= pm) {
			t.Fatalf("image %d: reweighted %v, patch max %v", i, rw, pm)
		}
		differ = differ || math.Abs(float64(pm-mm.Score)) > 1e-6
	}
	if !differ {
		t.Error("patch_max and map_max agree on every image: smoothing did nothing?")
	}
	c := tinyConfig()
	c.ImageScore = "mean"
	if _, err := New(c); err == nil || !strings.Contains(err.Error(), "map_max") {
		t.Errorf("unknown image score: %v", err)
	}
}
