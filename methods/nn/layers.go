package nn

import (
	"math"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
)

// Variable names follow PyTorch's module attributes ("weight", "bias", "running_mean", "running_var"),
// so a context scope per module ("layer1/0/conv1") maps one to one onto a torch state dict.
const (
	VarWeight      = "weight"
	VarBias        = "bias"
	VarRunningMean = "running_mean"
	VarRunningVar  = "running_var"
)

// uniformVar returns the variable name in ctx, created with values uniform in [-bound, bound] (torch's
// default initialisation for conv and linear layers: bound = 1/sqrt(fan_in)).
func uniformVar(ctx *context.Context, name string, shape shapes.Shape, bound float64) *context.Variable {
	return ctx.WithInitializer(initializers.RandomUniformFn(ctx, -bound, bound)).VariableWithShape(name, shape)
}

// ConvBuilder configures a 2D convolution layer; create it with Conv and finish with Done.
type ConvBuilder struct {
	ctx              *context.Context
	x                *graph.Node
	channels, kernel int
	cfg              ConvConfig
	bias             bool
}

// Conv starts a 2D convolution layer over x [N,H,W,Cin], with variables "weight" [K,K,Cin/Groups,Channels]
// and "bias" [Channels] in ctx's current scope (give each layer its own scope: ctx.In("conv1")).
// Defaults: Kernel 3, Stride 1, Padding 0, Dilation 1, Groups 1, with bias; Channels must be set.
// Weights start as torch's: uniform in ±1/sqrt(fan_in).
//
// Example: nn.Conv(ctx.In("conv1"), x).Channels(64).Kernel(3).Stride(2).Padding(1).Done()
//
// See also Conv2D, the functional op it calls.
func Conv(ctx *context.Context, x *graph.Node) *ConvBuilder {
	return &ConvBuilder{ctx: ctx, x: x, kernel: 3, bias: true}
}

// Channels sets the number of output channels (required).
func (b *ConvBuilder) Channels(n int) *ConvBuilder { b.channels = n; return b }

// Kernel sets the (square) kernel size; default 3.
func (b *ConvBuilder) Kernel(k int) *ConvBuilder { b.kernel = k; return b }

// Stride sets the stride; default 1.
func (b *ConvBuilder) Stride(s int) *ConvBuilder { b.cfg.Stride = s; return b }

// Padding sets the zero padding on each side; default 0.
func (b *ConvBuilder) Padding(p int) *ConvBuilder { b.cfg.Padding = p; return b }

// Dilation sets the kernel dilation; default 1.
func (b *ConvBuilder) Dilation(d int) *ConvBuilder { b.cfg.Dilation = d; return b }

// Groups sets the number of channel groups; default 1.
func (b *ConvBuilder) Groups(g int) *ConvBuilder { b.cfg.Groups = g; return b }

// Bias sets whether to add a learned bias; default true (ResNets use false before batch norm).
func (b *ConvBuilder) Bias(use bool) *ConvBuilder { b.bias = use; return b }

// Done creates (or reuses) the variables and returns the convolved [N,Ho,Wo,Channels].
func (b *ConvBuilder) Done() *graph.Node {
	x, cfg := b.x, b.cfg.withDefaults()
	if x.Rank() != 4 {
		panicf("nn.Conv: want x [N,H,W,C], got %s", x.Shape())
	}
	cin := x.Shape().Dimensions[3]
	if b.channels < 1 || b.kernel < 1 || cfg.Groups < 1 || cin%cfg.Groups != 0 || b.channels%cfg.Groups != 0 {
		panicf("nn.Conv: invalid Channels=%d Kernel=%d Groups=%d for input channels %d",
			b.channels, b.kernel, cfg.Groups, cin)
	}
	g := x.Graph()
	fanIn := cin / cfg.Groups * b.kernel * b.kernel
	bound := 1 / math.Sqrt(float64(fanIn))
	w := uniformVar(b.ctx, VarWeight, shapes.Make(x.DType(), b.kernel, b.kernel, cin/cfg.Groups, b.channels), bound)
	y := Conv2D(x, w.ValueGraph(g), cfg)
	if b.bias {
		bias := uniformVar(b.ctx, VarBias, shapes.Make(x.DType(), b.channels), bound)
		y = graph.Add(y, expandToLast(bias.ValueGraph(g), 4))
	}
	return y
}

