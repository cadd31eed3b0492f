package simplenet

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	. "github.com/gomlx/gomlx/pkg/core/graph"

	"github.com/gonomaly/gonomaly/datasets/synth"
	"github.com/gonomaly/gonomaly/methods/features"
)

// benchSet is a random feature set shaped as the CPU presets' features of n images: a 16x16 grid of
// 384-dimensional patches (ResNet-18 layer2 + layer3 at 128 px).
func benchSet(n int) *features.Set {
	s := &features.Set{N: n, H: 16, W: 16, D: 384}
	s.Data = tensors.MustCopyFlatData[float32](gaussian(rand.New(rand.NewPCG(3, 4)), 1, n*16*16, 384))
	return s
}

// BenchmarkSimpleNetTrainStep is one CPU-preset training step: a batch of 8 images (2048 patches),
// adaptor 384x384, discriminator 384-1024-1 on normal and noisy features, Adam.
func BenchmarkSimpleNetTrainStep(b *testing.B) {
	benchTrain(b, func() head {
		c := CPU()
		c.Weights = "random"
		s, err := New(c)
		if err != nil {
			b.Fatal(err)
		}
		return s
	})
}

// BenchmarkSVDDTrainStep is one CPU-preset Deep SVDD step on the same batch (phi 384-256-32).
func BenchmarkSVDDTrainStep(b *testing.B) {
	benchTrain(b, func() head {
		c := SVDDCPU()
		c.Weights = "random"
		s, err := NewSVDD(c)
		if err != nil {
			b.Fatal(err)
		}
		return s
	})
}

func benchTrain(b *testing.B, build func() head) {
	h := build()
	var c *core
	switch d := h.(type) {
	case *SimpleNet:
		c = d.core
	case *SVDD:
		c = d.core
	}
	set := benchSet(8)
	c.ch, c.gh, c.gw, c.dim = 3, 16, 16, 384
	if err := h.prepare(context.Background(), set); err != nil {
		b.Fatal(err)
	}
	x := rows(set, []int{0, 1, 2, 3, 4, 5, 6, 7})
	args := []any{x}
	if a := h.aux(0, 2048, 384); a != nil {
		args = append(args, a)
	}
	fn := func(vctx *mlctx.Context, in []*Node) []*Node {
		var aux *Node
		if len(in) > 1 {
			aux = in[1]
		}
		return h.trainGraph(vctx, in[0], aux)
	}
	if _, err := c.exec("train", fn, args...); err != nil { // compile
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := c.exec("train", fn, args...); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSimpleNetPredict is CPU-preset inference per image, backbone included (128 px, seeded
// ResNet-18): features, adaptor, discriminator, upsampling and smoothing.
func BenchmarkSimpleNetPredict(b *testing.B) {
	c := CPU()
	c.Weights = "random"
	c.Epochs = 1
	d, err := New(c)
	if err != nil {
		b.Fatal(err)
	}
	ds, err := synth.New("pill", synth.Options{Size: 128, Seed: 1, Train: 8, TestNormal: 8, TestPerDefect: 0})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := d.Fit(ctx, ds.Train); err != nil {
		b.Fatal(err)
	}
	if _, err := d.Predict(ctx, ds.Test); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := d.Predict(ctx, ds.Test); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*ds.Test.Len()), "ms/image")
}
