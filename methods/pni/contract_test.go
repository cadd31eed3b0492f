package pni

import (
	"context"
	"strings"
	"testing"

	"github.com/gonomaly/gonomaly/datasets/synth"
	"github.com/gonomaly/gonomaly/methods"
)

// TestNewChecksAtOnce is issue 17's findings 2 and 3 for PNI: New fails at once on a missing weights
// file, and Fit rejects images of another size than ImageSize with a message naming the image.
func TestNewChecksAtOnce(t *testing.T) {
	c := tinyConfig()
	c.Weights = "/nonexistent/wrn.safetensors"
	if _, err := New(c); err == nil || !strings.Contains(err.Error(), c.Weights) {
		t.Fatalf("missing weights: %v", err)
	}
	c = tinyConfig()
	c.ImageScore = methods.ScoreReweighted
	if _, err := New(c); err == nil || !strings.Contains(err.Error(), "ImageScore") {
		t.Fatalf("reweighted image score: %v", err)
	}
	p, err := New(tinyConfig())
	if err != nil {
		t.Fatal(err)
	}
	ds, err := synth.New("tile", synth.Options{Size: 96, Train: 4, TestNormal: 1, TestPerDefect: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Fit(context.Background(), ds.Train); err == nil || !strings.Contains(err.Error(), "tile/train/good/000.png is 96x96 (W x H) but the detector's ImageSize is 64") {
		t.Fatalf("96-px data on a 64-px config: %v", err)
	}
	if s := CPU().Settings; s.BackboneSeed != methods.DefaultBackboneSeed || s.ImageScore != methods.ScorePatchMax || s.FeatureBatch != methods.DefaultFeatureBatch {
		t.Fatalf("CPU preset settings %+v", s)
	}
}
