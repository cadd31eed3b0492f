package nn

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// window describes a 2D sliding window over an NHWC image: sizes, strides, zero padding (top/left and
// bottom/right, equal in torch) and dilation, per spatial axis.
type window struct {
	kh, kw  int
	sh, sw  int
	ph, pw  int
	dh, dw  int
	ho, wo  int // output spatial size
	n, h, w int // input batch and spatial size
}

// newWindow validates a window over an input [n, h, w, ...] and computes the torch output size
// floor((h + 2p - d*(k-1) - 1)/s) + 1.
func newWindow(op string, n, h, w, kh, kw, sh, sw, ph, pw, dh, dw int) window {
	if kh < 1 || kw < 1 || sh < 1 || sw < 1 || ph < 0 || pw < 0 || dh < 1 || dw < 1 {
		panicf("nn.%s: invalid window kernel=%dx%d stride=%dx%d padding=%dx%d dilation=%dx%d",
			op, kh, kw, sh, sw, ph, pw, dh, dw)
	}
	win := window{kh: kh, kw: kw, sh: sh, sw: sw, ph: ph, pw: pw, dh: dh, dw: dw, n: n, h: h, w: w}
	win.ho = (h+2*ph-dh*(kh-1)-1)/sh + 1
	win.wo = (w+2*pw-dw*(kw-1)-1)/sw + 1
	if h+2*ph-dh*(kh-1)-1 < 0 || w+2*pw-dw*(kw-1)-1 < 0 || win.ho < 1 || win.wo < 1 {
		panicf("nn.%s: input %dx%d too small for kernel %dx%d (dilation %dx%d, padding %dx%d)",
			op, h, w, kh, kw, dh, dw, ph, pw)
	}
	return win
}

// indices returns, for every output position (n, ho, wo) and kernel tap (kh, kw), the row of the
// flattened input [n*h*w, C] it reads, or n*h*w (a padding row) when the tap falls in the padding.
// Shape [n*ho*wo, kh*kw, 1], int32, row-major over (n, ho, wo) and (kh, kw).
func (win window) indices() *tensors.Tensor {
	rows := win.n * win.h * win.w
	if rows >= 1<<31-1 {
		panic(fmt.Sprintf("nn: input with %d pixels is too large for int32 gather indices", rows))
	}
	idx := make([]int32, win.n*win.ho*win.wo*win.kh*win.kw)
	pos := 0
	for n := 0; n < win.n; n++ {
		for oy := 0; oy < win.ho; oy++ {
			for ox := 0; ox < win.wo; ox++ {
				for ky := 0; ky < win.kh; ky++ {
					iy := oy*win.sh - win.ph + ky*win.dh
					for kx := 0; kx < win.kw; kx++ {
						ix := ox*win.sw - win.pw + kx*win.dw
						if iy < 0 || iy >= win.h || ix < 0 || ix >= win.w {
							idx[pos] = int32(rows)
						} else {
							idx[pos] = int32((n*win.h+iy)*win.w + ix)
						}
						pos++
					}
				}
			}
		}
	}
	t := tensors.FromFlatDataAndDimensions(idx, win.n*win.ho*win.wo, win.kh*win.kw, 1)
	return t
}

// needsPadding reports whether any window tap falls outside the input.
func (win window) needsPadding() bool {
	if win.ph > 0 || win.pw > 0 {
		return true
	}
	return false
}

// im2col returns the windows of x [N,H,W,C] as [N*Ho*Wo, KH*KW, C], out-of-image taps reading padValue:
// x flattened to [N*H*W, C], one padValue row appended (Concatenate copies whole blocks), then one
// Gather with the precomputed indices. Forward only: Conv2D and the pooling ops wrap it in custom gradients.
func im2col(x, indices *graph.Node, win window, padValue float64) *graph.Node {
	dims := x.Shape().Dimensions
	rows, c := dims[0]*dims[1]*dims[2], dims[3]
	src := graph.Reshape(x, rows, c)
	if win.needsPadding() {
		padRow := graph.BroadcastToDims(graph.Scalar(x.Graph(), x.DType(), padValue), 1, c)
		src = graph.Concatenate([]*graph.Node{src, padRow}, 0)
	}
	return graph.Gather(src, indices)
}

// col2im is the transpose of im2col: it scatter-adds patches [N*Ho*Wo, KH*KW, C] back into an image of
// xDims [N,H,W,C], dropping what falls in the padding.
func col2im(patches, indices *graph.Node, win window, xDims []int) *graph.Node {
	rows, c := xDims[0]*xDims[1]*xDims[2], xDims[3]
	srcRows := rows
	if win.needsPadding() {
		srcRows++
	}
	img := graph.ScatterSum(graph.Zeros(patches.Graph(), shapes.Make(patches.DType(), srcRows, c)),
		indices, patches, false, false)
	if win.needsPadding() {
		img = graph.Slice(img, graph.AxisRange(0, rows))
	}
	return graph.Reshape(img, xDims...)
}

// panicf panics with a formatted error: graph-building code reports bad shapes by panicking, as GoMLX does.
func panicf(format string, args ...any) {
	panic(fmt.Errorf(format, args...))
}
