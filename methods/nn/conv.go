package nn

import (
	"github.com/gomlx/gomlx/pkg/core/graph"
)

// ConvConfig configures Conv2D. Zero values mean Stride 1, Padding 0, Dilation 1, Groups 1.
// Kernels, strides, padding and dilation are square (the same on both spatial axes).
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

// Conv2D convolves x [N,H,W,Cin] (NHWC) with kernel [KH,KW,Cin/Groups,Cout] (HWIO), returning
// [N,Ho,Wo,Cout] with PyTorch's torch.nn.functional.conv2d semantics (cross-correlation, zero padding,
// Ho = floor((H + 2*Padding - Dilation*(KH-1) - 1)/Stride) + 1).
//
// It gathers the input patches (im2col) and multiplies them by the kernel with one MatMul, so forward
// and backward run on every backend, at MatMul speed, on the pure-Go one.
//
// See also ConvTranspose2D and the context layer Conv.
func Conv2D(x, kernel *graph.Node, cfg ConvConfig) *graph.Node {
	cfg = cfg.withDefaults()
	if x.Rank() != 4 || kernel.Rank() != 4 {
		panicf("nn.Conv2D: want x [N,H,W,Cin] and kernel [KH,KW,Cin/Groups,Cout], got x %s and kernel %s",
			x.Shape(), kernel.Shape())
	}
	xd, kd := x.Shape().Dimensions, kernel.Shape().Dimensions
	cin, cout, groups := xd[3], kd[3], cfg.Groups
	if groups < 1 || cin%groups != 0 || cout%groups != 0 || kd[2]*groups != cin {
		panicf("nn.Conv2D: x %s and kernel %s do not match Groups=%d (kernel must be [KH,KW,Cin/Groups,Cout])",
			x.Shape(), kernel.Shape(), groups)
	}
	if kernel.DType() != x.DType() {
		panicf("nn.Conv2D: x dtype %s and kernel dtype %s differ", x.DType(), kernel.DType())
	}
	win := newWindow("Conv2D", xd[0], xd[1], xd[2], kd[0], kd[1], cfg.Stride, cfg.Stride,
		cfg.Padding, cfg.Padding, cfg.Dilation, cfg.Dilation)
	taps := kd[0] * kd[1]
	rows := win.n * win.ho * win.wo

	cg, og := cin/groups, cout/groups
	// 1x1 kernels without stride or padding need no gathering at all.
	direct := taps == 1 && !win.needsPadding() && win.sh == 1 && win.sw == 1
	var indices *graph.Node
	if !direct {
		indices = graph.Const(x.Graph(), win.indices())
	}
	groupPatches := func(p *graph.Node) *graph.Node { // [rows, taps, cin] -> [groups, rows, taps*cg]
		p = graph.TransposeAllDims(graph.Reshape(p, rows, taps, groups, cg), 2, 0, 1, 3)
		return graph.Reshape(p, groups, rows, taps*cg)
	}
	groupKernel := func(k *graph.Node) *graph.Node { // [KH,KW,cg,cout] -> [groups, taps*cg, og]
		k = graph.TransposeAllDims(graph.Reshape(k, taps, cg, groups, og), 2, 0, 1, 3)
		return graph.Reshape(k, groups, taps*cg, og)
	}

	// One custom-gradient op for im2col and the product, so the large patches tensor carries no
	// gradient bookkeeping: backward is two products and a col2im scatter.
	var patches *graph.Node // [rows, taps, cin], built by forward, reused by backward
	out := withCustomGradient([]*graph.Node{x, kernel},
		func(in []*graph.Node) *graph.Node {
			if direct {
				patches = graph.Reshape(in[0], rows, 1, cin)
			} else {
				patches = im2col(in[0], indices, win, 0)
			}
			if groups == 1 {
				return graph.DotGeneral(graph.Reshape(patches, rows, taps*cin), []int{1}, nil,
					graph.Reshape(in[1], taps*cin, cout), []int{0}, nil)
			}
			y := graph.DotGeneral(groupPatches(patches), []int{2}, []int{0}, groupKernel(in[1]), []int{1}, []int{0})
			return graph.Reshape(graph.TransposeAllDims(y, 1, 0, 2), rows, cout) // [groups, rows, og] -> [rows, cout]
		},
		func(in []*graph.Node, _, v *graph.Node) []*graph.Node { // v: [rows, cout]
			var dPatches, dKernel *graph.Node
			if groups == 1 {
				dPatches = graph.DotGeneral(v, []int{1}, nil, graph.Reshape(in[1], taps*cin, cout), []int{1}, nil)
				dKernel = graph.DotGeneral(graph.Reshape(patches, rows, taps*cin), []int{0}, nil, v, []int{0}, nil)
			} else {
				vg := graph.TransposeAllDims(graph.Reshape(v, rows, groups, og), 1, 0, 2) // [groups, rows, og]
				dpg := graph.DotGeneral(vg, []int{2}, []int{0}, groupKernel(in[1]), []int{2}, []int{0})
				dPatches = graph.TransposeAllDims(graph.Reshape(dpg, groups, rows, taps, cg), 1, 2, 0, 3)
				dkg := graph.DotGeneral(groupPatches(patches), []int{1}, []int{0}, vg, []int{1}, []int{0})
				dKernel = graph.TransposeAllDims(graph.Reshape(dkg, groups, taps, cg, og), 1, 2, 0, 3)
			}
			dKernel = graph.Reshape(dKernel, kd...)
			var dx *graph.Node
			if direct {
				dx = graph.Reshape(dPatches, xd...)
			} else {
				dx = col2im(graph.Reshape(dPatches, rows, taps, cin), indices, win, xd)
			}
			return []*graph.Node{dx, dKernel}
		})
	return graph.Reshape(out, win.n, win.ho, win.wo, cout)
}
