package pyramidflow

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"

	"github.com/gonomaly/gonomaly/methods/flow"
	"github.com/gonomaly/gonomaly/methods/nn"
)

// couplingKind says which level a pyramid coupling transforms and from which neighbours.
type couplingKind int

const (
	// coarseToFine transforms level s from level s+1 upsampled (Fig. 3c, "up").
	coarseToFine couplingKind = iota
	// fineToCoarse transforms level s+1 from level s, the parameters downsampled (Fig. 3c, "down").
	fineToCoarse
	// bothToMiddle transforms level s+1 from levels s and s+2 resampled to it (Fig. 3d).
	bothToMiddle
)

// coupling is one pyramid coupling: kind and its first level s.
type coupling struct {
	kind  couplingKind
	start int
}

// target is the level the coupling transforms.
func (c coupling) target() int {
	if c.kind == coarseToFine {
		return c.start
	}
	return c.start + 1
}

// couplings returns the order of the authors' code: per stack, the couplings from the even levels
// (a three-level coupling where a level above and below exist, else a fine-to-coarse one), then a
// coarse-to-fine coupling into level 0 and the couplings from the odd levels; each stack transforms
// every level exactly once.
func (c Config) couplings() []coupling {
	var out []coupling
	for range c.Stacks {
		for first := 0; first < 2; first++ {
			if first == 1 {
				out = append(out, coupling{coarseToFine, 0})
			}
			for s := first; s < c.Levels; s += 2 {
				switch {
				case s+2 < c.Levels:
					out = append(out, coupling{bothToMiddle, s})
				case s+1 < c.Levels:
					out = append(out, coupling{fineToCoarse, s})
				}
			}
		}
	}
	return out
}

// upNearest repeats every pixel of x [N, h, w, C] 2 x 2 (nearest-neighbour upsampling by 2).
func upNearest(x *graph.Node) *graph.Node {
	d := x.Shape().Dimensions
	y := graph.Reshape(x, d[0], d[1], 1, d[2], 1, d[3])
	y = graph.BroadcastToDims(y, d[0], d[1], 2, d[2], 2, d[3])
	return graph.Reshape(y, d[0], 2*d[1], 2*d[2], d[3])
}

// downNearest keeps the top-left pixel of every 2 x 2 block of x [N, 2h, 2w, C] (torch's nearest
// downsampling by 2), as a masked sum so that its gradient needs no Pad.
func downNearest(x *graph.Node) *graph.Node {
	d := x.Shape().Dimensions
	y := graph.Reshape(x, d[0], d[1]/2, 2, d[2]/2, 2, d[3])
	mask := make([]float32, 4)
	mask[0] = 1
	m := graph.Const(x.Graph(), tensors.FromFlatDataAndDimensions(mask, 1, 1, 2, 1, 2, 1))
	if m.DType() != x.DType() {
		m = graph.ConvertDType(m, x.DType())
	}
	return graph.ReduceSum(graph.Mul(y, m), 2, 4)
}

// conv is a k x k convolution without bias, "same" zero padding, variable "weight" in ctx: torch's
// uniform initialisation, or zeros (the coupling's last layer, so that every coupling starts as the
// identity, as the authors' code).
func conv(ctx *context.Context, x *graph.Node, out, k int, zero bool) *graph.Node {
	in := x.Shape().Dimensions[3]
	bound := 1 / math.Sqrt(float64(in*k*k))
	init := initializers.RandomUniformFn(ctx, -bound, bound)
	if zero {
		init = initializers.Zero
	}
	w := ctx.Checked(false).WithInitializer(init).VariableWithShape(nn.VarWeight, shapes.Make(x.DType(), k, k, in, out))
	return nn.Conv2D(x, w.ValueGraph(x.Graph()), nn.ConvConfig{Padding: k / 2})
}

// volumeNorm subtracts the mean log-scale (paper Sec. 3.3, volume normalisation): over batch and
// channels (CVN) or batch and positions (SVN) in training, where it also updates a running mean
// (momentum 0.1, variable "running_mean"); the running mean in inference, so that the map is fixed.
func (c Config) volumeNorm(ctx *context.Context, s *graph.Node) *graph.Node {
	d := s.Shape().Dimensions
	axes, keep := []int{0, 3}, shapes.Make(s.DType(), 1, d[1], d[2], 1)
	if c.VolumeNorm == SpatialVolumeNorm {
		axes, keep = []int{0, 1, 2}, shapes.Make(s.DType(), 1, 1, 1, d[3])
	}
	v := ctx.Checked(false).WithInitializer(initializers.Zero).VariableWithShape("running_mean", keep)
	v.SetTrainable(false)
	g := s.Graph()
	if !ctx.IsTraining(g) {
		return graph.Sub(s, v.ValueGraph(g))
	}
	mean := graph.ReduceAndKeep(s, graph.ReduceMean, axes...)
	v.SetValueGraph(graph.Add(graph.MulScalar(v.ValueGraph(g), 0.9), graph.MulScalar(graph.StopGradient(mean), 0.1)))
	return graph.Sub(s, mean)
}

