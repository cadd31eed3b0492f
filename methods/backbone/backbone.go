// Package backbone provides the ImageNet ResNets that feature-based anomaly detectors stand on:
// ResNet-18, ResNet-34, ResNet-50 and Wide-ResNet-50-2, in torchvision's layout and parameter names, so
// torchvision/timm checkpoints (safetensors) load as they are.
//
// A Backbone maps NHWC float32 images with values in [0,1] to feature maps at named taps: "stem" (after
// the max-pool, stride 4), "layer1" (stride 4), "layer2" (8), "layer3" (16), "layer4" (32). ImageNet
// mean/std normalisation happens inside; batch norm always runs in inference mode with the checkpoint's
// running statistics. Weights are frozen by default (no gradient flows through or into the backbone).
//
// References: He, Zhang, Ren and Sun, "Deep Residual Learning for Image Recognition", CVPR 2016 (Table 1:
// the 18/34/50-layer designs); Zagoruyko and Komodakis, "Wide Residual Networks", BMVC 2016 (the
// width-doubled bottleneck of Wide-ResNet-50-2, as torchvision builds it).
package backbone

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/nn"
)

// Taps lists the feature taps every architecture offers, shallowest first.
var Taps = []string{"stem", "layer1", "layer2", "layer3", "layer4"}

// ImageNetMean and ImageNetStd are the per-channel (RGB) normalisation torchvision's weights expect.
var (
	ImageNetMean = [3]float32{0.485, 0.456, 0.406}
	ImageNetStd  = [3]float32{0.229, 0.224, 0.225}
)

// bnEpsilon is torch.nn.BatchNorm2d's default eps.
const bnEpsilon = 1e-5

// arch describes one ResNet variant.
type arch struct {
	bottleneck  bool   // Bottleneck (1x1, 3x3, 1x1; expansion 4) or BasicBlock (3x3, 3x3)
	blocks      [4]int // residual blocks in layer1..layer4
	widthFactor int    // bottleneck inner width = planes * widthFactor (2 for Wide-ResNet-50-2)
	hubID       string // default pretrained weights on the Hugging Face hub
}

// Architectures lists the supported names (torchvision's) for New.
var Architectures = []string{"resnet18", "resnet34", "resnet50", "wide_resnet50_2"}

var archs = map[string]arch{
	"resnet18":        {false, [4]int{2, 2, 2, 2}, 1, "timm/resnet18.tv_in1k"},
	"resnet34":        {false, [4]int{3, 4, 6, 3}, 1, "timm/resnet34.tv_in1k"},
	"resnet50":        {true, [4]int{3, 4, 6, 3}, 1, "timm/resnet50.tv_in1k"},
	"wide_resnet50_2": {true, [4]int{3, 4, 6, 3}, 2, "timm/wide_resnet50_2.tv_in1k"},
}

// Options configures New. The zero value asks for pretrained full-width frozen weights.
type Options struct {
	// Weights says where the weights come from:
	//   - "" (default): the architecture's ImageNet weights from the Hugging Face hub
	//     (e.g. "timm/resnet18.tv_in1k"), from the cache or downloaded once; if that fails, the seeded
	//     initialisation with a one-line notice on stderr. With WidthDiv > 1, "" means "random".
	//   - a local file (ends in ".safetensors" or names an existing file): loaded, errors returned.
	//   - a hub id "owner/name": as the default, with that repository.
	//   - "random": the seeded initialisation, silently.
	Weights string
	// Seed drives the deterministic initialisation used when no weights are loaded; default 0.
	Seed uint64
	// WidthDiv divides every channel count (for tests and tiny experiments); default 1 (full width).
	// It must divide 64.
	WidthDiv int
	// Trainable makes convolution and batch-norm affine parameters trainable variables and lets
	// gradients flow; default false (frozen). Batch norm stays in inference mode either way.
	Trainable bool
	// CacheDir holds downloaded weights; default $GONOMALY_CACHE, else os.UserCacheDir()/gonomaly.
	CacheDir string
}

// Backbone is a ResNet with its weights, ready to build into graphs (Forward) or to run (Extract).
type Backbone struct {
	arch       string
	spec       arch
	div        int
	trainable  bool
	pretrained bool
	source     string                     // where the weights came from, for messages
	weights    map[string]*tensors.Tensor // GoMLX layout: conv kernels HWIO, batch-norm vectors [C]
	params     []param

	extract extractCache

	digestOnce sync.Once // WeightsSHA256
	digest     string
}

