package flow

import (
	"math"
	"math/rand/v2"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gonomaly/gonomaly/methods/nn"
)

// Permutation is a fixed random permutation of the dimensions, so that successive couplings transform
// different halves (the role of RealNVP's alternating masks, Dinh et al. 2017; Glow's "shuffle" baseline,
// Kingma and Dhariwal 2018, Sec. 3.2). It has no
// variables: the permutation is drawn from Seed, so it is the same in every run and after Load.
// log|det| = 0.
type Permutation struct {
	// Seed chooses the permutation.
	Seed uint64
}

// Perm returns the permutation of d dimensions: output dimension j is input dimension Perm(d)[j].
func (p Permutation) Perm(d int) []int {
	return rand.New(rand.NewPCG(p.Seed, 0x9e3779b97f4a7c15)).Perm(d)
}

// Forward implements Block: y[:, j] = x[:, perm[j]].
func (p Permutation) Forward(_ *context.Context, x, cond *graph.Node) (y, logDet *graph.Node) {
	checkVectors("flow.Permutation.Forward", x, cond)
	n, d := x.Shape().Dimensions[0], x.Shape().Dimensions[1]
	return gatherColumns(x, p.Perm(d)), graph.Zeros(x.Graph(), shapes.Make(x.DType(), n))
}

// Inverse implements Block.
func (p Permutation) Inverse(_ *context.Context, y, cond *graph.Node) *graph.Node {
	checkVectors("flow.Permutation.Inverse", y, cond)
	perm := p.Perm(y.Shape().Dimensions[1])
	inv := make([]int, len(perm))
	for j, i := range perm {
		inv[i] = j
	}
	return gatherColumns(y, inv)
}

// InvConv1x1 is Glow's invertible 1x1 convolution (Kingma and Dhariwal 2018, Sec. 3.2) on channel
// vectors: y = x·W with a learned D x D matrix W, applied to every row (every pixel of an image turned
// into rows). W is kept in the LU parameterisation of the same section, W = P·L·(U + diag(sign·exp(logS))),
// with P a fixed permutation, L unit lower-triangular, U strictly upper-triangular, so that
// log|det W| = Σ logS exactly. W starts as a random rotation drawn from Seed.
//
// Variables in ctx's scope: trainable "lower", "upper" [D, D] (only their strict triangles are used) and
// "log_s" [D]; fixed "perm" [D, D] and "sign" [D].
type InvConv1x1 struct {
	// Seed chooses the initial rotation.
	Seed uint64
	// VolumeNorm centres logS (logS - mean(logS)) wherever it is used, so that |det W| = 1 exactly:
	// PyramidFlow's volume-normalised 1x1 convolution (Lei et al. 2023, Sec. 3.3). Default false (Glow).
	VolumeNorm bool
}

// luVars returns the graph values of P, L, U + diag(s) and logS, creating the variables on first use.
func (c InvConv1x1) luVars(ctx *context.Context, x *graph.Node) (p, l, u, logS *graph.Node) {
	d := x.Shape().Dimensions[1]
	dt := x.DType()
	var init *luInit
	get := func() *luInit {
		if init == nil {
			init = newLUInit(c.Seed, d)
		}
		return init
	}
	g := x.Graph()
	pv := variable(ctx, "perm", func() *tensors.Tensor { return tensorOf(dt, get().p, d, d) })
	pv.SetTrainable(false)
	sv := variable(ctx, "sign", func() *tensors.Tensor { return tensorOf(dt, get().sign, d) })
	sv.SetTrainable(false)
	lv := variable(ctx, "lower", func() *tensors.Tensor { return tensorOf(dt, get().l, d, d) })
	uv := variable(ctx, "upper", func() *tensors.Tensor { return tensorOf(dt, get().u, d, d) })
	lsv := variable(ctx, "log_s", func() *tensors.Tensor { return tensorOf(dt, get().logS, d) })

	lowerMask, upperMask, eye := triangles(d)
	mask := func(m []float64) *graph.Node { return graph.Const(g, tensorOf(dt, m, d, d)) }
	logS = lsv.ValueGraph(g)
	if c.VolumeNorm {
		logS = graph.Sub(logS, graph.ReduceAllMean(logS))
	}
	l = graph.Add(graph.Mul(lv.ValueGraph(g), mask(lowerMask)), mask(eye))
	diag := graph.Mul(mask(eye), graph.ExpandAxes(graph.Mul(sv.ValueGraph(g), graph.Exp(logS)), 0))
	u = graph.Add(graph.Mul(uv.ValueGraph(g), mask(upperMask)), diag)
	return pv.ValueGraph(g), l, u, logS
}

// Forward implements Block: y = x·P·L·U', log|det| = Σ logS for every row.
func (c InvConv1x1) Forward(ctx *context.Context, x, cond *graph.Node) (y, logDet *graph.Node) {
	checkVectors("flow.InvConv1x1.Forward", x, cond)
	p, l, u, logS := c.luVars(ctx, x)
	y = nn.MatMul(nn.MatMul(nn.MatMul(x, p), l), u)
	return y, perSample(graph.ReduceAllSum(logS), x.Shape().Dimensions[0])
}

