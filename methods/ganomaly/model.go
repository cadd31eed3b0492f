package ganomaly

import (
	"fmt"
	"math/rand/v2"
	"strings"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gonomaly/gonomaly/methods/nn"
)

// Scopes of the two networks' variables.
const (
	scopeG = "/netg"
	scopeD = "/netd"
)

// layers builds the DCGAN layers of both networks in a GoMLX context. Variables are created on first
// use with DCGAN's initialisation (the authors' weights_init: convolutions N(0, 0.02), batch-norm scales
// N(1, 0.02), offsets 0) from a seeded generator, and reused afterwards.
type layers struct {
	ctx      *mlctx.Context
	rng      *rand.Rand
	training bool
	// strict refuses to create variables: a loaded checkpoint must hold every one.
	strict bool
}

const bnEps, bnMomentum = 1e-5, 0.1

// initValue is the DCGAN initial value of a variable called name with dims.
func initValue(rng *rand.Rand, name string, dims []int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	data := make([]float32, n)
	switch name {
	case "weight":
		for i := range data {
			data[i] = float32(rng.NormFloat64() * 0.02)
		}
	case "scale":
		for i := range data {
			data[i] = float32(1 + rng.NormFloat64()*0.02)
		}
	case "running_var":
		for i := range data {
			data[i] = 1
		}
	}
	return tensors.FromFlatDataAndDimensions(data, dims...)
}

// conv is a bias-free 4x4 convolution (the DCGAN building block).
func (l *layers) conv(ctx *mlctx.Context, x *Node, cout, stride, pad int) *Node {
	cin := x.Shape().Dimensions[3]
	w := l.variableIn(ctx, x, "weight", true, 4, 4, cin, cout)
	return nn.Conv2D(x, w, nn.ConvConfig{Stride: stride, Padding: pad})
}

// deconv is a bias-free 4x4 transposed convolution.
func (l *layers) deconv(ctx *mlctx.Context, x *Node, cout, stride, pad int) *Node {
	cin := x.Shape().Dimensions[3]
	w := l.variableIn(ctx, x, "weight", true, 4, 4, cin, cout)
	return nn.ConvTranspose2D(x, w, nn.ConvTransposeConfig{Stride: stride, Padding: pad})
}

// variableIn is variable with the node taken in x's graph.
func (l *layers) variableIn(ctx *mlctx.Context, x *Node, name string, trainable bool, dims ...int) *Node {
	v := ctx.GetVariableByScopeAndName(ctx.Scope(), name)
	if v == nil {
		if l.strict {
			panic(fmt.Sprintf("checkpoint has no tensor %s/%s", ctx.Scope(), name))
		}
		v = ctx.VariableWithValue(name, initValue(l.rng, name, dims))
	}
	v.SetTrainable(trainable)
	return v.ValueGraph(x.Graph())
}

// batchNorm is torch's BatchNorm2d: batch statistics (and running-average updates) while training,
// running statistics otherwise.
func (l *layers) batchNorm(ctx *mlctx.Context, x *Node) *Node {
	c := x.Shape().Dimensions[3]
	scale := l.variableIn(ctx, x, "scale", true, c)
	offset := l.variableIn(ctx, x, "offset", true, c)
	mean := l.variableIn(ctx, x, "running_mean", false, c)
	variance := l.variableIn(ctx, x, "running_var", false, c)
	if !l.training {
		return nn.BatchNormInference(x, scale, offset, mean, variance, bnEps)
	}
	y, bm, bv := nn.BatchNormTraining(x, scale, offset, bnEps)
	count := float64(x.Shape().Size() / c)
	unbiased := MulScalar(StopGradient(bv), count/max(count-1, 1))
	mv := ctx.GetVariableByScopeAndName(ctx.Scope(), "running_mean")
	vv := ctx.GetVariableByScopeAndName(ctx.Scope(), "running_var")
	mv.SetValueGraph(Add(MulScalar(mean, 1-bnMomentum), MulScalar(StopGradient(bm), bnMomentum)))
	vv.SetValueGraph(Add(MulScalar(variance, 1-bnMomentum), MulScalar(unbiased, bnMomentum)))
	return y
}

// encoder is the DCGAN encoder of the authors' code: a 4x4 stride-2 convolution with leaky ReLU (0.2),
// then stride-2 convolution, batch norm and leaky ReLU until the map is 4x4, doubling the channels. It
// returns that 4x4 feature map; encode adds the final 4x4 valid convolution to out channels (a 1x1 map).
func (l *layers) encoder(ctx *mlctx.Context, x *Node, width int) *Node {
	x = nn.LeakyReLU(l.conv(ctx.In("initial"), x, width, 2, 1), 0.2)
	size, c := x.Shape().Dimensions[1], width
	for i := 0; size > 4; i++ {
		s := ctx.In(fmt.Sprintf("pyramid%d", i))
		x = l.conv(s.In("conv"), x, 2*c, 2, 1)
		x = nn.LeakyReLU(l.batchNorm(s.In("bn"), x), 0.2)
		c, size = 2*c, size/2
	}
	return x
}