// Linear applies a fully connected layer to the last axis of x [..., in], returning [..., outputs],
// with variables "weight" [in, outputs] and "bias" [outputs] in ctx's current scope, initialised as
// torch's nn.Linear (uniform in ±1/sqrt(in)). Note the weight is stored transposed relative to torch
// ([in, out] here, [out, in] there). Its gradient is fast on every backend (see MatMul).
func Linear(ctx *context.Context, x *graph.Node, outputs int) *graph.Node {
	y := LinearNoBias(ctx, x, outputs)
	in := x.Shape().Dimensions[x.Rank()-1]
	bias := uniformVar(ctx, VarBias, shapes.Make(x.DType(), outputs), 1/math.Sqrt(float64(in)))
	return graph.Add(y, expandToLast(bias.ValueGraph(x.Graph()), y.Rank()))
}

// LinearNoBias is Linear without the bias.
func LinearNoBias(ctx *context.Context, x *graph.Node, outputs int) *graph.Node {
	if x.Rank() < 1 || outputs < 1 {
		panicf("nn.Linear: want x [..., in] and outputs >= 1, got %s and %d", x.Shape(), outputs)
	}
	in := x.Shape().Dimensions[x.Rank()-1]
	w := uniformVar(ctx, VarWeight, shapes.Make(x.DType(), in, outputs), 1/math.Sqrt(float64(in)))
	return MatMul(x, w.ValueGraph(x.Graph()))
}

// Dropout zeroes each element of x with probability rate and scales the rest by 1/(1-rate), only
// while training (ctx.IsTraining); otherwise it returns x unchanged.
//
// Reference: Srivastava et al., "Dropout: A Simple Way to Prevent Neural Networks from Overfitting",
// JMLR 2014.
func Dropout(ctx *context.Context, x *graph.Node, rate float64) *graph.Node {
	g := x.Graph()
	if rate <= 0 || !ctx.IsTraining(g) {
		return x
	}
	if rate >= 1 {
		return graph.ZerosLike(x)
	}
	keep := graph.GreaterOrEqual(ctx.RandomUniform(g, x.Shape()), graph.Scalar(g, x.DType(), rate))
	return graph.Where(keep, graph.MulScalar(x, 1/(1-rate)), graph.ZerosLike(x))
}

// LayerNorm normalises x over its last axis to zero mean and unit (biased) variance, then scales and
// shifts with learned "weight" (ones) and "bias" (zeros) of shape [C]: torch's nn.LayerNorm(C, eps).
//
// Reference: Ba, Kiros and Hinton, "Layer Normalization", arXiv:1607.06450, 2016.
func LayerNorm(ctx *context.Context, x *graph.Node, eps float64) *graph.Node {
	g := x.Graph()
	c := x.Shape().Dimensions[x.Rank()-1]
	w := ctx.WithInitializer(initializers.One).VariableWithShape(VarWeight, shapes.Make(x.DType(), c))
	b := ctx.WithInitializer(initializers.Zero).VariableWithShape(VarBias, shapes.Make(x.DType(), c))
	return layerNorm(x, w.ValueGraph(g), b.ValueGraph(g), eps)
}

// layerNorm is LayerNorm's arithmetic, with scale and offset [C] given.
func layerNorm(x, scale, offset *graph.Node, eps float64) *graph.Node {
	last := x.Rank() - 1
	mean := graph.ReduceAndKeep(x, graph.ReduceMean, last)
	centred := graph.Sub(x, mean)
	variance := graph.ReduceAndKeep(graph.Mul(centred, centred), graph.ReduceMean, last)
	normalized := graph.Div(centred, graph.Sqrt(graph.AddScalar(variance, eps)))
	return graph.Add(graph.Mul(normalized, expandToLast(scale, x.Rank())), expandToLast(offset, x.Rank()))
}

// BatchNormBuilder configures a batch-normalisation layer; create it with BatchNorm, finish with Done.
type BatchNormBuilder struct {
	ctx           *context.Context
	x             *graph.Node
	eps, momentum float64
	frozen        bool
}