// New builds the backbone arch (one of Architectures) and loads its weights as opts says.
func New(archName string, opts Options) (*Backbone, error) {
	name := strings.ToLower(strings.TrimSpace(archName))
	spec, ok := archs[name]
	if !ok {
		return nil, fmt.Errorf("backbone: unknown architecture %q (have %s)", archName, strings.Join(Architectures, ", "))
	}
	div := opts.WidthDiv
	if div == 0 {
		div = 1
	}
	if div < 1 || 64%div != 0 {
		return nil, fmt.Errorf("backbone: WidthDiv %d must be a positive divisor of 64", opts.WidthDiv)
	}
	b := &Backbone{arch: name, spec: spec, div: div, trainable: opts.Trainable}
	b.params = spec.parameters(div)
	if err := b.loadWeights(opts); err != nil {
		return nil, err
	}
	return b, nil
}

// MustNew is New that panics on error, for notebooks.
func MustNew(archName string, opts Options) *Backbone {
	b, err := New(archName, opts)
	if err != nil {
		panic(err)
	}
	return b
}

// String describes the backbone for banners and manifests, e.g.
// "wide_resnet50_2 (weights: /cache/hub/timm--wide_resnet50_2.tv_in1k/model.safetensors)".
func (b *Backbone) String() string {
	s := b.arch
	if b.div != 1 {
		s += fmt.Sprintf(" width/%d", b.div)
	}
	if b.trainable {
		s += " trainable"
	}
	return s + " (weights: " + b.source + ")"
}

// Arch returns the architecture name, e.g. "wide_resnet50_2".
func (b *Backbone) Arch() string { return b.arch }

// Pretrained reports whether the weights were loaded from a file or the hub (false: seeded random).
func (b *Backbone) Pretrained() bool { return b.pretrained }

// Source says where the weights came from: a file path, or "random (seed N)".
func (b *Backbone) Source() string { return b.source }

// Trainable reports whether the backbone's parameters train (Options.Trainable).
func (b *Backbone) Trainable() bool { return b.trainable }

// Channels returns the number of channels at tap; it panics on an unknown tap.
func (b *Backbone) Channels(tap string) int {
	base := 64 / b.div
	expansion := 1
	if b.spec.bottleneck {
		expansion = 4
	}
	switch tap {
	case "stem":
		return base
	case "layer1", "layer2", "layer3", "layer4":
		return base << (tap[5] - '1') * expansion
	}
	panic(fmt.Sprintf("backbone: unknown tap %q (have %s)", tap, strings.Join(Taps, ", ")))
}

// Stride returns the downsampling factor of tap relative to the input; it panics on an unknown tap.
// Spatial sizes follow torch's conv arithmetic: a 224-pixel input gives 56, 56, 28, 14, 7.
func (b *Backbone) Stride(tap string) int {
	switch tap {
	case "stem", "layer1":
		return 4
	case "layer2":
		return 8
	case "layer3":
		return 16
	case "layer4":
		return 32
	}
	panic(fmt.Sprintf("backbone: unknown tap %q (have %s)", tap, strings.Join(Taps, ", ")))
}

// OutputSize returns the spatial size (h or w) tap has for an input of size s.
func (b *Backbone) OutputSize(tap string, s int) int {
	b.Stride(tap) // validates tap
	conv := func(s, k, stride, pad int) int { return (s+2*pad-k)/stride + 1 }
	s = conv(s, 7, 2, 3) // conv1
	s = conv(s, 3, 2, 1) // maxpool
	for _, t := range []string{"layer2", "layer3", "layer4"} {
		if slices.Index(Taps, tap) < slices.Index(Taps, t) {
			break
		}
		s = conv(s, 3, 2, 1)
	}
	return s
}

// tapDepth returns the index in Taps of the deepest of taps, checking every name.
func tapDepth(taps []string) int {
	if len(taps) == 0 {
		panic("backbone: Forward needs at least one tap (" + strings.Join(Taps, ", ") + ")")
	}
	deepest := 0
	for _, t := range taps {
		i := slices.Index(Taps, t)
		if i < 0 {
			panic(fmt.Sprintf("backbone: unknown tap %q (have %s)", t, strings.Join(Taps, ", ")))
		}
		deepest = max(deepest, i)
	}
	return deepest
}

