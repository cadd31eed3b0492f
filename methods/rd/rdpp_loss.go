package rd

import (
	"math"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"

	"github.com/gonomaly/gonomaly/methods/nn"
)

// sinkhornBlur is RD++'s optimal-transport blur (geomloss blur=0.05, p=2): epsilon = blur^2.
const sinkhornBlur = 0.05

// sinkhornDivergence is the debiased entropic optimal-transport cost between two point clouds with
// uniform weights, x and y of shape [B, D], cost |x-y|^2/2, epsilon = blur^2 (Feydy et al., AISTATS
// 2019; the term RD++ computes with geomloss). It runs log-domain Sinkhorn updates with epsilon
// annealed geometrically from the largest cost down to blur^2 over iters steps (geomloss anneals from a
// fixed diameter with ratio 0.95, hundreds of steps; a graph on the pure-Go backend cannot loop, so the
// schedule is compressed), then differentiates only the last update with the potentials held fixed, as
// geomloss does.
func sinkhornDivergence(x, y *Node, iters int) *Node {
	b := x.Shape().Dimensions[0]
	logW := -math.Log(float64(b))
	cxy := halfSquaredDistances(x, y)
	cxx := halfSquaredDistances(x, x)
	cyy := halfSquaredDistances(y, y)
	target := sinkhornBlur * sinkhornBlur
	start := StopGradient(MaxScalar(ReduceAllMax(cxy), target))

	// softmin_eps over axis 1 of (potential_j - C_ij): -eps * logsumexp((p_j - C_ij)/eps + log w).
	softmin := func(eps, c, p *Node) *Node {
		z := AddScalar(Div(Sub(InsertAxes(p, 0), c), eps), logW)
		m := StopGradient(ReduceAndKeep(z, ReduceMax, 1))
		lse := Add(Reshape(m, b), Log(ReduceSum(Exp(Sub(z, m)), 1)))
		return Neg(Mul(eps, lse))
	}
	g := x.Graph()
	zeros := Zeros(g, shapes.Make(x.DType(), b))
	f, gg, px, py := zeros, zeros, zeros, zeros
	cyx := Transpose(cxy, 0, 1)
	for i := 0; i < iters; i++ {
		// eps_i = start * (target/start)^(i/(iters-1)), from the largest cost down to blur^2.
		frac := 1.0
		if iters > 1 {
			frac = float64(i) / float64(iters-1)
		}
		eps := Mul(start, Pow(Div(Scalar(g, x.DType(), target), start), Scalar(g, x.DType(), frac)))
		f, gg = MulScalar(Add(f, softmin(eps, cxy, gg)), 0.5), MulScalar(Add(gg, softmin(eps, cyx, f)), 0.5)
		px = MulScalar(Add(px, softmin(eps, cxx, px)), 0.5)
		py = MulScalar(Add(py, softmin(eps, cyy, py)), 0.5)
	}
	f, gg, px, py = StopGradient(f), StopGradient(gg), StopGradient(px), StopGradient(py)
	eps := Scalar(g, x.DType(), target)
	// Last extrapolation, differentiable with respect to the points through the costs.
	fx := softmin(eps, cxy, gg)
	gy := softmin(eps, cyx, f)
	pxx := softmin(eps, cxx, px)
	pyy := softmin(eps, cyy, py)
	return Add(ReduceAllMean(Sub(fx, pxx)), ReduceAllMean(Sub(gy, pyy)))
}

// halfSquaredDistances returns C_ij = |x_i - y_j|^2 / 2 for x [B, D], y [B, D].
func halfSquaredDistances(x, y *Node) *Node {
	xx := ReduceSum(Square(x), 1)
	yy := ReduceSum(Square(y), 1)
	xy := nn.MatMul(x, Transpose(y, 0, 1))
	d := Sub(Add(InsertAxes(xx, 1), InsertAxes(yy, 0)), MulScalar(xy, 2))
	return MulScalar(MaxScalar(d, 0), 0.5)
}

// projectionLoss is RD++'s multi-task projection loss (official code's weighting):
// (L_ssot + 0.01*L_reconstruct + 0.1*L_contrast) / 1.11, where
//   - L_ssot: Sinkhorn divergence between the batch's softmax-flattened projected normal features and
//     the same batch shuffled (perm);
//   - L_reconstruct: 1 - cosine (per position, along channels) between projected noisy and projected
//     normal features;
//   - L_contrast: CosineEmbeddingLoss with target 1, i.e. 1 - cosine between each sample's flattened
//     noisy teacher features and projected normal features.
func projectionLoss(noisy, projNoisy, projNormal []*Node, perm *Node, iters int) *Node {
	var ssot, rec, con *Node
	add := func(acc, v *Node) *Node {
		if acc == nil {
			return v
		}
		return Add(acc, v)
	}
	for s := range projNormal {
		n := projNormal[s].Shape().Dimensions[0]
		flat := Softmax(Reshape(projNormal[s], n, -1), 1)
		shuffled := Gather(flat, Reshape(perm, n, 1))
		ssot = add(ssot, sinkhornDivergence(flat, shuffled, iters))
		rec = add(rec, ReduceAllMean(cosineDistance(projNoisy[s], projNormal[s], 3)))
		con = add(con, ReduceAllMean(cosineDistance(Reshape(noisy[s], n, -1), Reshape(projNormal[s], n, -1), 1)))
	}
	return DivScalar(Add(ssot, Add(MulScalar(rec, 0.01), MulScalar(con, 0.1))), 1.11)
}
