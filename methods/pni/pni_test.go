package pni

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/datasets/synth"
	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/metrics"
)

func tinyConfig() Config {
	c := CPU()
	c.Backbone, c.Weights = "resnet18", "random"
	c.WidthDiv = 2
	c.ImageSize = 64
	c.Features.Dim = 64
	c.Centroids = 32
	c.CoresetRatio = 0.2
	c.NeighbourDim = 8
	c.Hidden = 64
	c.Epochs = 8
	c.BatchSize = 64
	return c
}

func TestPNI(t *testing.T) {
	ctx := context.Background()
	ds, err := synth.New("pill", synth.Options{Size: 64, Train: 16, TestNormal: 8, TestPerDefect: 3, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := New(tinyConfig())
	if _, err := p.Predict(ctx, ds.Test); !errors.Is(err, methods.ErrNotFitted) {
		t.Fatalf("predict before fit: %v", err)
	}
	if err := p.Fit(ctx, ds.Train); err != nil {
		t.Fatal(err)
	}
	// The neighbourhood model learns: its loss falls below the uniform guess log K and keeps falling.
	l := p.Losses
	t.Logf("MLP losses: %.3f ... %.3f (uniform: %.3f)", l[0], l[len(l)-1], math.Log(32))
	if !(l[len(l)-1] < l[0] && l[len(l)-1] < math.Log(32)) {
		t.Errorf("neighbourhood model did not learn: losses %v", l)
	}
	// Position priors are distributions.
	prior, gh, gw, k := p.PositionPrior()
	if gh != 8 || gw != 8 || k != 32 {
		t.Fatalf("prior grid %dx%d over %d centroids", gh, gw, k)
	}
	for pos := 0; pos < gh*gw; pos++ {
		var s float64
		for _, v := range prior[pos*k : (pos+1)*k] {
			s += float64(v)
		}
		if math.Abs(s-1) > 1e-4 {
			t.Fatalf("position %d prior sums to %v", pos, s)
		}
	}
	preds, err := p.Predict(ctx, ds.Test)
	if err != nil {
		t.Fatal(err)
	}
	r := evaluate(t, preds, ds.Test)
	t.Logf("seeded backbone: image AUROC %.3f, pixel AUROC %.3f, AUPRO %.3f", r.ImageAUROC, r.PixelAUROC, r.AUPRO)
	if r.PixelAUROC < 0.8 {
		t.Errorf("pixel AUROC %.3f, want >= 0.8", r.PixelAUROC)
	}

	// Prior surprise is finite and non-negative at every patch.
	test, err := p.Features(ctx, ds.Test)
	if err != nil {
		t.Fatal(err)
	}
	posNLL, nbNLL, err := p.PriorNLL(ctx, test, ds.Test.Len()-1)
	if err != nil {
		t.Fatal(err)
	}
	for q := range posNLL {
		if !(posNLL[q] >= 0 && nbNLL[q] >= 0) || math.IsInf(float64(posNLL[q]), 0) {
			t.Fatalf("patch %d: NLL %v, %v", q, posNLL[q], nbNLL[q])
		}
	}

	dir := t.TempDir() + "/pni"
	if err := p.Save(dir); err != nil {
		t.Fatal(err)
	}
	q, err := methods.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	again, err := q.Predict(ctx, ds.Test)
	if err != nil {
		t.Fatal(err)
	}
	for i := range preds {
		if again[i].Score != preds[i].Score {
			t.Fatalf("image %d: score %v after load, %v before", i, again[i].Score, preds[i].Score)
		}
	}
	other, _ := synth.New("pill", synth.Options{Size: 72, Train: 1, TestNormal: 1, TestPerDefect: 1})
	if _, err := q.Predict(ctx, other.Test); err == nil || !strings.Contains(err.Error(), "72x72") {
		t.Fatalf("wrong size: %v", err)
	}
}

func TestCatalogueEntry(t *testing.T) {
	e, err := methods.Lookup(Name)
	if err != nil {
		t.Fatal(err)
	}
	if e.Family != methods.MemoryBank || e.Paper.Year != 2023 || e.Paper.Venue != "ICCV" || !e.Trains {
		t.Fatalf("entry %+v", e)
	}
	if c := Paper(); c.Centroids != 2048 || c.NeighbourRadius != 4 {
		t.Fatalf("paper preset %+v", c)
	}
}

// evaluate scores predictions for split with the project's metrics.
func evaluate(t *testing.T, preds []methods.Prediction, split *datasets.Split) metrics.Report {
	t.Helper()
	masks, err := split.Masks()
	if err != nil {
		t.Fatal(err)
	}
	r, err := metrics.Evaluate(preds, split.Labels(), masks, nil, metrics.Options{NoPerDefect: true})
	if err != nil {
		t.Fatal(err)
	}
	return r
}