// Forward builds the backbone into the graph of x [N,H,W,3] (RGB, values in [0,1]) and returns the
// feature maps [N,h,w,Channels(tap)] at taps, in the order asked. Only the layers up to the deepest tap
// are built.
//
// Parameters are variables of ctx.In(b.Arch()), created with the loaded weights on first use; give two
// backbones of the same architecture distinct scopes (e.g. b.Forward(ctx.In("teacher"), x, ...)).
// Frozen backbones (the default) mark their variables non-trainable and stop gradients at the outputs,
// so a training graph pays nothing for backpropagation through them.
//
// It panics (graph-building code) on an unknown tap or an input that is not [N,H,W,3].
func (b *Backbone) Forward(ctx *context.Context, x *Node, taps ...string) []*Node {
	deepest := tapDepth(taps)
	if x.Rank() != 4 || x.Shape().Dimensions[3] != 3 {
		panic(fmt.Sprintf("backbone %s: Forward wants images [N,H,W,3], got %s", b.arch, x.Shape()))
	}
	ctx = ctx.In(b.arch).Checked(false)
	g := x.Graph()
	param := func(name string) *Node {
		trainable := b.trainable && !strings.HasSuffix(name, ".running_mean") && !strings.HasSuffix(name, ".running_var")
		var v *context.Variable
		if v = ctx.GetVariable(name); v == nil {
			value := b.weights[name]
			if trainable {
				// Training replaces (and may donate) the variable's buffer: keep b.weights intact.
				var err error
				if value, err = value.LocalClone(); err != nil {
					panic(fmt.Sprintf("backbone %s: copying %s: %v", b.arch, name, err))
				}
			}
			v = ctx.VariableWithValue(name, value)
		} else if want := b.weights[name].Shape(); !v.Shape().Equal(want) {
			panic(fmt.Sprintf("backbone %s: variable %s has shape %s, the architecture needs %s", b.arch, v.ScopeAndName(), v.Shape(), want))
		}
		v.SetTrainable(trainable)
		return v.ValueGraph(g)
	}
	// convBN is a bias-free convolution followed by inference batch norm, with the normalisation folded
	// into the kernel: conv(x, W*a) + (beta - mean*a), a = gamma/sqrt(var+eps). It is the same function
	// (gradients included) with one pass over the activations fewer than nn.BatchNormInference after
	// the convolution.
	convBN := func(convName, bnName string, x *Node, stride, padding int) *Node {
		gamma, beta := param(bnName+".weight"), param(bnName+".bias")
		mean, variance := param(bnName+".running_mean"), param(bnName+".running_var")
		a := Mul(gamma, Rsqrt(AddScalar(variance, bnEpsilon)))
		c := a.Shape().Dimensions[0]
		kernel := Mul(param(convName+".weight"), Reshape(a, 1, 1, 1, c))
		bias := Reshape(Sub(beta, Mul(mean, a)), 1, 1, 1, c)
		return Add(nn.Conv2D(x, kernel, nn.ConvConfig{Stride: stride, Padding: padding}), bias)
	}

	// ImageNet normalisation (torchvision.transforms.Normalize).
	mean := Const(g, [][][][]float32{{{ImageNetMean[:]}}})
	invStd := Const(g, [][][][]float32{{{{1 / ImageNetStd[0], 1 / ImageNetStd[1], 1 / ImageNetStd[2]}}}})
	h := Mul(Sub(x, ConvertDType(mean, x.DType())), ConvertDType(invStd, x.DType()))

	// Stem: 7x7/2 convolution, batch norm, ReLU, 3x3/2 max-pool.
	h = relu(convBN("conv1", "bn1", h, 2, 3))
	h = nn.MaxPool2D(h, 3, 2, 1)
	outs := map[string]*Node{"stem": h}

	for li := 0; li < 4 && li < deepest; li++ {
		for bi := range b.spec.blocks[li] {
			stride := 1
			if li > 0 && bi == 0 {
				stride = 2
			}
			h = b.block(fmt.Sprintf("layer%d.%d", li+1, bi), h, stride, convBN)
		}
		outs[Taps[li+1]] = h
	}

	res := make([]*Node, len(taps))
	for i, t := range taps {
		res[i] = outs[t]
		if !b.trainable {
			res[i] = StopGradient(res[i])
		}
	}
	return res
}

// block is one residual block (torchvision's BasicBlock or Bottleneck: stride on the 3x3 convolution,
// "ResNet v1.5"); the shortcut is a strided 1x1 convolution plus batch norm when the shape changes.
func (b *Backbone) block(prefix string, x *Node, stride int, convBN func(string, string, *Node, int, int) *Node) *Node {
	var h *Node
	if b.spec.bottleneck {
		h = relu(convBN(prefix+".conv1", prefix+".bn1", x, 1, 0))
		h = relu(convBN(prefix+".conv2", prefix+".bn2", h, stride, 1))
		h = convBN(prefix+".conv3", prefix+".bn3", h, 1, 0)
	} else {
		h = relu(convBN(prefix+".conv1", prefix+".bn1", x, stride, 1))
		h = convBN(prefix+".conv2", prefix+".bn2", h, 1, 1)
	}
	shortcut := x
	if _, ok := b.weights[prefix+".downsample.0.weight"]; ok {
		shortcut = convBN(prefix+".downsample.0", prefix+".downsample.1", x, stride, 0)
	}
	return relu(Add(h, shortcut))
}

// relu is max(x, 0), against a scalar so no zero tensor is materialised.
func relu(x *Node) *Node { return MaxScalar(x, 0) }

// FromSettings builds the backbone a detector's shared settings name: s.Backbone with s.Weights, seeded
// with s.BackboneSeed when no weights load, channel counts divided by s.WidthDiv.
func FromSettings(s methods.Settings) (*Backbone, error) {
	return New(s.Backbone, Options{Weights: s.Weights, Seed: s.BackboneSeed, WidthDiv: s.WidthDiv})
}