// params returns the coupling's volume-normalised log-scale s and shift t at the target level's size,
// from the levels it is conditioned on (never the target itself, so the coupling inverts exactly):
// subnet Conv(k) - LeakyReLU - Conv(k) with hidden width 2C, the log-scale soft-clamped.
func (c Config) params(ctx *context.Context, cp coupling, levels []*graph.Node) (s, t *graph.Node) {
	var in *graph.Node
	switch cp.kind {
	case coarseToFine:
		in = upNearest(levels[cp.start+1])
	case fineToCoarse:
		in = levels[cp.start]
	case bothToMiddle:
		in = graph.Concatenate([]*graph.Node{downNearest(levels[cp.start]), upNearest(levels[cp.start+2])}, 3)
	}
	ch := levels[cp.target()].Shape().Dimensions[3]
	h := nn.LeakyReLU(conv(ctx.In("conv1"), in, 2*ch, c.Kernel, false), 0.01)
	s = flow.SoftClamp(conv(ctx.In("scale"), h, ch, c.Kernel, true), c.Clamp)
	t = conv(ctx.In("shift"), h, ch, c.Kernel, true)
	if cp.kind == fineToCoarse {
		s, t = downNearest(s), downNearest(t)
	}
	return c.volumeNorm(ctx, s), t
}

// mix1x1 returns the volume-normalised invertible 1x1 convolution of a coupling.
func (c Config) mix1x1(i int) flow.InvConv1x1 {
	return flow.InvConv1x1{Seed: c.Seed*1000003 + uint64(i) + 1, VolumeNorm: true}
}

// rows flattens x [N, h, w, C] to [N·h·w, C] and returns the function putting it back.
func rows(x *graph.Node) (*graph.Node, func(*graph.Node) *graph.Node) {
	d := x.Shape().Dimensions
	return graph.Reshape(x, d[0]*d[1]*d[2], d[3]), func(y *graph.Node) *graph.Node { return graph.Reshape(y, d...) }
}

// couplingScope is the variable scope of coupling i.
func couplingScope(ctx *context.Context, i int) *context.Context {
	return ctx.In("flow").In(fmt.Sprintf("coupling_%02d", i))
}

// Forward maps a pyramid (levels [N, h_k, w_k, C], finest first) to its latent pyramid and returns the
// log-determinant per sample [N]: every coupling transforms its target level as x ⊙ exp(s) + t (s, t
// from the neighbouring levels) and mixes its channels with a volume-normalised 1x1 convolution. With
// volume normalisation the log-determinant of a training batch is zero (paper Sec. 3.3); in inference
// it is the running means' residue.
func (c Config) Forward(ctx *context.Context, levels []*graph.Node) (latent []*graph.Node, logDet *graph.Node) {
	c.checkLevels(levels)
	z := append([]*graph.Node(nil), levels...)
	n := levels[0].Shape().Dimensions[0]
	logDet = graph.Zeros(levels[0].Graph(), shapes.Make(levels[0].DType(), n))
	for i, cp := range c.couplings() {
		sc := couplingScope(ctx, i)
		s, t := c.params(sc, cp, z)
		k := cp.target()
		y := graph.Add(graph.Mul(z[k], graph.Exp(s)), t)
		logDet = graph.Add(logDet, graph.ReduceSum(graph.BroadcastToShape(s, y.Shape()), 1, 2, 3))
		r, back := rows(y)
		r, ld := c.mix1x1(i).Forward(sc.In("mix"), r, nil)
		d := y.Shape().Dimensions
		logDet = graph.Add(logDet, graph.ReduceSum(graph.Reshape(ld, n, d[1]*d[2]), 1))
		z[k] = back(r)
	}
	return z, logDet
}

// Inverse maps a latent pyramid back to the input pyramid (inference mode: the running means).
func (c Config) Inverse(ctx *context.Context, latent []*graph.Node) []*graph.Node {
	c.checkLevels(latent)
	x := append([]*graph.Node(nil), latent...)
	cps := c.couplings()
	for i := len(cps) - 1; i >= 0; i-- {
		cp := cps[i]
		sc := couplingScope(ctx, i)
		k := cp.target()
		r, back := rows(x[k])
		y := back(c.mix1x1(i).Inverse(sc.In("mix"), r, nil))
		s, t := c.params(sc, cp, x)
		x[k] = graph.Mul(graph.Sub(y, t), graph.Exp(graph.Neg(s)))
	}
	return x
}

