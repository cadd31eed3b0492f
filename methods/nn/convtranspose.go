package nn

import (
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// ConvTransposeConfig configures ConvTranspose2D. Zero values mean Stride 1, Padding 0,
// OutputPadding 0, Dilation 1, Groups 1 (square, as ConvConfig).
type ConvTransposeConfig struct {
	// Stride is the upsampling step; default 1.
	Stride int
	// Padding crops this many rows/columns from each side of the output, as torch; default 0.
	Padding int
	// OutputPadding adds rows/columns at the bottom/right of the output (must be < Stride or Dilation).
	OutputPadding int
	// Dilation is the spacing between kernel taps; default 1.
	Dilation int
	// Groups splits channels into independent groups; default 1.
	Groups int
}

// ConvTranspose2D is the transposed convolution (the gradient of Conv2D with respect to its input),
// with torch.nn.functional.conv_transpose2d semantics: x [N,H,W,Cin], kernel [KH,KW,Cin,Cout/Groups]
// (torch's weight [Cin, Cout/Groups, KH, KW] permuted (2,3,0,1)), output [N,Ho,Wo,Cout] with
// Ho = (H-1)*Stride - 2*Padding + Dilation*(KH-1) + OutputPadding + 1.
//
// It multiplies every input pixel by the kernel (one MatMul) and scatter-adds the products into the
// output (col2im), so it spends no work on inserted zeros and trains on every backend.
func ConvTranspose2D(x, kernel *graph.Node, cfg ConvTransposeConfig) *graph.Node {
	if cfg.Stride == 0 {
		cfg.Stride = 1
	}
	if cfg.Dilation == 0 {
		cfg.Dilation = 1
	}
	if cfg.Groups == 0 {
		cfg.Groups = 1
	}
	if x.Rank() != 4 || kernel.Rank() != 4 {
		panicf("nn.ConvTranspose2D: want x [N,H,W,Cin] and kernel [KH,KW,Cin,Cout/Groups], got %s and %s",
			x.Shape(), kernel.Shape())
	}
	xd, kd := x.Shape().Dimensions, kernel.Shape().Dimensions
	n, h, w, cin := xd[0], xd[1], xd[2], xd[3]
	kh, kw, groups := kd[0], kd[1], cfg.Groups
	s, p, d, op := cfg.Stride, cfg.Padding, cfg.Dilation, cfg.OutputPadding
	if groups < 1 || kd[2] != cin || cin%groups != 0 {
		panicf("nn.ConvTranspose2D: x %s and kernel %s do not match Groups=%d", x.Shape(), kernel.Shape(), groups)
	}
	if s < 1 || d < 1 || p < 0 || op < 0 || (op >= s && op >= d) {
		panicf("nn.ConvTranspose2D: invalid Stride=%d Padding=%d Dilation=%d OutputPadding=%d "+
			"(OutputPadding must be smaller than Stride or Dilation)", s, p, d, op)
	}
	cog := kd[3]
	cout := cog * groups
	ho := (h-1)*s - 2*p + d*(kh-1) + op + 1
	wo := (w-1)*s - 2*p + d*(kw-1) + op + 1
	if ho < 1 || wo < 1 {
		panicf("nn.ConvTranspose2D: output would be %dx%d for input %dx%d", ho, wo, h, w)
	}
	rows, taps := n*h*w, kh*kw

	// Kernel == stride without padding: output windows tile the image, so the scatter is a
	// depth-to-space rearrangement (reshape and transpose, differentiable everywhere).
	if groups == 1 && kh == s && kw == s && p == 0 && op == 0 && d == 1 {
		k := graph.Reshape(graph.TransposeAllDims(kernel, 2, 0, 1, 3), cin, taps*cout)
		y := graph.Reshape(MatMul(graph.Reshape(x, rows, cin), k), n, h, w, kh, kw, cout)
		return graph.Reshape(graph.TransposeAllDims(y, 0, 1, 3, 2, 4, 5), n, ho, wo, cout)
	}

	// cols[(pixel, tap), cout]: every input pixel times every kernel tap.
	var cols *graph.Node
	if groups == 1 {
		k := graph.Reshape(graph.TransposeAllDims(kernel, 2, 0, 1, 3), cin, taps*cout)
		cols = MatMul(graph.Reshape(x, rows, cin), k)
	} else {
		cig := cin / groups
		xg := graph.TransposeAllDims(graph.Reshape(x, rows, groups, cig), 1, 0, 2)
		k := graph.Reshape(kernel, kh, kw, groups, cig, cog)
		k = graph.Reshape(graph.TransposeAllDims(k, 2, 3, 0, 1, 4), groups, cig, taps*cog)
		cols = batchMatMul(xg, k) // [groups, rows, taps*cog]
		cols = graph.TransposeAllDims(graph.Reshape(cols, groups, rows, taps, cog), 1, 2, 0, 3)
	}
	cols = graph.Reshape(cols, rows*taps, cout)

	// Output row of every (pixel, tap), or the dump row n*ho*wo when it falls in the cropped padding.
	outRows := n * ho * wo
	idx := make([]int32, 0, rows*taps)
	for b := 0; b < n; b++ {
		for iy := 0; iy < h; iy++ {
			for ix := 0; ix < w; ix++ {
				for ky := 0; ky < kh; ky++ {
					oy := iy*s - p + ky*d
					for kx := 0; kx < kw; kx++ {
						ox := ix*s - p + kx*d
						if oy < 0 || oy >= ho || ox < 0 || ox >= wo {
							idx = append(idx, int32(outRows))
						} else {
							idx = append(idx, int32((b*ho+oy)*wo+ox))
						}
					}
				}
			}
		}
	}
	indices := graph.Const(x.Graph(), tensors.FromFlatDataAndDimensions(idx, rows*taps, 1))
	out := scatterRows(cols, indices, outRows)
	return graph.Reshape(out, n, ho, wo, cout)
}

// scatterRows adds the rows of updates [M, C] into a zero [outRows, C] at indices [M, 1]; indices equal
// to outRows are dropped. The gradient with respect to updates gathers the incoming rows back (zero
// for dropped ones); written as a custom gradient since Slice's own needs Pad.
func scatterRows(updates, indices *graph.Node, outRows int) *graph.Node {
	c := updates.Shape().Dimensions[1]
	return withCustomGradient([]*graph.Node{updates},
		func(in []*graph.Node) *graph.Node {
			full := graph.ScatterSum(graph.Zeros(updates.Graph(), shapes.Make(updates.DType(), outRows+1, c)),
				indices, in[0], false, false)
			return graph.Slice(full, graph.AxisRange(0, outRows))
		},
		func(_ []*graph.Node, _, v *graph.Node) []*graph.Node {
			padded := graph.Concatenate([]*graph.Node{v, graph.Zeros(v.Graph(), shapes.Make(v.DType(), 1, c))}, 0)
			return []*graph.Node{graph.Gather(padded, indices)}
		})
}