// BatchNorm starts a batch-normalisation layer over the last axis (channels) of x [..., C], torch's
// BatchNorm2d: variables "weight" (ones), "bias" (zeros), and non-trainable "running_mean" (zeros) and
// "running_var" (ones), all [C], in ctx's current scope.
//
// While training (ctx.IsTraining) it normalises with the batch's mean and biased variance, and updates
// running_mean and running_var (unbiased) with momentum 0.1; otherwise, or when Frozen, it uses the
// running statistics (BatchNormInference). Written with plain ops, it trains on every backend.
//
// Reference: Ioffe and Szegedy, "Batch Normalization: Accelerating Deep Network Training by Reducing
// Internal Covariate Shift", ICML 2015, Algorithm 1 and 2.
func BatchNorm(ctx *context.Context, x *graph.Node) *BatchNormBuilder {
	return &BatchNormBuilder{ctx: ctx, x: x, eps: 1e-5, momentum: 0.1}
}

// Epsilon sets the variance epsilon; default 1e-5.
func (b *BatchNormBuilder) Epsilon(eps float64) *BatchNormBuilder { b.eps = eps; return b }

// Momentum sets the weight of the new batch in the running statistics; default 0.1 (torch's).
func (b *BatchNormBuilder) Momentum(m float64) *BatchNormBuilder { b.momentum = m; return b }

// Frozen makes the layer always use (and never update) the running statistics, as when fine-tuning a
// pretrained backbone; default false.
func (b *BatchNormBuilder) Frozen(frozen bool) *BatchNormBuilder { b.frozen = frozen; return b }

// Done creates (or reuses) the variables and returns the normalised x.
func (b *BatchNormBuilder) Done() *graph.Node {
	x, ctx := b.x, b.ctx
	g := x.Graph()
	rank := x.Rank()
	if rank < 2 {
		panicf("nn.BatchNorm: want x [N, ..., C], got %s", x.Shape())
	}
	c := x.Shape().Dimensions[rank-1]
	shape := shapes.Make(x.DType(), c)
	w := ctx.WithInitializer(initializers.One).VariableWithShape(VarWeight, shape)
	bias := ctx.WithInitializer(initializers.Zero).VariableWithShape(VarBias, shape)
	runMean := ctx.WithInitializer(initializers.Zero).VariableWithShape(VarRunningMean, shape).SetTrainable(false)
	runVar := ctx.WithInitializer(initializers.One).VariableWithShape(VarRunningVar, shape).SetTrainable(false)
	if b.frozen || !ctx.IsTraining(g) {
		return BatchNormInference(x, w.ValueGraph(g), bias.ValueGraph(g), runMean.ValueGraph(g), runVar.ValueGraph(g), b.eps)
	}
	y, mean, variance := BatchNormTraining(x, w.ValueGraph(g), bias.ValueGraph(g), b.eps)
	count := x.Shape().Size() / c

	// Running statistics (torch: unbiased variance, new = (1-m)*old + m*batch).
	m := b.momentum
	unbiased := graph.StopGradient(variance)
	if count > 1 {
		unbiased = graph.MulScalar(unbiased, float64(count)/float64(count-1))
	}
	runMean.SetValueGraph(graph.Add(graph.MulScalar(runMean.ValueGraph(g), 1-m), graph.MulScalar(graph.StopGradient(mean), m)))
	runVar.SetValueGraph(graph.Add(graph.MulScalar(runVar.ValueGraph(g), 1-m), graph.MulScalar(unbiased, m)))
	return y
}

// BatchNormTraining normalises x [..., C] per channel with the batch's own statistics (mean and biased
// variance over every axis but the last), then scales and shifts: torch's BatchNorm2d in training mode,
// without the running-statistics update (see BatchNorm for the layer). It returns the output and the
// batch mean and variance [C]; gradients flow through the statistics, as in the paper.
//
// Reference: Ioffe and Szegedy, ICML 2015, Algorithm 1.
func BatchNormTraining(x, scale, offset *graph.Node, eps float64) (y, mean, variance *graph.Node) {
	rank := x.Rank()
	if rank < 2 {
		panicf("nn.BatchNormTraining: want x [N, ..., C], got %s", x.Shape())
	}
	axes := make([]int, rank-1)
	for i := range axes {
		axes[i] = i
	}
	mean = graph.ReduceMean(x, axes...)                               // [C]
	centred := graph.Sub(x, expandToLast(mean, rank))                 // [..., C]
	variance = graph.ReduceMean(graph.Mul(centred, centred), axes...) // biased, [C]
	a := graph.Div(scale, graph.Sqrt(graph.AddScalar(variance, eps))) // Rsqrt has no gradient in GoMLX
	y = graph.Add(graph.Mul(centred, expandToLast(a, rank)), expandToLast(offset, rank))
	return y, mean, variance
}

