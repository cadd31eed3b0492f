package vitrec

import (
	"context"
	"testing"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/datasets/synth"
	"github.com/gonomaly/gonomaly/methods"
)

func benchData(b *testing.B, n int) []datasets.Image {
	ds, err := synth.New("carpet", synth.Options{Size: 64, Seed: 1, Train: n, TestNormal: 1, TestPerDefect: 1})
	if err != nil {
		b.Fatal(err)
	}
	out := make([]datasets.Image, n)
	for i := range out {
		out[i], _ = ds.Train.Image(i)
	}
	return out
}

// BenchmarkCPUTrainStep times one training step of the CPU preset (batch 8, 64 px, 64 tokens of width
// 64, 3 blocks): forward, backward and the Adam update.
func BenchmarkCPUTrainStep(b *testing.B) {
	d, err := New(CPU())
	if err != nil {
		b.Fatal(err)
	}
	exec, err := d.newTrainExec()
	if err != nil {
		b.Fatal(err)
	}
	n := CPU().BatchSize
	x := toTensor(benchData(b, n))
	mask, weight := d.groupMask(n, 0), d.groupMask(n, 0)
	if _, err := exec.Exec(x, mask, weight); err != nil { // compile
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, err := exec.Exec(x, mask, weight)
		if err != nil {
			b.Fatal(err)
		}
		for _, o := range out {
			o.FinalizeAll()
		}
	}
}

// BenchmarkCPUPredict times Predict per image (batches of 8, four masked passes, map smoothing included).
func BenchmarkCPUPredict(b *testing.B) {
	imgs := methods.ImageList(benchData(b, 8))
	d, err := New(CPU())
	if err != nil {
		b.Fatal(err)
	}
	cfg := d.cfg
	cfg.Epochs = 1
	d.cfg = cfg
	if err := d.Fit(context.Background(), imgs); err != nil {
		b.Fatal(err)
	}
	if _, err := d.Predict(context.Background(), imgs); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := d.Predict(context.Background(), imgs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*len(imgs)), "ms/image")
}
