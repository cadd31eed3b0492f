package ae

import (
	"math"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"

	"github.com/gonomaly/gonomaly/methods/nn"
)

// leak is the slope of Bergmann et al.'s leaky ReLUs.
const leak = 0.2

// layer is one row of Bergmann et al.'s Table 1: output channels, kernel and stride.
type layer struct{ ch, k, s int }

// encoderLayers are Table 1's encoder convolutions before the latent one (channels before WidthDiv);
// with padding 1, 4x4 stride 2 halves the side and 3x3 keeps it.
var encoderLayers = []layer{{32, 4, 2}, {32, 4, 2}, {32, 3, 1}, {64, 4, 2}, {64, 3, 1}, {128, 4, 2}, {64, 3, 1}, {32, 3, 1}}

// encode maps images [N,S,S,C] to latent codes [N,LatentDim]. The latent layer is a convolution whose
// kernel covers the whole S/16 map (8x8 at 128 px, as in the paper), i.e. a dense layer. With the
// memory module, every position of the S/16 feature map before it is rewritten from the memory, as
// MemAE's image models address each feature vector of the encoder's output map; entropy is nil without.
func encode(ctx *context.Context, x *Node, cfg Config) (z, entropy *Node) {
	for i, l := range encoderLayers {
		x = nn.LeakyReLU(nn.Conv(ctx.In("enc").In(itoa(i)), x).Channels(l.ch/cfg.WidthDiv).Kernel(l.k).Stride(l.s).Padding(1).Done(), leak)
	}
	if cfg.Memory {
		d := x.Shape().Dimensions
		var q *Node
		q, entropy = memory(ctx, Reshape(x, -1, d[3]), cfg)
		x = Reshape(q, d...)
	}
	k := cfg.ImageSize / 16
	z = nn.Conv(ctx.In("enc").In("latent"), x).Channels(cfg.LatentDim).Kernel(k).Done()
	return Reshape(z, -1, cfg.LatentDim), entropy
}

// decode mirrors encode: latent [N,LatentDim] to images [N,S,S,C] in [0, 1] (a sigmoid output).
func decode(ctx *context.Context, z *Node, cfg Config, channels int) *Node {
	k := cfg.ImageSize / 16
	x := Reshape(z, -1, 1, 1, cfg.LatentDim)
	x = nn.LeakyReLU(nn.ConvTranspose(ctx.In("dec").In("latent"), x).Channels(encoderLayers[len(encoderLayers)-1].ch/cfg.WidthDiv).Kernel(k).Done(), leak)
	for i := len(encoderLayers) - 1; i >= 0; i-- {
		l := encoderLayers[i]
		out := channels
		if i > 0 {
			out = encoderLayers[i-1].ch / cfg.WidthDiv
		}
		scope := ctx.In("dec").In(itoa(i))
		if l.s == 2 {
			x = nn.ConvTranspose(scope, x).Channels(out).Kernel(4).Stride(2).Padding(1).Done()
		} else {
			x = nn.Conv(scope, x).Channels(out).Kernel(3).Padding(1).Done()
		}
		if i > 0 {
			x = nn.LeakyReLU(x, leak)
		}
	}
	return nn.Sigmoid(x)
}

// memory is MemAE's memory module (Gong et al., ICCV 2019, Sec. 3.3): each query z [M,D] is replaced by
// ŵ·M, where w = softmax(z·Mᵀ) addresses the MemoryItems items of M [items, D] and ŵ is w after hard
// shrinkage, max(w-λ, 0)·w/(|w-λ|+ε), renormalised to sum to one (Eq. 7). It returns the new code and
// the mean entropy of ŵ (Eq. 9's loss term).
func memory(ctx *context.Context, z *Node, cfg Config) (code, entropy *Node) {
	d := z.Shape().Dimensions[1]
	bound := 1 / math.Sqrt(float64(d))
	m := ctx.In("memory").WithInitializer(initializers.RandomUniformFn(ctx, -bound, bound)).
		VariableWithShape("items", shapes.Make(z.DType(), cfg.MemoryItems, d)).ValueGraph(z.Graph())
	w := Softmax(nn.MatMul(z, Transpose(m, 0, 1)), -1)
	if lambda := cfg.ShrinkThreshold; lambda > 0 {
		shifted := AddScalar(w, -lambda)
		w = Div(Mul(nn.ReLU(shifted), w), AddScalar(Abs(shifted), 1e-12))
		w = Div(w, MaxScalar(ReduceAndKeep(w, ReduceSum, -1), 1e-12))
	}
	entropy = ReduceAllMean(ReduceSum(Neg(Mul(w, Log(AddScalar(w, 1e-12)))), -1))
	return nn.MatMul(w, m), entropy
}

// reconstruct runs the autoencoder on x; entropy is nil without the memory module.
func reconstruct(ctx *context.Context, x *Node, cfg Config) (recon, entropy *Node) {
	z, entropy := encode(ctx, x, cfg)
	return decode(ctx, z, cfg, x.Shape().Dimensions[3]), entropy
}

// reconstructionLoss is the mean squared error or 1 - the mean SSIM of reconstruction and input.
func reconstructionLoss(x, recon *Node, loss Score) *Node {
	if loss == ScoreSSIM {
		return OneMinus(ReduceAllMean(nn.SSIM(recon, x, nn.DefaultSSIM())))
	}
	return ReduceAllMean(Square(Sub(recon, x)))
}

func itoa(i int) string { return string(rune('0' + i)) }
