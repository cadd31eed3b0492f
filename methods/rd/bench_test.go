package rd

import (
	"context"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gonomaly/gonomaly/datasets/synth"
	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/compute"
)

// benchmarkTrainStep times one optimisation step (batch 8) of a preset on the configured backend,
// excluding compilation and teacher extraction.
func benchmarkTrainStep(b *testing.B, v Variant) {
	cfg := CPU().WithVariant(v)
	cfg.Weights = "random"
	ds, err := synth.New("carpet", synth.Options{Size: cfg.ImageSize, Seed: 1, Train: cfg.BatchSize, TestNormal: 1, TestPerDefect: 1})
	if err != nil {
		b.Fatal(err)
	}
	d, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	imgs := make(methods.ImageList, cfg.BatchSize)
	for i := range imgs {
		if imgs[i], err = ds.Train.Image(i); err != nil {
			b.Fatal(err)
		}
	}
	f, err := d.extract(ctx, imgs)
	if err != nil {
		b.Fatal(err)
	}
	idx := make([]int, cfg.BatchSize)
	for i := range idx {
		idx[i] = i
	}
	inputs := f.batch(idx)
	if v == RDPlusPlus {
		noisy, err := d.noisyFeatures(ctx, imgs, idx, rand.New(rand.NewPCG(1, 2)))
		if err != nil {
			b.Fatal(err)
		}
		perm := make([]int32, cfg.BatchSize)
		for i := range perm {
			perm[i] = int32((i + 1) % cfg.BatchSize)
		}
		inputs = append(append(inputs, noisy...), tensors.FromValue(perm))
	}
	args := make([]any, len(inputs))
	for i, t := range inputs {
		args[i] = t
	}
	exec, err := mlctx.NewExec(compute.MustBackend(), d.vars, func(vctx *mlctx.Context, in []*Node) []*Node {
		return d.trainGraph(vctx, in)
	})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := exec.Exec(args...); err != nil { // compile
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := exec.Exec(args...); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/step")
}

func BenchmarkTrainStepRDCPUPreset(b *testing.B)   { benchmarkTrainStep(b, RD) }
func BenchmarkTrainStepRDPPCPUPreset(b *testing.B) { benchmarkTrainStep(b, RDPlusPlus) }

// BenchmarkPredictRDCPUPreset times inference (teacher, bottleneck, decoder, maps) per image.
func BenchmarkPredictRDCPUPreset(b *testing.B) {
	cfg := CPU().WithVariant(RD)
	cfg.Weights, cfg.Epochs = "random", 1
	ds, err := synth.New("carpet", synth.Options{Size: cfg.ImageSize, Seed: 1, Train: cfg.BatchSize, TestNormal: cfg.BatchSize, TestPerDefect: 1})
	if err != nil {
		b.Fatal(err)
	}
	d, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := d.Fit(context.Background(), ds.Train); err != nil {
		b.Fatal(err)
	}
	test := ds.Test.Subset("bench", []int{0, 1, 2, 3, 4, 5, 6, 7})
	if _, err := d.Predict(context.Background(), test); err != nil { // compile
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := d.Predict(context.Background(), test); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*test.Len()), "ms/image")
}
