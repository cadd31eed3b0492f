package cflow

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gonomaly/gonomaly/datasets/synth"
	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/compute"
)

func TestPositionalEncoding(t *testing.T) {
	const p, h, w = 16, 3, 5
	pe := PositionalEncoding(p, h, w)
	if len(pe) != h*w*p {
		t.Fatalf("length %d, want %d", len(pe), h*w*p)
	}
	at := func(y, x, c int) float64 { return float64(pe[(y*w+x)*p+c]) }
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for k := 0; k < p/4; k++ {
				omega := math.Pow(1e4, -float64(2*k)/float64(p/2))
				want := []float64{math.Sin(float64(x) * omega), math.Cos(float64(x) * omega),
					math.Sin(float64(y) * omega), math.Cos(float64(y) * omega)}
				got := []float64{at(y, x, 2*k), at(y, x, 2*k+1), at(y, x, p/2+2*k), at(y, x, p/2+2*k+1)}
				for i := range want {
					if math.Abs(got[i]-want[i]) > 1e-6 {
						t.Fatalf("(y=%d, x=%d) frequency %d part %d: %g, want %g", y, x, k, i, got[i], want[i])
					}
				}
			}
		}
	}
	// Different positions get different codes: the condition tells positions apart.
	for a := 0; a < h*w; a++ {
		for b := a + 1; b < h*w; b++ {
			dist := 0.0
			for c := 0; c < p; c++ {
				d := float64(pe[a*p+c] - pe[b*p+c])
				dist += d * d
			}
			if dist < 1e-3 {
				t.Fatalf("positions %d and %d share an encoding", a, b)
			}
		}
	}
}

func TestLearningRateSchedule(t *testing.T) {
	c := Paper()
	const steps = 100
	lr := c.LearningRate
	etaMin := lr * math.Pow(c.DecayRate, 3)
	if got := c.learningRate(0, 0, steps); math.Abs(got-lr/10) > 1e-12 {
		t.Errorf("first warm-up step: %g, want lr/10 = %g", got, lr/10)
	}
	// Warm-up rises monotonically to the cosine's value at its end, then the cosine decays.
	prev := 0.0
	for e := 0; e < c.MetaEpochs; e++ {
		for s := 0; s < steps; s += 25 {
			got := c.learningRate(e, s, steps)
			if e < c.WarmupMetaEpochs && got < prev {
				t.Errorf("warm-up falls at epoch %d step %d: %g after %g", e, s, got, prev)
			}
			if e >= c.WarmupMetaEpochs && got > prev+1e-15 && prev > 0 && s > 0 {
				t.Errorf("cosine rises within epoch %d: %g after %g", e, got, prev)
			}
			if got < etaMin || got > lr {
				t.Errorf("epoch %d step %d: %g outside [%g, %g]", e, s, got, etaMin, lr)
			}
			prev = got
		}
	}
	if got, want := c.learningRate(c.MetaEpochs-1, 0, steps), etaMin+(lr-etaMin)*(1+math.Cos(math.Pi*24/25))/2; math.Abs(got-want) > 1e-15 {
		t.Errorf("last meta epoch: %g, want %g", got, want)
	}
}

func TestTrainingLoss(t *testing.T) {
	values := []float32{-200, -3, -0.5, 0, 0.5, 3, 40}
	exec := graph.MustNewExec(compute.MustBackend(), trainingLoss)
	got := float64(tensors.ToScalar[float32](exec.MustExec(tensors.FromValue(values))[0]))
	want := 0.0
	for _, v := range values {
		want += math.Log1p(math.Exp(-float64(v))) / float64(len(values)) // -log σ(v)
	}
	if math.Abs(got-want) > 1e-4*want {
		t.Errorf("loss %g, want mean -log sigmoid = %g", got, want)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		change func(*Config)
		want   string
	}{
		{func(c *Config) { c.CouplingBlocks = 0 }, "CouplingBlocks"},
		{func(c *Config) { c.ConditionDims = 30 }, "ConditionDims"},
		{func(c *Config) { c.Taps = []string{"layer9"} }, "unknown tap"},
		{func(c *Config) { c.Taps = []string{"layer1", "layer1"} }, "twice"},
		{func(c *Config) { c.LearningRate = -1 }, "LearningRate"},
		{func(c *Config) { c.FiberBatch = 1 }, "FiberBatch"},
		{func(c *Config) { c.ImageSize = 8 }, "too small"},
		{func(c *Config) { c.ImageScore = methods.ScoreReweighted }, "ImageScore"},
	} {
		c := tinyConfig()
		tc.change(&c)
		if _, err := New(c); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want an error mentioning %q, got %v", tc.want, err)
		}
	}
	if _, err := methods.New(Name, "fast"); err == nil || !strings.Contains(err.Error(), "preset") {
		t.Errorf("unknown preset: %v", err)
	}
}

func TestCheckpointResumeAndCancel(t *testing.T) {
	ds, err := synth.New("grid", synth.Options{Size: 64, Seed: 3, Train: 8, TestNormal: 2, TestPerDefect: 1})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "train")
	cfg := tinyConfig()
	cfg.MetaEpochs, cfg.WarmupMetaEpochs, cfg.CheckpointDir, cfg.CheckpointEvery = 2, 1, dir, 1
	cfg.Taps = []string{"layer2", "layer3"}

	// Cancel in the second meta epoch: Fit returns the context's error and the checkpoint of the first
	// meta epoch loads and predicts.
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(context.Background())
	var total int
	cctx = methods.WithProgress(cctx, func(e methods.Event) {
		if e.Task == Name+": training" {
			total = e.Total
			if e.Done > e.Total/2+1 {
				cancel()
			}
		}
	})
	if err := d.Fit(cctx, ds.Train); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled fit returned %v", err)
	}
	back, err := methods.Load(dir)
	if err != nil {
		t.Fatalf("checkpoint after cancel: %v", err)
	}
	if _, err := back.Predict(context.Background(), ds.Test); err != nil {
		t.Fatal(err)
	}

	// The same recipe resumes after the first meta epoch and finishes; its first epoch's loss is the
	// cancelled run's.
	var resumed bool
	var firstDone int
	ctx := methods.WithProgress(context.Background(), func(e methods.Event) {
		resumed = resumed || strings.Contains(e.Task, "resumed")
		if e.Task == Name+": training" && firstDone == 0 {
			firstDone = e.Done
		}
	})
	d2, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := d2.Fit(ctx, ds.Train); err != nil {
		t.Fatal(err)
	}
	if !resumed || len(d2.History) != 2 || d2.History[0] != d.History[0] || firstDone != total/2+1 {
		t.Fatalf("resume: resumed=%v, history %v (cancelled run %v), first step reported %d of %d",
			resumed, d2.History, d.History, firstDone, total)
	}
}
