package nn

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
)

// BenchmarkSSIMLossGrad times the SSIM loss and its gradient on a training batch (8 RGB images of
// 128 px), what the SSIM autoencoder and DRAEM pay per step on top of their networks.
func BenchmarkSSIMLossGrad(b *testing.B) {
	rng := rand.New(rand.NewPCG(50, 51))
	x, y := randTensor32(rng, 8, 128, 128, 3), randTensor32(rng, 8, 128, 128, 3)
	benchGraph(b, 0, func(in []*graph.Node) []*graph.Node {
		loss := graph.OneMinus(graph.ReduceAllMean(SSIM(in[0], in[1], DefaultSSIM())))
		return append([]*graph.Node{loss}, graph.Gradient(loss, in[0])...)
	}, x, y)
}
