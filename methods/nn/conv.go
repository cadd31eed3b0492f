package nn

import (
	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gonomaly/gonomaly/methods/compute/fastgo"
)

// ConvConfig configures Conv2D. Zero values mean Stride 1, Padding 0, Dilation 1, Groups 1.
// Strides, padding and dilation are square (the same on both spatial axes).
type ConvConfig struct {
	// Stride is the step between output positions; default 1.
	Stride int
	// Padding is the number of zero rows/columns added on each side; default 0.
	Padding int
	// Dilation is the spacing between kernel taps; default 1.
	Dilation int
	// Groups splits input and output channels into this many independent groups; default 1.
	Groups int
}

func (cfg ConvConfig) withDefaults() ConvConfig {
	if cfg.Stride == 0 {
		cfg.Stride = 1
	}
	if cfg.Dilation == 0 {
		cfg.Dilation = 1
	}
	if cfg.Groups == 0 {
		cfg.Groups = 1
	}
	return cfg
}

// wideRowsGain weighs the two im2col forms for stride 1. The wide-rows form multiplies extra rows
// (padding columns, image seams): a fraction waste = wideRows/outputPixels - 1 of the product. The
// gather form instead copies 9 elements per tap one at a time, which on the pure-Go backend costs about
// 18/Cout of the product (measured: ~9 ns per element against ~4 GFLOP/s). Wide rows are chosen when
// waste < wideRowsGain/Cout. A variable so tests can force either form.
var wideRowsGain = 14.0

// nativeOps says whether Conv2D emits ConvGeneral (forward and both gradients as convolutions) and the
// pooling ops emit ReduceWindow, instead of im2col forms: on gonomaly's fastgo backend, whose
// ConvGeneral is an implicit GEMM that never builds the patch matrix and whose ReduceWindow reads each
// window in place. GoMLX's pure-Go backend runs ConvGeneral 5-10x below its MatMul and has no gradient
// for it, so there the im2col forms stay. A variable so tests can force either.
var nativeOps = onFastgo

func onFastgo(g *graph.Graph) bool { return g.Backend().Name() == fastgo.BackendName }

// Conv2D convolves x [N,H,W,Cin] (NHWC) with kernel [KH,KW,Cin/Groups,Cout] (HWIO), returning
// [N,Ho,Wo,Cout] with PyTorch's torch.nn.functional.conv2d semantics (cross-correlation, zero padding,
// Ho = floor((H + 2*Padding - Dilation*(KH-1) - 1)/Stride) + 1).
//
// It lays out the input patches as a matrix (im2col) and multiplies it by the kernel with one matrix
// product, so it runs at the backend's MatMul speed and trains on every backend. Two im2col forms:
//   - "wide rows": each kernel tap is the zero-padded image (for stride s, one of its s² phase images)
//     flattened to rows and shifted by a row offset, built from block copies (Concatenate); the
//     product is computed for every padded column and the valid outputs gathered afterwards;
//   - "gather": one Gather of precomputed pixel indices, chosen when padding columns would waste
//     more than gathering costs (small images, wide layers) and for grouped convolutions.
//
// The gradient is a custom one (two products; for stride 1 the input gradient is itself a stride-1
// convolution with the flipped kernel, otherwise a scatter-add col2im), since GoMLX's ConvGeneral
// gradient fails on the pure-Go backend and its DotGeneral gradient is very slow there.
//
// See also ConvTranspose2D and the context layer Conv.
func Conv2D(x, kernel *graph.Node, cfg ConvConfig) *graph.Node {
	p := newConvPlan(x, kernel, cfg)
	if p.native {
		return withCustomGradient([]*graph.Node{x, kernel},
			func(in []*graph.Node) *graph.Node { return p.nativeForward(in[0], in[1]) },
			func(in []*graph.Node, _, v *graph.Node) []*graph.Node {
				return []*graph.Node{p.nativeInputGradient(v, in[1]), p.nativeKernelGradient(in[0], v)}
			})
	}
	var patches *graph.Node // built by forward, reused by backward
	return withCustomGradient([]*graph.Node{x, kernel},
		func(in []*graph.Node) *graph.Node {
			var y *graph.Node
			y, patches = p.forward(in[0], in[1])
			return y
		},
		func(in []*graph.Node, _, v *graph.Node) []*graph.Node {
			return []*graph.Node{p.inputGradient(v, in[1]), p.kernelGradient(patches, v)}
		})
}

