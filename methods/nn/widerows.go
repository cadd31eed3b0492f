package nn

import (
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// wideLayout lays out the taps of a sliding window as row-shifted copies of the padded image, built
// from block copies only (the pure-Go backend gathers one element at a time, but concatenates whole
// blocks with memmove).
//
// The padded image is split into sh x sw phase images (pixels (i*sh+a, j*sw+b) for phase (a, b); one
// strided Slice each, only for phases some tap reads; for stride 1 the padded image itself), each of
// hq x wq pixels (l = hq*wq per image). Tap (kh, kw) reads phase ((kh*dh)%sh, (kw*dw)%sw) shifted by
// ((kh*dh)/sh, (kw*dw)/sw) pixels: on the phase images flattened to rows [N*l, C] that is a row offset,
// realised by prepending a - offset rows. Output (n, ho, wo) sits at row n*l + ho*wq + wo + a of every
// tap; the other rows (padding columns, image seams) are garbage, to be computed and discarded. Valid
// outputs never read across images.
type wideLayout struct {
	win           window
	hq, wq, l, a  int
	rows, outRows int // rows of each tap; real outputs N*Ho*Wo
}

func newWideLayout(win window) wideLayout {
	maxQh, maxQw := (win.kh-1)*win.dh/win.sh, (win.kw-1)*win.dw/win.sw
	wl := wideLayout{win: win}
	wl.hq = max((win.h+2*win.ph+win.sh-1)/win.sh, win.ho+maxQh)
	wl.wq = max((win.w+2*win.pw+win.sw-1)/win.sw, win.wo+maxQw)
	wl.l = wl.hq * wl.wq
	wl.a = maxQh*wl.wq + maxQw
	wl.rows = win.n*wl.l + wl.a
	wl.outRows = win.n * win.ho * win.wo
	return wl
}

// waste is the fraction of extra (garbage) rows relative to the real outputs.
func (wl wideLayout) waste() float64 { return float64(wl.rows)/float64(wl.outRows) - 1 }

// taps returns, for every kernel tap in (kh, kw) order, the shifted rows [rows, C] of x [N,H,W,C]
// padded with padValue. Forward only (Slice and Concatenate have no gradient on the pure-Go backend).
func (wl wideLayout) taps(x *graph.Node, padValue float64) []*graph.Node {
	win := wl.win
	g, dt := x.Graph(), x.DType()
	n, h, w, c := win.n, win.h, win.w, x.Shape().Dimensions[3]
	fill := func(dims ...int) *graph.Node {
		return graph.BroadcastToDims(graph.Scalar(g, dt, padValue), dims...)
	}
	// Pad to [N, sh*hq, sw*wq, C]: the padding on top/left, the rest (>= padding) on bottom/right.
	hp, wp := win.sh*wl.hq, win.sw*wl.wq
	padded := x
	if left, right := win.pw, wp-w-win.pw; left > 0 || right > 0 {
		parts := []*graph.Node{}
		if left > 0 {
			parts = append(parts, fill(n, h, left, c))
		}
		parts = append(parts, x)
		if right > 0 {
			parts = append(parts, fill(n, h, right, c))
		}
		padded = graph.Concatenate(parts, 2)
	}
	if top, bottom := win.ph, hp-h-win.ph; top > 0 || bottom > 0 {
		parts := []*graph.Node{}
		if top > 0 {
			parts = append(parts, fill(n, top, wp, c))
		}
		parts = append(parts, padded)
		if bottom > 0 {
			parts = append(parts, fill(n, bottom, wp, c))
		}
		padded = graph.Concatenate(parts, 1)
	}
	phases := map[[2]int]*graph.Node{}
	phase := func(a, b int) *graph.Node {
		if ph, ok := phases[[2]int{a, b}]; ok {
			return ph
		}
		ph := padded
		if win.sh > 1 || win.sw > 1 {
			ph = graph.Slice(padded, graph.AxisRange(), graph.AxisRange(a, hp).Stride(win.sh),
				graph.AxisRange(b, wp).Stride(win.sw), graph.AxisRange())
		}
		ph = graph.Reshape(ph, n*wl.l, c)
		phases[[2]int{a, b}] = ph
		return ph
	}
	shifted := make([]*graph.Node, 0, win.kh*win.kw)
	for kh := 0; kh < win.kh; kh++ {
		for kw := 0; kw < win.kw; kw++ {
			off := (kh*win.dh/win.sh)*wl.wq + kw*win.dw/win.sw
			parts := make([]*graph.Node, 0, 3)
			if wl.a-off > 0 {
				parts = append(parts, fill(wl.a-off, c)) // garbage rows: any value
			}
			parts = append(parts, phase(kh*win.dh%win.sh, kw*win.dw%win.sw))
			if off > 0 {
				parts = append(parts, fill(off, c))
			}
			if len(parts) == 1 {
				shifted = append(shifted, parts[0])
			} else {
				shifted = append(shifted, graph.Concatenate(parts, 0))
			}
		}
	}
	return shifted
}

// outputRows are the rows holding the real outputs, [N*Ho*Wo, 1] in NHW order, for Gather/ScatterSum.
func (wl wideLayout) outputRows(g *graph.Graph) *graph.Node {
	idx := make([]int32, 0, wl.outRows)
	for n := 0; n < wl.win.n; n++ {
		for ho := 0; ho < wl.win.ho; ho++ {
			for wo := 0; wo < wl.win.wo; wo++ {
				idx = append(idx, int32(n*wl.l+ho*wl.wq+wo+wl.a))
			}
		}
	}
	return graph.Const(g, tensors.FromFlatDataAndDimensions(idx, wl.outRows, 1))
}

// spread is the transpose of gathering outputRows: v [N*Ho*Wo, C] placed on the wide rows, zero elsewhere.
func (wl wideLayout) spread(v *graph.Node) *graph.Node {
	c := v.Shape().Dimensions[v.Rank()-1]
	return graph.ScatterSum(graph.Zeros(v.Graph(), shapes.Make(v.DType(), wl.rows, c)),
		wl.outputRows(v.Graph()), graph.Reshape(v, wl.outRows, c), true, true)
}
