package nn

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TestBatchMatMul: each batch's product against a direct triple loop, and the gradient against
// finite differences.
func TestBatchMatMul(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 5))
	a, b := randTensor(rng, 3, 4, 5), randTensor(rng, 3, 5, 2)
	out := run(t, func(in []*graph.Node) []*graph.Node { return []*graph.Node{BatchMatMul(in[0], in[1])} }, a, b)
	fa, fb := flat64(t, a), flat64(t, b)
	want := make([]float64, 3*4*2)
	for g := 0; g < 3; g++ {
		for i := 0; i < 4; i++ {
			for j := 0; j < 2; j++ {
				for k := 0; k < 5; k++ {
					want[(g*4+i)*2+j] += fa[(g*4+i)*5+k] * fb[(g*5+k)*2+j]
				}
			}
		}
	}
	assertCloseFlat(t, "BatchMatMul", flat64(t, out[0]), want, 1e-5)
	checkGradients(t, "BatchMatMul", func(in []*graph.Node) *graph.Node {
		return graph.ReduceAllSum(graph.Square(BatchMatMul(in[0], in[1])))
	}, []*tensors.Tensor{a, b}, 20)
}