// convPlan holds the shapes and the chosen im2col form of one convolution.
type convPlan struct {
	cfg                       ConvConfig
	win                       window
	xd, kd                    []int
	cin, cout, groups, cg, og int
	taps, rows                int // kernel taps; output pixels N*Ho*Wo
	direct                    bool
	wide                      bool
	native                    bool       // ConvGeneral forward and gradients (see nativeOps)
	wl                        wideLayout // for the wide rows form
}

func newConvPlan(x, kernel *graph.Node, cfg ConvConfig) *convPlan {
	cfg = cfg.withDefaults()
	if x.Rank() != 4 || kernel.Rank() != 4 {
		panicf("nn.Conv2D: want x [N,H,W,Cin] and kernel [KH,KW,Cin/Groups,Cout], got x %s and kernel %s",
			x.Shape(), kernel.Shape())
	}
	xd, kd := x.Shape().Dimensions, kernel.Shape().Dimensions
	p := &convPlan{cfg: cfg, xd: xd, kd: kd, cin: xd[3], cout: kd[3], groups: cfg.Groups}
	if p.groups < 1 || p.cin%p.groups != 0 || p.cout%p.groups != 0 || kd[2]*p.groups != p.cin {
		panicf("nn.Conv2D: x %s and kernel %s do not match Groups=%d (kernel must be [KH,KW,Cin/Groups,Cout])",
			x.Shape(), kernel.Shape(), p.groups)
	}
	if kernel.DType() != x.DType() {
		panicf("nn.Conv2D: x dtype %s and kernel dtype %s differ", x.DType(), kernel.DType())
	}
	p.win = newWindow("Conv2D", xd[0], xd[1], xd[2], kd[0], kd[1], cfg.Stride, cfg.Stride,
		cfg.Padding, cfg.Padding, cfg.Dilation, cfg.Dilation)
	p.cg, p.og = p.cin/p.groups, p.cout/p.groups
	p.taps = kd[0] * kd[1]
	p.rows = p.win.n * p.win.ho * p.win.wo
	p.direct = p.taps == 1 && !p.win.needsPadding() && cfg.Stride == 1
	p.native = p.groups == 1 && nativeOps(x.Graph())
	if !p.direct && p.groups == 1 {
		p.wl = newWideLayout(p.win)
		p.wide = p.wl.waste() < wideRowsGain/float64(p.cout)
	}
	return p
}

// forward returns the convolution [N,Ho,Wo,Cout] and the patch matrix it multiplied.
func (p *convPlan) forward(x, kernel *graph.Node) (y, patches *graph.Node) {
	win := p.win
	switch {
	case p.wide:
		patches = graph.Concatenate(p.wl.taps(x, 0), 1) // [wide rows, taps*cin]
		y = graph.DotGeneral(patches, []int{1}, nil, graph.Reshape(kernel, p.taps*p.cin, p.cout), []int{0}, nil)
		y = graph.Gather(y, p.wl.outputRows(x.Graph())) // [rows, cout]
	case p.groups == 1:
		if p.direct {
			patches = graph.Reshape(x, p.rows, p.cin)
		} else {
			patches = graph.Reshape(im2col(x, graph.Const(x.Graph(), win.indices()), win, 0), p.rows, p.taps*p.cin)
		}
		y = graph.DotGeneral(patches, []int{1}, nil, graph.Reshape(kernel, p.taps*p.cin, p.cout), []int{0}, nil)
	default:
		if p.direct {
			patches = graph.Reshape(x, p.rows, 1, p.cin)
		} else {
			patches = im2col(x, graph.Const(x.Graph(), win.indices()), win, 0)
		}
		patches = p.groupPatches(patches) // [groups, rows, taps*cg]
		yg := graph.DotGeneral(patches, []int{2}, []int{0}, p.groupKernel(kernel), []int{1}, []int{0})
		y = graph.Reshape(graph.TransposeAllDims(yg, 1, 0, 2), p.rows, p.cout) // [groups, rows, og] -> [rows, cout]
	}
	return graph.Reshape(y, win.n, win.ho, win.wo, p.cout), patches
}

