package all_test

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/datasets/synth"
	"github.com/gonomaly/gonomaly/methods"
	_ "github.com/gonomaly/gonomaly/methods/all"
)

// tiny are the shared settings the contract test fits every method with: a seeded ResNet-18 at an
// eighth of its width on 64 px images, two images per feature batch. Methods without a backbone
// (methods.NoBackbone) keep it and divide their own widths by 8.
func tiny(s *methods.Settings) {
	s.ImageSize, s.Weights, s.WidthDiv, s.FeatureBatch = 64, "random", 8, 2
	if s.Backbone != methods.NoBackbone {
		s.Backbone = "resnet18"
	}
}

// watched records the largest image index a detector has read.
type watched struct {
	methods.Images
	mu      sync.Mutex
	maxRead int
}

func (w *watched) Image(i int) (datasets.Image, error) {
	w.mu.Lock()
	w.maxRead = max(w.maxRead, i)
	w.mu.Unlock()
	return w.Images.Image(i)
}

func (w *watched) read() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.maxRead
}

// TestContract walks the catalogue and checks every registered method against the contract written in
// the methods package documentation (issue 17): both presets exist and share the Settings shape and the
// default seeded backbone (finding 1, 4); New fails fast on a bad weights file (finding 3); a wrong input
// size is a clear error naming the image (finding 2); Predict streams, reading at most one feature
// batch ahead of what it has handed over (finding 6); save and load round-trip the predictions.
func TestContract(t *testing.T) {
	entries := methods.Catalogue()
	if len(entries) < 4 {
		t.Fatalf("catalogue has %d methods; import methods/all", len(entries))
	}
	for _, e := range entries {
		t.Run(e.Name, func(t *testing.T) { checkContract(t, e) })
	}
}

func checkContract(t *testing.T, e methods.Entry) {
	ctx := context.Background()
	if !slices.Contains(e.Presets, methods.PresetPaper) || !slices.Contains(e.Presets, methods.PresetCPU) {
		t.Fatalf("presets %v: want %q and %q", e.Presets, methods.PresetPaper, methods.PresetCPU)
	}
	if e.Build == nil {
		t.Fatal("no Entry.Build: register Build(preset, edit), a preset with its Settings edited (see methods.Entry and patchcore's init)")
	}
	for _, preset := range []string{methods.PresetPaper, methods.PresetCPU} {
		d, err := e.Build(preset, func(s *methods.Settings) { s.Weights = "random" })
		if err != nil {
			t.Fatalf("preset %s: %v", preset, err)
		}
		c, ok := d.(methods.Configured)
		if !ok {
			t.Fatalf("preset %s: %T does not report its Settings (methods.Configured)", preset, d)
		}
		s := c.Settings()
		if s.ImageSize <= 0 || s.Backbone == "" || s.FeatureBatch <= 0 || s.ImageScore == "" {
			t.Errorf("preset %s: incomplete settings %+v", preset, s)
		}
		if s.BackboneSeed != methods.DefaultBackboneSeed {
			t.Errorf("preset %s: BackboneSeed %d, want the shared default %d", preset, s.BackboneSeed, methods.DefaultBackboneSeed)
		}
		if _, ok := d.(methods.Streamer); !ok {
			t.Errorf("preset %s: %T does not stream (methods.Streamer)", preset, d)
		}
		if d.Name() != e.Name {
			t.Errorf("preset %s builds %q", preset, d.Name())
		}
	}

	bad := "/nonexistent/" + e.Name + ".safetensors"
	start := time.Now()
	_, err := e.Build(methods.PresetCPU, func(s *methods.Settings) { tiny(s); s.Weights = bad })
	if err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("New with weights %s: %v; want an error naming the file", bad, err)
	}
	if el := time.Since(start); el > 30*time.Second {
		t.Errorf("New took %s to reject bad weights", el)
	}

	d, err := e.Build(methods.PresetCPU, tiny)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Predict(ctx, methods.ImageList{datasets.NewImage(64, 64, 3)}); !errors.Is(err, methods.ErrNotFitted) {
		t.Errorf("Predict before Fit: %v, want ErrNotFitted", err)
	}
	wrong, err := synth.New("tile", synth.Options{Size: 96, Train: 4, TestNormal: 1, TestPerDefect: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Fit(ctx, wrong.Train); err == nil || !strings.Contains(err.Error(), "tile/train/good/000.png is 96x96 (W x H)") ||
		!strings.Contains(err.Error(), "ImageSize") {
		t.Errorf("Fit on 96-px images with ImageSize 64: %v", err)
	}
	ds, err := synth.New("tile", synth.Options{Size: 64, Train: 6, TestNormal: 3, TestPerDefect: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Fit(ctx, ds.Train); err != nil {
		t.Fatal(err)
	}
	test := methods.Slice(ds.Test, 0, 7)
	w := &watched{Images: test, maxRead: -1}
	var streamed []methods.Prediction
	err = methods.PredictEach(ctx, d, w, func(i int, p methods.Prediction) error {
		if i != len(streamed) {
			t.Fatalf("prediction %d handed over after %d", i, len(streamed))
		}
		if r := w.read(); r >= i+2 {
			t.Errorf("at prediction %d the detector had read image %d: more than a feature batch (2) ahead", i, r)
		}
		if p.Map.H != 64 || p.Map.W != 64 || p.Map.C != 1 || math.IsNaN(float64(p.Score)) {
			t.Errorf("prediction %d: score %v, map %dx%dx%d", i, p.Score, p.Map.W, p.Map.H, p.Map.C)
		}
		streamed = append(streamed, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(streamed) != test.Len() {
		t.Fatalf("%d predictions for %d images", len(streamed), test.Len())
	}
	if _, err := d.Predict(ctx, methods.Slice(wrong.Test, 0, 1)); err == nil || !strings.Contains(err.Error(), "is 96x96 (W x H)") {
		t.Errorf("Predict on a 96-px image: %v", err)
	}

	dir := filepath.Join(t.TempDir(), e.Name)
	if err := d.Save(dir); err != nil {
		t.Fatal(err)
	}
	loaded, err := methods.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	again, err := loaded.Predict(ctx, test)
	if err != nil {
		t.Fatal(err)
	}
	for i := range streamed {
		if diff := math.Abs(float64(again[i].Score - streamed[i].Score)); diff > 1e-5*max(1, math.Abs(float64(streamed[i].Score))) {
			t.Errorf("image %d: score %v after load, %v before", i, again[i].Score, streamed[i].Score)
		}
	}
}
