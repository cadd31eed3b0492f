package draem

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"path/filepath"
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
	c.ImageSize, c.Epochs, c.BatchSize = 64, 30, 4
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
// chance (measured on this seed: pixel AUROC 0.93, image AUROC 0.89; bounds 0.85 and 0.65).
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
	if pix < 0.85 {
		t.Errorf("pixel AUROC on held-out synthetic anomalies %.3f, want at least 0.85", pix)
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
	if a < 0.65 {
		t.Errorf("carpet's defects: image AUROC %.3f, want at least 0.65", a)
	}
}

// TestMVTecFolderCheckpointResume fits on an MVTec-layout folder (synth.WriteMVTec), checks that save
// and load give identical predictions, and that a run cancelled after a checkpoint and resumed ends
// with the scores of an uninterrupted run.
func TestMVTecFolderCheckpointResume(t *testing.T) {
	root := t.TempDir()
	src, err := synth.New("tile", synth.Options{Size: 64, Seed: 5, Train: 8, TestNormal: 2, TestPerDefect: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := synth.WriteMVTec(root, src); err != nil {
		t.Fatal(err)
	}
	ds, err := datasets.LoadMVTec(root, "tile", datasets.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := tinyConfig()
	cfg.Epochs, cfg.WidthDiv = 3, 2
	ctx := context.Background()
	full, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := full.Fit(ctx, ds.Train); err != nil {
		t.Fatal(err)
	}
	want, err := full.Predict(ctx, ds.Test)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "saved")
	if err := full.Save(dir); err != nil {
		t.Fatal(err)
	}
	loaded, err := methods.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := loaded.Predict(ctx, ds.Test)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if got[i].Score != want[i].Score || got[i].Map.Pix[100] != want[i].Map.Pix[100] {
			t.Fatalf("image %d: score %v after load, %v before", i, got[i].Score, want[i].Score)
		}
	}

	cfg.CheckpointDir, cfg.CheckpointEvery = filepath.Join(t.TempDir(), "ckpt"), 1
	first, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	steps := 0
	cctx = methods.WithProgress(cctx, func(ev methods.Event) {
		if ev.Task == "draem: training" && !ev.Finished {
			if steps++; steps == 8/cfg.BatchSize+1 {
				cancel()
			}
		}
	})
	if err := first.Fit(cctx, ds.Train); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Fit: %v", err)
	}
	resumed, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := resumed.Fit(ctx, ds.Train); err != nil {
		t.Fatal(err)
	}
	if len(resumed.History) != 3 || resumed.History[0] != first.History[0] {
		t.Fatalf("did not resume: history %v, first run %v", resumed.History, first.History)
	}
	again, err := resumed.Predict(ctx, ds.Test)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if d := math.Abs(float64(again[i].Score - want[i].Score)); d > 1e-4*(1+math.Abs(float64(want[i].Score))) {
			t.Fatalf("image %d: resumed run scores %v, uninterrupted %v", i, again[i].Score, want[i].Score)
		}
	}
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
