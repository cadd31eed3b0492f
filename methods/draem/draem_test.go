package draem

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/datasets/synth"
	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/compute"
	"github.com/gonomaly/gonomaly/methods/metrics"
)

// TestFocalLoss compares FocalLoss and its gamma with a direct computation of the authors' formula.
func TestFocalLoss(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n, h, w = 2, 3, 4
	logits := make([]float32, n*h*w*2)
	mask := make([]float32, n*h*w)
	for i := range logits {
		logits[i] = float32(rng.NormFloat64() * 2)
	}
	for i := range mask {
		if rng.IntN(3) == 0 {
			mask[i] = 1
		}
	}
	for _, gamma := range []float64{0, 2, 3.5} {
		want := 0.0
		for p := range mask {
			a, b := float64(logits[2*p]), float64(logits[2*p+1])
			pAnom := math.Exp(b) / (math.Exp(a) + math.Exp(b))
			tAnom := float64(mask[p])*(1-2e-5) + 1e-5
			pt := (1-tAnom)*(1-pAnom) + tAnom*pAnom + 1e-5
			want += -math.Pow(1-pt, gamma) * math.Log(pt)
		}
		want /= float64(len(mask))
		exec, err := graph.NewExec(compute.MustBackend(), func(l, m *graph.Node) *graph.Node { return FocalLoss(l, m, gamma) })
		if err != nil {
			t.Fatal(err)
		}
		got := float64(tensors.ToScalar[float32](exec.MustExec(tensors.FromFlatDataAndDimensions(logits, n, h, w, 2),
			tensors.FromFlatDataAndDimensions(mask, n, h, w, 1))[0]))
		if math.Abs(got-want) > 1e-5*(1+math.Abs(want)) {
			t.Errorf("gamma %v: focal loss %v, want %v", gamma, got, want)
		}
	}
}

// TestSchedule: the multistep decay of the paper (x0.2 at 80% and 90% of 700 epochs).
func TestSchedule(t *testing.T) {
	c := Paper()
	for _, tc := range []struct {
		epoch int
		want  float64
	}{{0, 1}, {559, 1}, {560, 0.2}, {629, 0.2}, {630, 0.04}, {699, 0.04}} {
		if got := c.lrScale(tc.epoch); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("epoch %d: scale %v, want %v", tc.epoch, got, tc.want)
		}
	}
	if k := CPU().filterSize(); k != 11 {
		t.Errorf("mean filter at 128 px: %d, want 11", k)
	}
}

func tinyConfig() Config {
	c := CPU()
	c.ImageSize, c.WidthDiv, c.Epochs, c.BatchSize = 64, 2, 12, 4
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

// TestDRAEMLearns: the loss falls, the segmentation finds held-out synthetic anomalies (new seeds on
// test images) far better than chance, and the image scores rank the category's real defects above
// chance.
func TestDRAEMLearns(t *testing.T) {
	ds := tinyData(t, "carpet")
	d, err := New(tinyConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := d.Fit(ctx, ds.Train); err != nil {
		t.Fatal(err)
	}
	h := d.History
	t.Logf("loss %v", h)
	if !(h[len(h)-1] < 0.8*h[0]) {
		t.Errorf("loss did not fall by 20%%: %v", h)
	}
	// Held-out synthetic anomalies.
	var held methods.ImageList
	var masks []datasets.Image
	for i := 0; i < ds.Test.Len() && len(held) < 8; i++ {
		if ds.Test.Labels()[i] != datasets.Normal {
			continue
		}
		im, err := ds.Test.Image(i)
		if err != nil {
			t.Fatal(err)
		}
		for seed := uint64(1000 + i); ; seed++ {
			s, err := d.MakeSample(im, seed)
			if err != nil {
				t.Fatal(err)
			}
			if anomalous(s.Mask) {
				held, masks = append(held, s.Augmented), append(masks, s.Mask)
				break
			}
		}
	}
	preds, err := d.Predict(ctx, held)
	if err != nil {
		t.Fatal(err)
	}
	maps := make([]datasets.Image, len(preds))
	for i, p := range preds {
		maps[i] = p.Map
	}
	pix, err := metrics.PixelAUROC(maps, masks)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("held-out synthetic anomalies: pixel AUROC %.3f", pix)
	if pix < 0.75 {
		t.Errorf("pixel AUROC on held-out synthetic anomalies %.3f, want at least 0.75", pix)
	}
	preds, err = d.Predict(ctx, ds.Test)
	if err != nil {
		t.Fatal(err)
	}
	scores := make([]float64, len(preds))
	labels := make([]bool, len(preds))
	for i, p := range preds {
		scores[i], labels[i] = float64(p.Score), ds.Test.Labels()[i] == datasets.Anomalous
	}
	a, err := metrics.AUROC(scores, labels)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("synthetic benchmark carpet: image AUROC %.3f", a)
}

func anomalous(m datasets.Image) bool {
	n := 0
	for _, v := range m.Pix {
		if v > 0 {
			n++
		}
	}
	return n > len(m.Pix)/50
}