func (p *convPlan) groupPatches(patches *graph.Node) *graph.Node { // [rows, taps, cin] -> [groups, rows, taps*cg]
	pt := graph.TransposeAllDims(graph.Reshape(patches, p.rows, p.taps, p.groups, p.cg), 2, 0, 1, 3)
	return graph.Reshape(pt, p.groups, p.rows, p.taps*p.cg)
}

func (p *convPlan) groupKernel(k *graph.Node) *graph.Node { // [KH,KW,cg,cout] -> [groups, taps*cg, og]
	k = graph.TransposeAllDims(graph.Reshape(k, p.taps, p.cg, p.groups, p.og), 2, 0, 1, 3)
	return graph.Reshape(k, p.groups, p.taps*p.cg, p.og)
}

// kernelGradient is patchesᵀ · v, with v [N,Ho,Wo,Cout] laid out as the patch rows.
func (p *convPlan) kernelGradient(patches, v *graph.Node) *graph.Node {
	v2 := graph.Reshape(v, p.rows, p.cout)
	var dk *graph.Node
	switch {
	case p.wide:
		dk = graph.DotGeneral(patches, []int{0}, nil, p.wl.spread(v2), []int{0}, nil) // garbage rows get zero
	case p.groups == 1:
		dk = graph.DotGeneral(patches, []int{0}, nil, v2, []int{0}, nil)
	default:
		vg := graph.TransposeAllDims(graph.Reshape(v2, p.rows, p.groups, p.og), 1, 0, 2) // [groups, rows, og]
		dkg := graph.DotGeneral(patches, []int{1}, []int{0}, vg, []int{1}, []int{0})     // [groups, taps*cg, og]
		dk = graph.TransposeAllDims(graph.Reshape(dkg, p.groups, p.taps, p.cg, p.og), 1, 2, 0, 3)
	}
	return graph.Reshape(dk, p.kd...)
}

// inputGradient is the gradient with respect to x for the incoming v [N,Ho,Wo,Cout]: for stride 1 (with
// padding <= Dilation*(K-1) and a square kernel) the convolution of v with the flipped, transposed
// kernel; otherwise v · kernelᵀ scattered back by col2im.
func (p *convPlan) inputGradient(v, kernel *graph.Node) *graph.Node {
	kh, kw, d := p.kd[0], p.kd[1], p.cfg.Dilation
	if p.cfg.Stride == 1 && p.groups == 1 && kh == kw && p.cfg.Padding <= d*(kh-1) && !p.direct {
		// flipped[kh,kw,co,ci] = kernel[KH-1-kh, KW-1-kw, ci, co].
		rev := make([]int32, p.taps)
		for t := range rev {
			rev[t] = int32(p.taps - 1 - t)
		}
		k := graph.Gather(graph.Reshape(kernel, p.taps, p.cin, p.cout),
			graph.Const(v.Graph(), tensors.FromFlatDataAndDimensions(rev, p.taps, 1)))
		k = graph.Reshape(graph.TransposeAllDims(k, 0, 2, 1), kh, kw, p.cout, p.cin)
		cfg := ConvConfig{Padding: d*(kh-1) - p.cfg.Padding, Dilation: d}
		dx, _ := newConvPlan(v, k, cfg).forward(v, k)
		return dx
	}
	v2 := graph.Reshape(v, p.rows, p.cout)
	var dPatches *graph.Node // [rows, taps, cin]
	if p.groups == 1 {
		dPatches = graph.DotGeneral(v2, []int{1}, nil, graph.Reshape(kernel, p.taps*p.cin, p.cout), []int{1}, nil)
	} else {
		vg := graph.TransposeAllDims(graph.Reshape(v2, p.rows, p.groups, p.og), 1, 0, 2) // [groups, rows, og]
		dpg := graph.DotGeneral(vg, []int{2}, []int{0}, p.groupKernel(kernel), []int{2}, []int{0})
		dPatches = graph.TransposeAllDims(graph.Reshape(dpg, p.groups, p.rows, p.taps, p.cg), 1, 2, 0, 3)
	}
	if p.direct {
		return graph.Reshape(dPatches, p.xd...)
	}
	indices := graph.Const(v.Graph(), p.win.indices())
	return col2im(graph.Reshape(dPatches, p.rows, p.taps, p.cin), indices, p.win, p.xd)
}

