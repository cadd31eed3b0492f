package ae

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"testing"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/datasets/synth"
	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/metrics"
)

// tinyConfig trains in seconds: 64 px, a quarter of the channels, a seeded ResNet-18 at an eighth.
func tinyConfig() Config {
	c := CPU()
	c.ImageSize, c.WidthDiv, c.Weights, c.Epochs, c.BatchSize, c.LatentDim = 64, 4, "random", 30, 4, 32
	c.Loss = ScoreL2
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

func imageAUROC(t *testing.T, preds []methods.Prediction, labels []datasets.Label) float64 {
	t.Helper()
	scores := make([]float64, len(preds))
	anomalous := make([]bool, len(preds))
	for i, p := range preds {
		scores[i] = float64(p.Score)
		anomalous[i] = labels[i] == datasets.Anomalous
	}
	a, err := metrics.AUROC(scores, anomalous)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestAutoencoderLearns: the loss falls, and each of the three maps separates the held-out defects of
// a synthetic category better than chance.
func TestAutoencoderLearns(t *testing.T) {
	ds := tinyData(t, "carpet")
	d, err := New(tinyConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := d.Predict(ctx, ds.Test); !errors.Is(err, methods.ErrNotFitted) {
		t.Fatalf("predict before fit: %v", err)
	}
	if err := d.Fit(ctx, ds.Train); err != nil {
		t.Fatal(err)
	}
	h := d.History
	if len(h) != 30 || !(h[len(h)-1] < 0.7*h[0]) {
		t.Fatalf("loss did not fall by 30%%: %v", h)
	}
	for _, s := range []Score{ScoreL2, ScoreSSIM, ScoreFeature} {
		if err := d.SetScore(s); err != nil {
			t.Fatal(err)
		}
		preds, err := d.Predict(ctx, ds.Test)
		if err != nil {
			t.Fatal(err)
		}
		a := imageAUROC(t, preds, ds.Test.Labels())
		t.Logf("%s: image AUROC %.3f", s, a)
		if a < 0.6 {
			t.Errorf("%s: image AUROC %.3f, want at least 0.6", s, a)
		}
	}
}

// TestMemory trains with MemAE's memory module: the loss (L2 + entropy) falls, the memory weights stay
// sparse (entropy well below that of uniform attention, log N), and the L2 map still ranks the defects
// above chance (measured 0.74 on this seed).
func TestMemory(t *testing.T) {
	ds := tinyData(t, "pill")
	cfg := tinyConfig().WithMemory()
	cfg.MemoryItems, cfg.Score = 20, ScoreL2
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var entropy float64
	ctx := methods.WithProgress(context.Background(), func(ev methods.Event) {
		if v, ok := ev.Metrics["entropy"]; ok {
			entropy = v
		}
	})
	if err := d.Fit(ctx, ds.Train); err != nil {
		t.Fatal(err)
	}
	h := d.History
	if !(h[len(h)-1] < 0.7*h[0]) {
		t.Errorf("L2+entropy loss did not fall by 30%%: %v", h)
	}
	if !(entropy > 0 && entropy < 0.8*math.Log(20)) {
		t.Errorf("memory attention entropy %v: want sparse, below 0.8*log(20) = %.2f", entropy, 0.8*math.Log(20))
	}
	preds, err := d.Predict(ctx, ds.Test)
	if err != nil {
		t.Fatal(err)
	}
	if a := imageAUROC(t, preds, ds.Test.Labels()); a < 0.6 {
		t.Errorf("MemAE L2 map: image AUROC %.3f, want at least 0.6", a)
	} else {
		t.Logf("MemAE L2 map: image AUROC %.3f", a)
	}
}

// TestSSIMLoss trains with Bergmann et al.'s SSIM loss: it falls.
func TestSSIMLoss(t *testing.T) {
	cfg := tinyConfig()
	cfg.Loss = ScoreSSIM
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Fit(context.Background(), tinyData(t, "pill").Train); err != nil {
		t.Fatal(err)
	}
	h := d.History
	t.Logf("1 - SSIM: %.3f -> %.3f", h[0], h[len(h)-1])
	if !(h[len(h)-1] < 0.9*h[0]) {
		t.Errorf("SSIM loss did not fall by 10%%: %v", h)
	}
}

// TestCheckpointResumeCancel: save and load give identical predictions; a run cancelled mid-way and
// resumed from its checkpoint ends with the weights of an uninterrupted run.
func TestCheckpointResumeCancel(t *testing.T) {
	ds := tinyData(t, "tile")
	cfg := tinyConfig()
	cfg.Epochs = 4
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
		if got[i].Score != want[i].Score {
			t.Fatalf("image %d: score %v after load, %v before", i, got[i].Score, want[i].Score)
		}
	}

	// Cancel after the second epoch's checkpoint, then resume.
	ck := filepath.Join(t.TempDir(), "ckpt")
	cfg.CheckpointDir, cfg.CheckpointEvery = ck, 1
	first, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	steps := 0
	cctx = methods.WithProgress(cctx, func(ev methods.Event) {
		if ev.Task == "ae: training" && !ev.Finished {
			if steps++; steps == 2*(16/cfg.BatchSize)+1 {
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
	var resumedFrom string
	rctx := methods.WithProgress(ctx, func(ev methods.Event) {
		if resumedFrom == "" && ev.Done > 0 && ev.Task != "ae: training" {
			resumedFrom = ev.Task
		}
	})
	if err := resumed.Fit(rctx, ds.Train); err != nil {
		t.Fatal(err)
	}
	if resumedFrom == "" || len(resumed.History) != 4 {
		t.Fatalf("did not resume (%q, history %v)", resumedFrom, resumed.History)
	}
	again, err := resumed.Predict(ctx, ds.Test)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if d := math.Abs(float64(again[i].Score - want[i].Score)); d > 1e-5*(1+math.Abs(float64(want[i].Score))) {
			t.Fatalf("image %d: resumed run scores %v, uninterrupted %v", i, again[i].Score, want[i].Score)
		}
	}
}
