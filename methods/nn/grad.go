package nn

import (
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// withCustomGradient returns forward(inputs), whose gradient with respect to inputs[i] is
// backward(inputs, output, v)[i], v being the gradient arriving at the output (nil: zero gradient).
//
// GoMLX only offers custom gradients for single-input identities (graph.IdentityWithCustomGradient), and
// its own VJPs for DotGeneral materialise the outer product [M, K, N], which the pure-Go backend
// computes element by element; Slice, Concatenate and ReduceWindow have no usable VJP there. So:
//   - each input passes through a custom-gradient identity ("hook"), which forward consumes;
//   - forward's result is wrapped in StopGradient, so autodiff never builds VJPs inside it (some would
//     need ops the backend lacks, e.g. Pad), and forward may use any op;
//   - a term that is exactly zero (min(|h0|, 0) of one element of each hook) is added to the output,
//     so autodiff still walks from the output back to the hooks;
//   - a custom-gradient identity on the output records v; autodiff reaches it before the hooks (nodes
//     are visited in reverse creation order), and the hooks hand back backward's results.
//
// The nodes autodiff builds along the zero link are never used, so backends never execute them.
// The cost is one Identity per input (a copy only when the input is used elsewhere too) and one
// addition over the output.
func withCustomGradient(inputs []*graph.Node, forward func(in []*graph.Node) *graph.Node,
	backward func(in []*graph.Node, out, v *graph.Node) []*graph.Node) *graph.Node {
	g := inputs[0].Graph()
	var v, vUsed *graph.Node // v: gradient at the output in the current graph.Gradient() call.
	var grads []*graph.Node
	var hooks []*graph.Node
	var y *graph.Node
	gradFor := func(i int) *graph.Node {
		if vUsed != v || grads == nil {
			grads = backward(hooks, y, v)
			vUsed = v
		}
		return grads[i]
	}
	hooks = make([]*graph.Node, len(inputs))
	var link *graph.Node
	first := graph.Const(g, tensors.FromFlatDataAndDimensions([]int32{0}, 1))
	for i, x := range inputs {
		if !x.DType().IsFloat() {
			hooks[i] = graph.StopGradient(x)
			continue
		}
		hooks[i] = graph.IdentityWithCustomGradient(x, func(x, _ *graph.Node) *graph.Node {
			if grad := gradFor(i); grad != nil {
				return grad
			}
			return graph.ZerosLike(x)
		})
		elem := graph.Gather(graph.Reshape(hooks[i], x.Shape().Size()), first)
		zero := graph.Min(graph.Abs(elem), graph.ScalarZero(g, x.DType()))
		if link == nil {
			link = zero
		} else {
			link = graph.Add(link, zero)
		}
	}
	y = graph.StopGradient(forward(hooks))
	out := y
	if link != nil {
		out = graph.Add(y, graph.ConvertDType(link, y.DType()))
	}
	return graph.IdentityWithCustomGradient(out, func(_, grad *graph.Node) *graph.Node {
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