// encode is encoder followed by the final convolution: [N, 1, 1, out] flattened to [N, out].
func (l *layers) encode(ctx *mlctx.Context, x *Node, width, out int) *Node {
	f := l.encoder(ctx, x, width)
	z := l.conv(ctx.In("final"), f, out, 1, 0)
	return Reshape(z, z.Shape().Dimensions[0], out)
}

// decoder is the DCGAN generator: a 4x4 transposed convolution from the latent code to a 4x4 map,
// then stride-2 transposed convolutions with batch norm and ReLU halving the channels, and a last one
// to the image's channels with tanh.
func (l *layers) decoder(ctx *mlctx.Context, z *Node, size, width, channels int) *Node {
	n := z.Shape().Dimensions[0]
	c := width / 2
	for t := 4; t != size; t *= 2 {
		c *= 2
	}
	x := Reshape(z, n, 1, 1, z.Shape().Dimensions[1])
	x = nn.ReLU(l.batchNorm(ctx.In("initial").In("bn"), l.deconv(ctx.In("initial").In("conv"), x, c, 1, 0)))
	for i, s := 0, 4; s < size/2; i, s = i+1, s*2 {
		p := ctx.In(fmt.Sprintf("pyramid%d", i))
		x = nn.ReLU(l.batchNorm(p.In("bn"), l.deconv(p.In("conv"), x, c/2, 2, 1)))
		c /= 2
	}
	return Tanh(l.deconv(ctx.In("final"), x, channels, 2, 1))
}

// generator is G: x -> (x̂, z, ẑ).
func (l *layers) generator(x *Node, cfg Config) (fake, z, zHat *Node) {
	g := l.ctx.InAbsPath(scopeG)
	z = l.encode(g.In("encoder1"), x, cfg.width(), cfg.Latent)
	fake = l.decoder(g.In("decoder"), z, cfg.ImageSize, cfg.width(), x.Shape().Dimensions[3])
	zHat = l.encode(g.In("encoder2"), fake, cfg.width(), cfg.Latent)
	return fake, z, zHat
}

// discriminator is D: x -> (logit [N], features [N, 4, 4, C]). The authors' D ends in a sigmoid; the
// logit is kept here so that the cross entropy is computed stably.
func (l *layers) discriminator(x *Node, cfg Config) (logit, features *Node) {
	d := l.ctx.InAbsPath(scopeD)
	features = l.encoder(d.In("features"), x, cfg.width())
	out := l.conv(d.In("classifier"), features, 1, 1, 0)
	return Reshape(out, out.Shape().Dimensions[0]), features
}

// softplus is log(1 + exp(x)), computed without overflow.
func softplus(x *Node) *Node { return Add(MaxScalar(x, 0), Log1p(Exp(Neg(Abs(x))))) }

// bceWithLogits is torch's BCELoss(sigmoid(logit), target), mean over the batch, in the stable form
// target*softplus(-logit) + (1-target)*softplus(logit).
func bceWithLogits(logit *Node, target float64) *Node {
	return ReduceAllMean(Add(MulScalar(softplus(Neg(logit)), target), MulScalar(softplus(logit), 1-target)))
}

// losses are the terms of one training step, and what they are computed from (for the tests).
type losses struct {
	d, gAdv, gCon, gLat, g *Node

	fake, z, zHat                  *Node
	realLogit, fakeLogit, detLogit *Node
	realFeat, fakeFeat             *Node
}

// lossTerms computes GANomaly's losses (paper, eq. 1-5; the authors' ganomaly.py) for real images x.
func (l *layers) lossTerms(x *Node, cfg Config) losses {
	fake, z, zHat := l.generator(x, cfg)
	var out losses
	realLogit, realFeat := l.discriminator(x, cfg)
	fakeLogit, fakeFeat := l.discriminator(fake, cfg)
	if cfg.Adversarial == AdvFeatureMatching {
		// The real features are the target: D's parameters are not the generator's to move.
		out.gAdv = ReduceAllMean(Square(Sub(StopGradient(realFeat), fakeFeat)))
	} else {
		out.gAdv = bceWithLogits(fakeLogit, 1)
	}
	out.gCon = ReduceAllMean(Abs(Sub(fake, x)))
	out.gLat = ReduceAllMean(Square(Sub(z, zHat)))
	out.g = Add(Add(MulScalar(out.gAdv, cfg.WAdv), MulScalar(out.gCon, cfg.WCon)), MulScalar(out.gLat, cfg.WLat))
	// D sees the generator's output detached, as in the authors' code.
	detLogit, _ := l.discriminator(StopGradient(fake), cfg)
	realTarget := 1 - cfg.LabelSmoothing
	out.d = MulScalar(Add(bceWithLogits(realLogit, realTarget), bceWithLogits(detLogit, 0)), 0.5)
	out.fake, out.z, out.zHat = fake, z, zHat
	out.realLogit, out.fakeLogit, out.detLogit, out.realFeat, out.fakeFeat = realLogit, fakeLogit, detLogit, realFeat, fakeFeat
	return out
}

// isD reports whether a variable belongs to the discriminator.
func isD(v *mlctx.Variable) bool { return strings.HasPrefix(v.Scope(), scopeD) }