// nhwc lays out NHWC inputs and outputs with HWIO kernels for ConvGeneral.
var nhwc = backends.ConvolveAxesConfig{
	InputBatch: 0, InputSpatial: []int{1, 2}, InputChannels: 3,
	KernelSpatial: []int{0, 1}, KernelInputChannels: 2, KernelOutputChannels: 3,
	OutputBatch: 0, OutputSpatial: []int{1, 2}, OutputChannels: 3,
}

func (p *convPlan) nativeForward(x, kernel *graph.Node) *graph.Node {
	s, pad, d := p.cfg.Stride, p.cfg.Padding, p.cfg.Dilation
	return graph.ConvGeneral(x, kernel, nhwc, []int{s, s}, [][2]int{{pad, pad}, {pad, pad}}, []int{1, 1}, []int{d, d}, 1, 1)
}

// nativeKernelGradient is dK[kh,kw,ci,co] = Σ_{n,oy,ox} x[n, oy*s+kh*d-p, ox*s+kw*d-p, ci]·v[n,oy,ox,co]: a
// convolution of x by v with the roles swapped (channels as batch, batch as channels, stride and
// dilation exchanged), cropped at the high end where the forward pass never read.
func (p *convPlan) nativeKernelGradient(x, v *graph.Node) *graph.Node {
	s, pad, d := p.cfg.Stride, p.cfg.Padding, p.cfg.Dilation
	win := p.win
	extraH := (win.h + 2*pad - s*(win.ho-1) - 1) - d*(p.kd[0]-1)
	extraW := (win.w + 2*pad - s*(win.wo-1) - 1) - d*(p.kd[1]-1)
	axes := backends.ConvolveAxesConfig{
		InputBatch: 3, InputChannels: 0, InputSpatial: []int{1, 2},
		KernelInputChannels: 0, KernelOutputChannels: 3, KernelSpatial: []int{1, 2},
		OutputBatch: 2, OutputSpatial: []int{0, 1}, OutputChannels: 3,
	}
	return graph.ConvGeneral(x, v, axes, []int{d, d}, [][2]int{{pad, pad - extraH}, {pad, pad - extraW}},
		[]int{1, 1}, []int{s, s}, 1, 1)
}

// nativeInputGradient is the transposed convolution of v: v spread by the stride (input dilation),
// convolved with the flipped kernel whose input and output channels are exchanged.
func (p *convPlan) nativeInputGradient(v, kernel *graph.Node) *graph.Node {
	s, pad, d := p.cfg.Stride, p.cfg.Padding, p.cfg.Dilation
	kh, kw := p.kd[0], p.kd[1]
	rev := make([]int32, p.taps)
	for t := range rev {
		rev[t] = int32(p.taps - 1 - t)
	}
	k := graph.Gather(graph.Reshape(kernel, p.taps, p.cin*p.cout),
		graph.Const(v.Graph(), tensors.FromFlatDataAndDimensions(rev, p.taps, 1)))
	k = graph.Reshape(k, kh, kw, p.cin, p.cout)
	win := p.win
	remH := (win.h + 2*pad - d*(kh-1) - 1) % s
	remW := (win.w + 2*pad - d*(kw-1) - 1) % s
	loH, loW := d*(kh-1)-pad, d*(kw-1)-pad
	swapped := nhwc // the kernel's channel axes exchanged by the layout, not by a transposed copy
	swapped.KernelInputChannels, swapped.KernelOutputChannels = 3, 2
	return graph.ConvGeneral(v, k, swapped, []int{1, 1}, [][2]int{{loH, loH + remH}, {loW, loW + remW}},
		[]int{s, s}, []int{d, d}, 1, 1)
}
