package nn

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

func TestMatMulGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(30, 31))
	a, b := randTensor(rng, 2, 3, 4), randTensor(rng, 4, 5)
	got := run(t, func(in []*graph.Node) []*graph.Node {
		return []*graph.Node{MatMul(in[0], in[1]), graph.Einsum("ijk,kl->ijl", in[0], in[1])}
	}, a, b)
	assertClose(t, "MatMul vs Einsum", got[0], got[1], 1e-12)
	checkGradients(t, "MatMul", func(in []*graph.Node) *graph.Node { return MatMul(in[0], in[1]) },
		[]*tensors.Tensor{a, b}, 20)
}

// TestCustomGradientTwoLosses takes two gradients through the same custom-gradient node in one graph:
// each must use its own incoming gradient.
func TestCustomGradientTwoLosses(t *testing.T) {
	rng := rand.New(rand.NewPCG(32, 33))
	a, b := randTensor(rng, 3, 4), randTensor(rng, 4, 2)
	r1, r2 := randTensor(rng, 3, 2), randTensor(rng, 3, 2)
	out := run(t, func(in []*graph.Node) []*graph.Node {
		y := MatMul(in[0], in[1])
		g1 := graph.Gradient(graph.ReduceAllSum(graph.Mul(y, in[2])), in[0])[0]
		g2 := graph.Gradient(graph.ReduceAllSum(graph.Mul(y, in[3])), in[0])[0]
		// d/da sum(r ∘ (a·b)) = r · bᵀ
		w1 := graph.Einsum("ij,kj->ik", in[2], in[1])
		w2 := graph.Einsum("ij,kj->ik", in[3], in[1])
		return []*graph.Node{g1, w1, g2, w2}
	}, a, b, r1, r2)
	assertClose(t, "first gradient", out[0], out[1], 1e-12)
	assertClose(t, "second gradient", out[2], out[3], 1e-12)
}

func TestBatchNormTrainingGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(34, 35))
	x, scale, offset := randTensor(rng, 3, 2, 2, 4), randTensor(rng, 4), randTensor(rng, 4)
	checkGradients(t, "BatchNormTraining", func(in []*graph.Node) *graph.Node {
		y, _, _ := BatchNormTraining(in[0], in[1], in[2], 1e-5)
		return y
	}, []*tensors.Tensor{x, scale, offset}, 12)
}

func TestLayerNormGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(36, 37))
	x, scale, offset := randTensor(rng, 3, 2, 5), randTensor(rng, 5), randTensor(rng, 5)
	checkGradients(t, "layerNorm", func(in []*graph.Node) *graph.Node { return layerNorm(in[0], in[1], in[2], 1e-5) },
		[]*tensors.Tensor{x, scale, offset}, 12)
}