// Inverse implements Block: x = y·U'⁻¹·L⁻¹·Pᵀ. The triangular inverses are exact finite products:
// for a strictly triangular (nilpotent) M, (I + M)⁻¹ = (I - M)(I + M²)(I + M⁴)… up to the power ≥ D.
func (c InvConv1x1) Inverse(ctx *context.Context, y, cond *graph.Node) *graph.Node {
	checkVectors("flow.InvConv1x1.Inverse", y, cond)
	d := y.Shape().Dimensions[1]
	p, l, u, logS := c.luVars(ctx, y)
	g := y.Graph()
	_, _, eye := triangles(d)
	id := graph.Const(g, tensorOf(y.DType(), eye, d, d))
	// U' = (I + N)·diag(s) with N = U'·diag(1/s) - I strictly upper; U'⁻¹ = diag(1/s)·(I + N)⁻¹.
	sv := ctx.GetVariableByScopeAndName(ctx.Scope(), "sign").ValueGraph(g)
	invS := graph.Mul(sv, graph.Exp(graph.Neg(logS))) // 1/(sign·e^logS) = sign·e^-logS
	nU := graph.Sub(graph.Mul(u, graph.ExpandAxes(invS, 0)), id)
	uInv := graph.Mul(graph.ExpandAxes(invS, 1), unitTriangularInverse(graph.Add(id, nU), id, d))
	lInv := unitTriangularInverse(l, id, d)
	x := graph.MatMul(graph.MatMul(y, uInv), lInv)
	return graph.MatMul(x, graph.Transpose(p, 0, 1))
}

// unitTriangularInverse inverts a = I + M, M strictly triangular (so M^D = 0), as
// (I - M)(I + M²)(I + M⁴)… = (I - M^(2^k)) / (I + M) with 2^k >= D.
func unitTriangularInverse(a, id *graph.Node, d int) *graph.Node {
	m := graph.Sub(a, id)
	inv := graph.Sub(id, m)
	power := m
	for k := 2; k < d; k *= 2 {
		power = graph.MatMul(power, power)
		inv = graph.MatMul(inv, graph.Add(id, power))
	}
	return inv
}

// triangles returns the strictly-lower and strictly-upper masks and the identity, D x D, row-major.
func triangles(d int) (lower, upper, eye []float64) {
	lower, upper, eye = make([]float64, d*d), make([]float64, d*d), make([]float64, d*d)
	for i := 0; i < d; i++ {
		for j := 0; j < d; j++ {
			switch {
			case j < i:
				lower[i*d+j] = 1
			case j > i:
				upper[i*d+j] = 1
			default:
				eye[i*d+j] = 1
			}
		}
	}
	return lower, upper, eye
}

// luInit is the LU parameterisation of a random rotation: Q = P·L·U, U's diagonal split into sign and log|·|.
type luInit struct {
	p, l, u, sign, logS []float64
}

// newLUInit draws a random rotation Q (Gram-Schmidt of a Gaussian matrix) and factors it with partial
// pivoting, PᵀQ = L·U, so Q = P·L·U.
func newLUInit(seed uint64, d int) *luInit {
	rng := rand.New(rand.NewPCG(seed, 0x51ed270b27c4a3f1))
	q := make([]float64, d*d)
	for i := range q {
		q[i] = rng.NormFloat64()
	}
	// Modified Gram-Schmidt on the columns.
	for j := 0; j < d; j++ {
		for k := 0; k < j; k++ {
			dot := 0.0
			for i := 0; i < d; i++ {
				dot += q[i*d+j] * q[i*d+k]
			}
			for i := 0; i < d; i++ {
				q[i*d+j] -= dot * q[i*d+k]
			}
		}
		norm := 0.0
		for i := 0; i < d; i++ {
			norm += q[i*d+j] * q[i*d+j]
		}
		norm = math.Sqrt(norm)
		for i := 0; i < d; i++ {
			q[i*d+j] /= norm
		}
	}
	// LU with partial pivoting on a copy: rows[i] is the row of Q now at position i.
	a := append([]float64(nil), q...)
	rows := make([]int, d)
	for i := range rows {
		rows[i] = i
	}
	for k := 0; k < d; k++ {
		piv := k
		for i := k + 1; i < d; i++ {
			if math.Abs(a[i*d+k]) > math.Abs(a[piv*d+k]) {
				piv = i
			}
		}
		if piv != k {
			for j := 0; j < d; j++ {
				a[k*d+j], a[piv*d+j] = a[piv*d+j], a[k*d+j]
			}
			rows[k], rows[piv] = rows[piv], rows[k]
		}
		for i := k + 1; i < d; i++ {
			a[i*d+k] /= a[k*d+k]
			for j := k + 1; j < d; j++ {
				a[i*d+j] -= a[i*d+k] * a[k*d+j]
			}
		}
	}
	in := &luInit{p: make([]float64, d*d), l: make([]float64, d*d), u: make([]float64, d*d),
		sign: make([]float64, d), logS: make([]float64, d)}
	for i := 0; i < d; i++ {
		// Row i of the pivoted matrix is row rows[i] of Q: Q = P·(LU) with P[rows[i], i] = 1.
		in.p[rows[i]*d+i] = 1
		for j := 0; j < d; j++ {
			switch {
			case j < i:
				in.l[i*d+j] = a[i*d+j]
			case j > i:
				in.u[i*d+j] = a[i*d+j]
			default:
				in.sign[i] = math.Copysign(1, a[i*d+i])
				in.logS[i] = math.Log(math.Abs(a[i*d+i]))
			}
		}
	}
	return in
}
