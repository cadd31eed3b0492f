package flow

import (
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
)

// ActNorm is Glow's activation normalisation (Kingma and Dhariwal 2018, Sec. 3.1): a per-dimension
// affine map y = (x + bias) ⊙ exp(logScale), log|det| = Σ logScale. Its data-dependent initialisation
// sets bias and logScale on the first training batch (the first Forward in a graph marked training,
// ctx.SetTraining) so that the batch's output has zero mean and unit variance per dimension; after that
// both train as ordinary parameters. Until initialised it is the identity.
//
// Variables in ctx's scope: trainable "bias" and "log_scale" [D], fixed "initialized" (0 or 1).
type ActNorm struct {
	// Epsilon is added to each dimension's batch standard deviation before inverting it, so that a
	// constant dimension (a dead ReLU channel of an encoder) does not get an enormous scale; 0 means
	// DefaultActNormEpsilon (1e-6, Glow's).
	Epsilon float64
}

// DefaultActNormEpsilon is ActNorm's default Epsilon.
const DefaultActNormEpsilon = 1e-6

// params returns the graph values of bias and logScale [1, D], initialising them from x when training.
func (a ActNorm) params(ctx *context.Context, x *graph.Node) (bias, logScale *graph.Node) {
	g := x.Graph()
	d := x.Shape().Dimensions[1]
	vctx := ctx.Checked(false).WithInitializer(initializers.Zero)
	bv := vctx.VariableWithShape("bias", shapes.Make(x.DType(), 1, d))
	sv := vctx.VariableWithShape("log_scale", shapes.Make(x.DType(), 1, d))
	done := vctx.VariableWithShape("initialized", shapes.Make(x.DType()))
	done.SetTrainable(false)
	bias, logScale = bv.ValueGraph(g), sv.ValueGraph(g)
	if !ctx.IsTraining(g) {
		return bias, logScale
	}
	// Data-dependent initialisation: blend by the flag (1: keep the variables; 0: use batch statistics).
	flag := done.ValueGraph(g)
	mean := graph.StopGradient(graph.ReduceAndKeep(x, graph.ReduceMean, 0))
	centred := graph.Sub(x, mean)
	std := graph.Sqrt(graph.ReduceAndKeep(graph.Square(centred), graph.ReduceMean, 0))
	eps := a.Epsilon
	if eps <= 0 {
		eps = DefaultActNormEpsilon
	}
	initLogScale := graph.StopGradient(graph.Neg(graph.Log(graph.AddScalar(std, eps))))
	keep := func(v, init *graph.Node) *graph.Node {
		return graph.Add(graph.Mul(v, flag), graph.Mul(init, graph.OneMinus(flag)))
	}
	bias = keep(bias, graph.Neg(mean))
	logScale = keep(logScale, initLogScale)
	bv.SetValueGraph(bias)
	sv.SetValueGraph(logScale)
	done.SetValueGraph(graph.OnesLike(flag))
	return bias, logScale
}

// Forward implements Block: y = (x + bias) ⊙ exp(logScale).
func (a ActNorm) Forward(ctx *context.Context, x, cond *graph.Node) (y, logDet *graph.Node) {
	checkVectors("flow.ActNorm.Forward", x, cond)
	bias, logScale := a.params(ctx, x)
	y = graph.Mul(graph.Add(x, bias), graph.Exp(logScale))
	return y, perSample(graph.ReduceAllSum(logScale), x.Shape().Dimensions[0])
}

// Inverse implements Block: x = y ⊙ exp(-logScale) - bias (never initialises).
func (a ActNorm) Inverse(ctx *context.Context, y, cond *graph.Node) *graph.Node {
	checkVectors("flow.ActNorm.Inverse", y, cond)
	g := y.Graph()
	d := y.Shape().Dimensions[1]
	vctx := ctx.Checked(false).WithInitializer(initializers.Zero)
	bias := vctx.VariableWithShape("bias", shapes.Make(y.DType(), 1, d)).ValueGraph(g)
	logScale := vctx.VariableWithShape("log_scale", shapes.Make(y.DType(), 1, d)).ValueGraph(g)
	return graph.Sub(graph.Mul(y, graph.Exp(graph.Neg(logScale))), bias)
}
