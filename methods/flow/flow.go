package flow

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// Block is one invertible map of vectors with an exact log-determinant.
//
// Forward maps x [N, D] to y [N, D] and returns log|det ∂y/∂x| per sample [N]; cond [N, C] is the
// condition of conditional blocks (nil when there is none; blocks that take no condition ignore it).
// Inverse maps y back to x with the same variables and condition. Both build graph code and panic on
// shapes they cannot take (graph-building convention); variables live in ctx's current scope.
type Block interface {
	Forward(ctx *context.Context, x, cond *graph.Node) (y, logDet *graph.Node)
	Inverse(ctx *context.Context, y, cond *graph.Node) *graph.Node
}

// Flow is a chain of blocks: Forward applies them in order, Inverse in reverse order. Block i keeps its
// variables in the sub-scope "block_<i>" of the context it is given.
//
// See also New, LogLikelihood.
type Flow struct {
	Blocks []Block
}

// New returns the flow of the given blocks, applied in order.
func New(blocks ...Block) *Flow { return &Flow{Blocks: blocks} }

// scope returns the context of block i.
func scope(ctx *context.Context, i int) *context.Context { return ctx.In(fmt.Sprintf("block_%02d", i)) }

// Forward maps x [N, D] (with condition cond [N, C] or nil) to z [N, D] and returns the summed
// log|det ∂z/∂x| [N] of all blocks.
func (f *Flow) Forward(ctx *context.Context, x, cond *graph.Node) (z, logDet *graph.Node) {
	checkVectors("flow.Flow.Forward", x, cond)
	return f.ForwardRange(ctx, x, cond, 0, len(f.Blocks))
}

// ForwardRange applies blocks [from, to) of the flow, each in its own scope, to x: the intermediate
// variable after block to-1 when from is 0, or the rest of the flow from an intermediate variable (to
// draw a flow step by step: samples pushed through the first blocks, and the density of an intermediate
// variable through the remaining ones). It returns the summed log-determinant of those blocks [N].
func (f *Flow) ForwardRange(ctx *context.Context, x, cond *graph.Node, from, to int) (z, logDet *graph.Node) {
	checkVectors("flow.Flow.ForwardRange", x, cond)
	if from < 0 || to > len(f.Blocks) || from > to {
		panic(fmt.Sprintf("flow.Flow.ForwardRange: blocks [%d, %d) of a flow of %d", from, to, len(f.Blocks)))
	}
	z = x
	logDet = graph.Zeros(x.Graph(), shapes.Make(x.DType(), x.Shape().Dimensions[0]))
	for i := from; i < to; i++ {
		var ld *graph.Node
		z, ld = f.Blocks[i].Forward(scope(ctx, i), z, cond)
		logDet = graph.Add(logDet, ld)
	}
	return z, logDet
}

// Inverse maps z [N, D] back to x, applying each block's inverse in reverse order.
func (f *Flow) Inverse(ctx *context.Context, z, cond *graph.Node) *graph.Node {
	checkVectors("flow.Flow.Inverse", z, cond)
	x := z
	for i := len(f.Blocks) - 1; i >= 0; i-- {
		x = f.Blocks[i].Inverse(scope(ctx, i), x, cond)
	}
	return x
}

// log2Pi is log(2π).
var log2Pi = math.Log(2 * math.Pi)

// LogNormal returns the log-density of the standard normal, elementwise: -(z² + log 2π)/2, same shape as z.
func LogNormal(z *graph.Node) *graph.Node {
	return graph.MulScalar(graph.AddScalar(graph.Square(z), log2Pi), -0.5)
}

// LogLikelihood returns the change-of-variables log-likelihood of each sample, log p(x) =
// Σ_d log N(z_d; 0, 1) + log|det ∂z/∂x| [N], for a flow's output z [N, D] and log-determinant [N]
// (the change-of-variables formula, Dinh et al. 2017).
//
// See also LogLikelihoodPerDim, NLL.
func LogLikelihood(z, logDet *graph.Node) *graph.Node {
	return graph.Add(graph.ReduceSum(LogNormal(z), -1), logDet)
}

// LogLikelihoodPerDim is LogLikelihood divided by the dimension D: CFLOW-AD's per-dimension
// log-likelihood (Gudovskiy et al. 2022: the log-likelihood divided by D), comparable across feature taps of
// different widths.
func LogLikelihoodPerDim(z, logDet *graph.Node) *graph.Node {
	return graph.DivScalar(LogLikelihood(z, logDet), float64(z.Shape().Dimensions[z.Rank()-1]))
}

// NLL returns the mean negative log-likelihood per dimension of a batch (a scalar), the usual
// maximum-likelihood training loss (in nats per dimension).
func NLL(z, logDet *graph.Node) *graph.Node {
	return graph.Neg(graph.ReduceAllMean(LogLikelihoodPerDim(z, logDet)))
}

// checkVectors panics unless x is [N, D] and cond is nil or [N, C] of x's dtype.
func checkVectors(op string, x, cond *graph.Node) {
	if x.Rank() != 2 || !x.DType().IsFloat() {
		panic(fmt.Sprintf("%s: want float vectors [N, D], got %s", op, x.Shape()))
	}
	if cond != nil && (cond.Rank() != 2 || cond.Shape().Dimensions[0] != x.Shape().Dimensions[0] || cond.DType() != x.DType()) {
		panic(fmt.Sprintf("%s: want condition [N, C] matching x %s, got %s", op, x.Shape(), cond.Shape()))
	}
}

// columns returns x[:, from:to] of x [N, D], with a gradient on every backend (Gather rather than
// Slice, whose gradient needs Pad).
func columns(x *graph.Node, from, to int) *graph.Node {
	d := x.Shape().Dimensions[1]
	if from == 0 && to == d {
		return x
	}
	idx := make([]int, to-from)
	for i := range idx {
		idx[i] = from + i
	}
	return gatherColumns(x, idx)
}

// gatherColumns returns the columns idx of x [N, D], in that order: [N, len(idx)].
func gatherColumns(x *graph.Node, idx []int) *graph.Node {
	flat := make([]int32, len(idx))
	for i, v := range idx {
		flat[i] = int32(v)
	}
	indices := graph.Const(x.Graph(), tensors.FromFlatDataAndDimensions(flat, len(idx), 1))
	return graph.Transpose(graph.Gather(graph.Transpose(x, 0, 1), indices), 0, 1)
}

// perSample broadcasts a scalar log-determinant to [N].
func perSample(logDet *graph.Node, n int) *graph.Node {
	return graph.BroadcastToDims(logDet, n)
}

// variable returns the variable name in ctx's current scope, creating it with value() when it does not
// exist yet (whatever ctx's reuse mode).
func variable(ctx *context.Context, name string, value func() *tensors.Tensor) *context.Variable {
	if v := ctx.GetVariableByScopeAndName(ctx.Scope(), name); v != nil {
		return v
	}
	return ctx.Checked(false).VariableWithValue(name, value())
}

// tensorOf returns a tensor of the given dtype (Float32 or Float64) and dimensions from float64 data.
func tensorOf(dtype dtypes.DType, data []float64, dims ...int) *tensors.Tensor {
	if dtype == dtypes.Float64 {
		return tensors.FromFlatDataAndDimensions(append([]float64(nil), data...), dims...)
	}
	if dtype != dtypes.Float32 {
		panic(fmt.Sprintf("flow: unsupported dtype %s (want Float32 or Float64)", dtype))
	}
	f := make([]float32, len(data))
	for i, v := range data {
		f[i] = float32(v)
	}
	return tensors.FromFlatDataAndDimensions(f, dims...)
}