// ConvTransposeBuilder configures a transposed-convolution layer; create it with ConvTranspose.
type ConvTransposeBuilder struct {
	ctx              *context.Context
	x                *graph.Node
	channels, kernel int
	cfg              ConvTransposeConfig
	bias             bool
}

// ConvTranspose starts a transposed 2D convolution layer (learned upsampling) over x [N,H,W,Cin], torch's
// nn.ConvTranspose2d: variables "weight" [K,K,Cin,Channels/Groups] (torch's weight permuted (2,3,0,1))
// and "bias" [Channels] in ctx's current scope, initialised as torch's (uniform in ±1/sqrt(fan_in),
// fan_in = Channels/Groups*K*K). Defaults: Kernel 2, Stride 1, Padding 0, OutputPadding 0, Dilation 1,
// Groups 1, with bias; Channels must be set.
//
// Example (2x upsampling): nn.ConvTranspose(ctx.In("up1"), x).Channels(64).Kernel(2).Stride(2).Done()
//
// See also ConvTranspose2D, the functional op it calls.
func ConvTranspose(ctx *context.Context, x *graph.Node) *ConvTransposeBuilder {
	return &ConvTransposeBuilder{ctx: ctx, x: x, kernel: 2, bias: true}
}

// Channels sets the number of output channels (required).
func (b *ConvTransposeBuilder) Channels(n int) *ConvTransposeBuilder { b.channels = n; return b }

// Kernel sets the (square) kernel size; default 2.
func (b *ConvTransposeBuilder) Kernel(k int) *ConvTransposeBuilder { b.kernel = k; return b }

// Stride sets the upsampling stride; default 1.
func (b *ConvTransposeBuilder) Stride(s int) *ConvTransposeBuilder { b.cfg.Stride = s; return b }

// Padding sets torch's padding (cropped from each side of the output); default 0.
func (b *ConvTransposeBuilder) Padding(p int) *ConvTransposeBuilder { b.cfg.Padding = p; return b }

// OutputPadding sets torch's output_padding (added at the bottom/right); default 0.
func (b *ConvTransposeBuilder) OutputPadding(p int) *ConvTransposeBuilder {
	b.cfg.OutputPadding = p
	return b
}

// Dilation sets the kernel dilation; default 1.
func (b *ConvTransposeBuilder) Dilation(d int) *ConvTransposeBuilder { b.cfg.Dilation = d; return b }

// Groups sets the number of channel groups; default 1.
func (b *ConvTransposeBuilder) Groups(g int) *ConvTransposeBuilder { b.cfg.Groups = g; return b }

// Bias sets whether to add a learned bias; default true.
func (b *ConvTransposeBuilder) Bias(use bool) *ConvTransposeBuilder { b.bias = use; return b }

// Done creates (or reuses) the variables and returns the upsampled [N,Ho,Wo,Channels].
func (b *ConvTransposeBuilder) Done() *graph.Node {
	x := b.x
	if x.Rank() != 4 {
		panicf("nn.ConvTranspose: want x [N,H,W,C], got %s", x.Shape())
	}
	groups := max(b.cfg.Groups, 1)
	cin := x.Shape().Dimensions[3]
	if b.channels < 1 || b.kernel < 1 || cin%groups != 0 || b.channels%groups != 0 {
		panicf("nn.ConvTranspose: invalid Channels=%d Kernel=%d Groups=%d for input channels %d",
			b.channels, b.kernel, groups, cin)
	}
	g := x.Graph()
	bound := 1 / math.Sqrt(float64(b.channels/groups*b.kernel*b.kernel))
	w := uniformVar(b.ctx, VarWeight, shapes.Make(x.DType(), b.kernel, b.kernel, cin, b.channels/groups), bound)
	y := ConvTranspose2D(x, w.ValueGraph(g), b.cfg)
	if b.bias {
		bias := uniformVar(b.ctx, VarBias, shapes.Make(x.DType(), b.channels), bound)
		y = graph.Add(y, expandToLast(bias.ValueGraph(g), 4))
	}
	return y
}