// checkLevels panics unless levels is a pyramid of Levels levels, each half the size of the previous.
func (c Config) checkLevels(levels []*graph.Node) {
	if len(levels) != c.Levels {
		panic(fmt.Sprintf("pyramidflow: %d levels, configuration has %d", len(levels), c.Levels))
	}
	d0 := levels[0].Shape().Dimensions
	for k, l := range levels {
		d := l.Shape().Dimensions
		if len(d) != 4 || d[0] != d0[0] || d[3] != d0[3] || d[1]<<k != d0[1] || d[2]<<k != d0[2] {
			panic(fmt.Sprintf("pyramidflow: level %d is %v, level 0 %v: want half the size per level", k, d, d0))
		}
	}
}

// pairIndices returns the pairs i < j of a batch of n (numpy's triu_indices(n, 1) order).
func pairIndices(n int) (a, b []int32) {
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			a, b = append(a, int32(i)), append(b, int32(j))
		}
	}
	return a, b
}

// gatherBatch returns the samples idx of x along axis 0.
func gatherBatch(x *graph.Node, idx []int32) *graph.Node {
	return graph.Gather(x, graph.Const(x.Graph(), tensors.FromFlatDataAndDimensions(idx, len(idx), 1)))
}

// dftMatrices returns the n x n cosine and sine matrices of the discrete Fourier transform, row-major.
func dftMatrices(n int) (cos, sin []float32) {
	cos, sin = make([]float32, n*n), make([]float32, n*n)
	for k := 0; k < n; k++ {
		for j := 0; j < n; j++ {
			a := 2 * math.Pi * float64((k*j)%n) / float64(n)
			cos[k*n+j], sin[k*n+j] = float32(math.Cos(a)), float32(math.Sin(a))
		}
	}
	return cos, sin
}

// fourierMagnitude returns |DFT2(m)| of maps m [P, H, W], through matrix products: with C and S the
// cosine and sine matrices, DFT2(m) = (C - iS)·m·(C - iS).
func fourierMagnitude(m *graph.Node) *graph.Node {
	d := m.Shape().Dimensions
	p, h, w := d[0], d[1], d[2]
	g := m.Graph()
	mat := func(v []float32, n int) *graph.Node {
		return graph.ConvertDType(graph.Const(g, tensors.FromFlatDataAndDimensions(v, n, n)), m.DType())
	}
	cw, sw := dftMatrices(w)
	ch, sh := dftMatrices(h)
	cW, sW, cH, sH := mat(cw, w), mat(sw, w), mat(ch, h), mat(sh, h)
	flat := graph.Reshape(m, p*h, w)
	ac, as := nn.MatMul(flat, cW), nn.MatMul(flat, sW) // m·C, m·S (symmetric matrices)
	// Left products on axis H: transpose to [P, W, H] rows, multiply, (the result stays transposed).
	left := func(a, mt *graph.Node) *graph.Node {
		t := graph.Reshape(graph.TransposeAllDims(graph.Reshape(a, p, h, w), 0, 2, 1), p*w, h)
		return nn.MatMul(t, mt)
	}
	re := graph.Sub(left(ac, cH), left(as, sH))
	im := graph.Add(left(as, cH), left(ac, sH))
	return graph.Sqrt(graph.AddScalar(graph.Add(graph.Square(re), graph.Square(im)), 1e-12))
}

// pairLoss is the authors' training loss on a batch's latent pyramid: for every pair of images, the
// squared latent differences per level are composed into one map (the pyramid difference, averaged over
// channels), and the loss is the mean magnitude of its 2-D Fourier transform (their "Fourier loss").
// Volume normalisation is what keeps this from collapsing every latent to a constant.
func (c Config) pairLoss(latent []*graph.Node) *graph.Node {
	a, b := pairIndices(latent[0].Shape().Dimensions[0])
	diffs := make([]*graph.Node, len(latent))
	for k, z := range latent {
		diffs[k] = graph.Square(graph.Sub(gatherBatch(z, a), gatherBatch(z, b)))
	}
	m := graph.ReduceMean(composeGraph(diffs), 3)
	return graph.ReduceAllMean(fourierMagnitude(m))
}

// differenceMap returns the anomaly maps [N, H0, W0] of a latent pyramid against the template (levels
// [1, h_k, w_k, C]): |z - template| per level, composed as a Laplacian pyramid and averaged over
// channels (paper Sec. 3.4, the pyramid difference).
func differenceMap(latent, template []*graph.Node) *graph.Node {
	diffs := make([]*graph.Node, len(latent))
	for k := range latent {
		diffs[k] = graph.Abs(graph.Sub(latent[k], template[k]))
	}
	return graph.ReduceMean(composeGraph(diffs), 3)
}
