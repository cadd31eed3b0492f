package flow

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
	"github.com/gonomaly/gonomaly/methods/nn"
)

// DefaultClamp is CFLOW-AD's clamp of the coupling log-scale (clamp_alpha = 1.9 in the authors' code).
const DefaultClamp = 1.9

// AffineCoupling is the affine coupling layer of RealNVP (Dinh et al. 2017; Glow, Sec. 3.3): the
// input splits into a kept half x_a and a transformed half x_b; a small network of x_a (and of the
// condition, when given: a conditional coupling as in CFLOW-AD, Gudovskiy et al. 2022) outputs
// a log-scale s and a shift t, and
//
//	y_a = x_a,  y_b = x_b ⊙ exp(s) + t,  log|det| = Σ s.
//
// The log-scale is soft-clamped, s = Clamp·tanh(ŝ/Clamp) (CFLOW-AD's clamp, which keeps exp(s) within
// [e^-Clamp, e^Clamp] and is the identity near zero). The network is Dense(Hidden) - ReLU - two Dense
// heads (s and t), products through nn.MatMul.
//
// The kept half is the first ⌊D/2⌋ dimensions, or the last ⌈D/2⌉ when Reverse is set; alternate
// Reverse, or put a Permutation or InvConv1x1 between couplings, so that every dimension gets transformed.
type AffineCoupling struct {
	// Hidden is the width of the subnet's hidden layer; 0 means 2·(kept + condition dimensions), as
	// CFLOW-AD's subnet (Linear(n, 2n) - ReLU - Linear(2n, out)).
	Hidden int
	// Clamp bounds the log-scale softly to (-Clamp, Clamp); 0 means DefaultClamp (1.9); negative means no clamp.
	Clamp float64
	// Reverse keeps the second half and transforms the first; default false.
	Reverse bool
	// ZeroInit starts the two heads at zero, so the coupling starts as the identity (Glow, Sec. 3.3);
	// default false: torch's uniform initialisation, as CFLOW-AD.
	ZeroInit bool
}

// SoftClamp returns clamp·tanh(s/clamp): s near zero, bounded by ±clamp. clamp <= 0 returns s.
func SoftClamp(s *graph.Node, clamp float64) *graph.Node {
	if clamp <= 0 {
		return s
	}
	return graph.MulScalar(graph.Tanh(graph.DivScalar(s, clamp)), clamp)
}

// split returns the column ranges of the kept and the transformed halves of d dimensions.
func (c AffineCoupling) split(d int) (keptFrom, keptTo, moveFrom, moveTo int) {
	h := d / 2
	if c.Reverse {
		return h, d, 0, h
	}
	return 0, h, h, d
}

// scaleShift runs the coupling network on the kept half (and condition) and returns s (clamped) and t.
func (c AffineCoupling) scaleShift(ctx *context.Context, kept, cond *graph.Node, out int) (s, t *graph.Node) {
	in := kept
	if cond != nil {
		in = graph.Concatenate([]*graph.Node{kept, cond}, 1)
	}
	n := in.Shape().Dimensions[1]
	hidden := c.Hidden
	if hidden <= 0 {
		hidden = 2 * n
	}
	h := nn.ReLU(dense(ctx.In("fc1"), in, hidden, false))
	s = dense(ctx.In("scale"), h, out, c.ZeroInit)
	t = dense(ctx.In("shift"), h, out, c.ZeroInit)
	clamp := c.Clamp
	if clamp == 0 {
		clamp = DefaultClamp
	}
	return SoftClamp(s, clamp), t
}

func (c AffineCoupling) check(op string, x *graph.Node, cond *graph.Node) {
	checkVectors(op, x, cond)
	if x.Shape().Dimensions[1] < 2 {
		panic(fmt.Sprintf("%s: need at least 2 dimensions to couple, got %s", op, x.Shape()))
	}
}

// Forward implements Block: y_b = x_b ⊙ exp(s(x_a, cond)) + t(x_a, cond).
func (c AffineCoupling) Forward(ctx *context.Context, x, cond *graph.Node) (y, logDet *graph.Node) {
	c.check("flow.AffineCoupling.Forward", x, cond)
	d := x.Shape().Dimensions[1]
	kf, kt, mf, mt := c.split(d)
	kept, moved := columns(x, kf, kt), columns(x, mf, mt)
	s, t := c.scaleShift(ctx, kept, cond, mt-mf)
	moved = graph.Add(graph.Mul(moved, graph.Exp(s)), t)
	return c.merge(kept, moved), graph.ReduceSum(s, 1)
}

// Inverse implements Block: x_b = (y_b - t) ⊙ exp(-s), s and t computed from the kept half y_a = x_a.
func (c AffineCoupling) Inverse(ctx *context.Context, y, cond *graph.Node) *graph.Node {
	c.check("flow.AffineCoupling.Inverse", y, cond)
	d := y.Shape().Dimensions[1]
	kf, kt, mf, mt := c.split(d)
	kept, moved := columns(y, kf, kt), columns(y, mf, mt)
	s, t := c.scaleShift(ctx, kept, cond, mt-mf)
	moved = graph.Mul(graph.Sub(moved, t), graph.Exp(graph.Neg(s)))
	return c.merge(kept, moved)
}

// merge puts the halves back in their original order.
func (c AffineCoupling) merge(kept, moved *graph.Node) *graph.Node {
	if c.Reverse {
		return graph.Concatenate([]*graph.Node{moved, kept}, 1)
	}
	return graph.Concatenate([]*graph.Node{kept, moved}, 1)
}

// dense is a fully connected layer x [N, in] -> [N, out] with variables "weight" [in, out] and "bias"
// [out] in ctx's scope: torch's uniform ±1/sqrt(in) initialisation (from the context's random state), or
// zeros when zero is set.
func dense(ctx *context.Context, x *graph.Node, out int, zero bool) *graph.Node {
	in := x.Shape().Dimensions[1]
	bound := 1 / math.Sqrt(float64(in))
	init := initializers.RandomUniformFn(ctx, -bound, bound)
	if zero {
		init = initializers.Zero
	}
	vctx := ctx.Checked(false).WithInitializer(init)
	g := x.Graph()
	w := vctx.VariableWithShape(nn.VarWeight, shapes.Make(x.DType(), in, out)).ValueGraph(g)
	b := vctx.VariableWithShape(nn.VarBias, shapes.Make(x.DType(), 1, out)).ValueGraph(g)
	return graph.Add(nn.MatMul(x, w), b)
}
