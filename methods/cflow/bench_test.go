package cflow

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"
	"github.com/gonomaly/gonomaly/methods/compute"
)

// BenchmarkPaperTrainStep times one optimisation step of the Paper preset's decoder for each
// Wide-ResNet-50-2 tap width (256, 512, 1024 channels): 8 coupling blocks, a 128-channel condition, a
// batch of 256 fibers. The paper's schedule is 200 passes over every fiber of the training images, so a
// full fit costs about (passes x fibers / 256) such steps.
//
//	go test -run - -bench PaperTrainStep -benchtime 5x ./methods/cflow
func BenchmarkPaperTrainStep(b *testing.B) {
	cfg := Paper()
	for tap, width := range []int{256, 512, 1024} {
		b.Run(fmt.Sprintf("C%d", width), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, uint64(width)))
			fib := make([]float32, cfg.FiberBatch*width)
			for i := range fib {
				fib[i] = float32(rng.NormFloat64())
			}
			cond := PositionalEncoding(cfg.ConditionDims, 16, 16)[:cfg.FiberBatch*cfg.ConditionDims]
			vars := mlctx.New().Checked(false)
			opt := optimizers.Adam().LearningRate(cfg.LearningRate).Done()
			exec := mlctx.MustNewExec(compute.MustBackend(), vars, func(vctx *mlctx.Context, fibers, c *graph.Node) *graph.Node {
				vctx.SetTraining(fibers.Graph(), true)
				loss := trainingLoss(cfg.logLikelihood(vctx, tap, fibers, c))
				opt.UpdateGraph(vctx, fibers.Graph(), loss)
				return loss
			})
			x := tensors.FromFlatDataAndDimensions(fib, cfg.FiberBatch, width)
			c := tensors.FromFlatDataAndDimensions(cond, cfg.FiberBatch, cfg.ConditionDims)
			exec.MustExec(x, c) // compile
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				exec.MustExec(x, c)
			}
		})
	}
}
