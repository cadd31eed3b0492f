package metrics

import (
	"context"
	"math"
	"sync/atomic"
	"testing"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/datasets/synth"
	"github.com/gonomaly/gonomaly/methods"
)

// brightness is a detector without a model: the map is the image's distance from mid-grey, the score
// its maximum. It reads each image once.
type brightness struct{}

func (brightness) Name() string                              { return "brightness" }
func (brightness) Fit(context.Context, methods.Images) error { return nil }
func (brightness) Save(string) error                         { return nil }
func (brightness) Settings() methods.Settings                { return methods.Settings{FeatureBatch: 3} }
func (brightness) Predict(_ context.Context, images methods.Images) ([]methods.Prediction, error) {
	out := make([]methods.Prediction, images.Len())
	for i := range out {
		im, err := images.Image(i)
		if err != nil {
			return nil, err
		}
		m := datasets.NewImage(im.H, im.W, 1)
		for p := range m.Pix {
			m.Pix[p] = float32(math.Abs(float64(im.Pix[p*im.C] - 0.5)))
			out[i].Score = max(out[i].Score, m.Pix[p])
		}
		out[i].Map = m
	}
	return out, nil
}

// countingSource counts the samples loaded.
type countingSource struct {
	datasets.Source
	loads atomic.Int64
}

func (c *countingSource) Load(it datasets.Item) (datasets.Sample, error) {
	c.loads.Add(1)
	return c.Source.Load(it)
}

// TestEvaluateSplit is issue 17's finding 7: one call predicts and evaluates a split, loading every
// sample exactly once, with the same report as Predict, Labels, Masks, Defects and Evaluate.
func TestEvaluateSplit(t *testing.T) {
	ds, err := synth.New("tile", synth.Options{Size: 32, Train: 2, TestNormal: 4, TestPerDefect: 2, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	src := &countingSource{Source: ds.Test.Source}
	split := *ds.Test
	split.Source = src
	rep, preds, err := EvaluateSplit(context.Background(), brightness{}, &split, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := src.loads.Load(); got != int64(split.Len()) {
		t.Errorf("EvaluateSplit loaded %d samples for %d items", got, split.Len())
	}
	want, err := brightness{}.Predict(context.Background(), ds.Test)
	if err != nil {
		t.Fatal(err)
	}
	masks, err := ds.Test.Masks()
	if err != nil {
		t.Fatal(err)
	}
	wantRep, err := Evaluate(want, ds.Test.Labels(), masks, ds.Test.Defects(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if preds[i].Score != want[i].Score {
			t.Fatalf("prediction %d: score %v, want %v", i, preds[i].Score, want[i].Score)
		}
	}
	if rep.ImageAUROC != wantRep.ImageAUROC || rep.PixelAUROC != wantRep.PixelAUROC || rep.AUPRO != wantRep.AUPRO ||
		len(rep.PerDefect) != len(wantRep.PerDefect) || math.IsNaN(rep.PixelAUROC) {
		t.Errorf("EvaluateSplit: image AUROC %v pixel AUROC %v AUPRO %v; Evaluate: %v %v %v",
			rep.ImageAUROC, rep.PixelAUROC, rep.AUPRO, wantRep.ImageAUROC, wantRep.PixelAUROC, wantRep.AUPRO)
	}
	if _, _, err := EvaluateSplit(context.Background(), brightness{}, &datasets.Split{}, Options{}); err == nil {
		t.Error("empty split evaluated")
	}
}
