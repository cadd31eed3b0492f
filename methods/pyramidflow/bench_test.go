package pyramidflow

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/methods/compute"
)

// BenchmarkTrainStep times one optimisation step (forward, Fourier pair loss, backward, Adam) of each
// preset's flow on random pyramids of the preset's feature-map size and channels (the encoder and the
// pyramid decomposition are not included). A fit costs Epochs x (training images / BatchSize) steps.
//
//	go test -run - -bench TrainStep -benchtime 3x ./methods/pyramidflow
func BenchmarkTrainStep(b *testing.B) {
	for _, p := range []struct {
		name     string
		cfg      Config
		side, ch int
	}{
		{"cpu", CPU(), 32, 16},
		{"cpu-lite", CPULite(), 64, 8},
		{"paper-lite", PaperLite(), 256, 16},
	} {
		b.Run(p.name, func(b *testing.B) {
			cfg := p.cfg
			rng := rand.New(rand.NewPCG(1, 2))
			var pyrs [][]datasets.Image
			for i := 0; i < cfg.BatchSize; i++ {
				m := datasets.NewImage(p.side, p.side, p.ch)
				for j := range m.Pix {
					m.Pix[j] = float32(rng.NormFloat64())
				}
				pyr, err := BuildPyramid(m, cfg.Levels)
				if err != nil {
					b.Fatal(err)
				}
				pyrs = append(pyrs, pyr)
			}
			idx := make([]int, cfg.BatchSize)
			for i := range idx {
				idx[i] = i
			}
			args := asArgs(batchTensors(pyrs, idx))
			vars := mlctx.New()
			exec := mlctx.MustNewExec(compute.MustBackend(), vars, func(vctx *mlctx.Context, levels []*graph.Node) *graph.Node {
				vctx.SetTraining(levels[0].Graph(), true)
				z, _ := cfg.Forward(vctx, levels)
				loss := cfg.pairLoss(z)
				cfg.adamStep(vctx, loss)
				return loss
			})
			exec.MustExec(args...) // compile
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				out := exec.MustExec(args...)
				_ = tensors.ToScalar[float32](out[0])
			}
		})
	}
}
