package nn

import (
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// withCustomGradient returns forward(inputs), whose gradient with respect to inputs[i] is
// backward(inputs, output, v)[i], v being the gradient arriving at the output (nil entries: no gradient).
//
// GoMLX only offers custom gradients for single-input identities (graph.IdentityWithCustomGradient), and
// its own VJPs for graph.DotGeneral materialise the outer product [M, K, N], which the pure-Go backend
// computes element by element. So this helper:
//   - computes the forward on graph.StopGradient'ed inputs (autodiff never looks inside it);
//   - hangs on each input a custom-gradient identity ("hook") joined to the output by a term that is
//     exactly zero (min(|x0|, 0) of one element), so autodiff walks to the hooks after the output;
//   - records v with a custom-gradient identity on the output, which autodiff reaches first (nodes are
//     visited in reverse creation order), and the hooks hand back backward's results.
//
// The nodes autodiff builds for the zero link are never used, so backends never execute them.
func withCustomGradient(inputs []*graph.Node, forward func(in []*graph.Node) *graph.Node,
	backward func(in []*graph.Node, out, v *graph.Node) []*graph.Node) *graph.Node {
	g := inputs[0].Graph()
	stopped := make([]*graph.Node, len(inputs))
	for i, x := range inputs {
		stopped[i] = graph.StopGradient(x)
	}
	// StopGradient on the output too, so autodiff builds no VJP nodes inside forward (some would need
	// ops the backend lacks, e.g. Slice's Pad).
	y := graph.StopGradient(forward(stopped))

	var v, vUsed *graph.Node // v: gradient at the output in the current graph.Gradient() call.
	var grads []*graph.Node
	gradFor := func(i int) *graph.Node {
		if vUsed != v || grads == nil {
			grads = backward(stopped, y, v)
			vUsed = v
		}
		return grads[i]
	}
	var link *graph.Node
	first := graph.Const(g, tensors.FromFlatDataAndDimensions([]int32{0}, 1))
	for i, x := range inputs {
		if !x.DType().IsFloat() {
			continue
		}
		hook := graph.IdentityWithCustomGradient(x, func(x, _ *graph.Node) *graph.Node {
			if grad := gradFor(i); grad != nil {
				return grad
			}
			return graph.ZerosLike(x)
		})
		elem := graph.Gather(graph.Reshape(hook, x.Shape().Size()), first)
		zero := graph.Min(graph.Abs(elem), graph.ScalarZero(g, x.DType()))
		if link == nil {
			link = zero
		} else {
			link = graph.Add(link, zero)
		}
	}
	if link != nil {
		y = graph.Add(y, graph.ConvertDType(link, y.DType()))
	}
	return graph.IdentityWithCustomGradient(y, func(_, grad *graph.Node) *graph.Node {
		v = grad
		return grad
	})
}

// MatMul multiplies lhs [..., K] by rhs [K, N] into [..., N], with a gradient made of two
// matrix products (GoMLX's own graph.DotGeneral gradient builds the [M, K, N] outer product, which is very
// slow on the pure-Go backend). Use it instead of graph.MatMul/Einsum in anything that trains there.
func MatMul(lhs, rhs *graph.Node) *graph.Node {
	if lhs.Rank() < 1 || rhs.Rank() != 2 || lhs.Shape().Dimensions[lhs.Rank()-1] != rhs.Shape().Dimensions[0] {
		panicf("nn.MatMul: want lhs [..., K] and rhs [K, N], got %s and %s", lhs.Shape(), rhs.Shape())
	}
	k, n := rhs.Shape().Dimensions[0], rhs.Shape().Dimensions[1]
	outDims := append(lhs.Shape().Clone().Dimensions[:lhs.Rank()-1], n)
	m := lhs.Shape().Size() / max(k, 1)
	a := graph.Reshape(lhs, 1, m, k)
	b := graph.Reshape(rhs, 1, k, n)
	return graph.Reshape(batchMatMul(a, b), outDims...)
}

// batchMatMul multiplies a [G, M, K] by b [G, K, N] into [G, M, N], with an efficient gradient.
func batchMatMul(a, b *graph.Node) *graph.Node {
	return withCustomGradient([]*graph.Node{a, b},
		func(in []*graph.Node) *graph.Node {
			return graph.DotGeneral(in[0], []int{2}, []int{0}, in[1], []int{1}, []int{0})
		},
		func(in []*graph.Node, _, v *graph.Node) []*graph.Node {
			// dA = v · bᵀ: [G,M,N] x [G,K,N] -> [G,M,K];  dB = aᵀ · v: [G,M,K] x [G,M,N] -> [G,K,N].
			da := graph.DotGeneral(v, []int{2}, []int{0}, in[1], []int{2}, []int{0})
			db := graph.DotGeneral(in[0], []int{1}, []int{0}, v, []int{1}, []int{0})
			return []*graph.Node{da, db}
		})
}
