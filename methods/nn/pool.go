package nn

import (
	"math"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
)

// MaxPool2D takes the maximum over window x window patches of x [N,H,W,C], moving by stride (0 means
// window), with padding pixels of -inf on each side: torch.nn.functional.max_pool2d (ceil_mode=false,
// dilation 1).
// Torch requires padding <= window/2, so every window sees at least one pixel.
//
// Its gradient works on every backend (GoMLX's graph.MaxPool needs SelectAndScatter, which the pure-Go
// backend lacks). When several pixels of a window tie for the max, each receives the gradient
// (torch picks one).
func MaxPool2D(x *graph.Node, window, stride, padding int) *graph.Node {
	return pool2D("MaxPool2D", x, window, stride, padding, true)
}

// AvgPool2D averages window x window patches of x [N,H,W,C], moving by stride (0 means window), with zero padding
// counted in the average: torch.nn.functional.avg_pool2d defaults (count_include_pad=true,
// ceil_mode=false). Its gradient works on every backend.
func AvgPool2D(x *graph.Node, window, stride, padding int) *graph.Node {
	return pool2D("AvgPool2D", x, window, stride, padding, false)
}

// poolWideMaxWaste bounds the garbage rows (relative to the outputs) of the row-shifted pooling form,
// which costs about a nanosecond per tap and row against some fifteen for gathered windows on the
// pure-Go backend. A variable so tests can force either form.
var poolWideMaxWaste = 3.0

func pool2D(op string, x *graph.Node, size, stride, padding int, isMax bool) *graph.Node {
	if x.Rank() != 4 {
		panicf("nn.%s: want x [N,H,W,C], got %s", op, x.Shape())
	}
	if stride == 0 {
		stride = size
	}
	if 2*padding > size {
		panicf("nn.%s: padding %d must be at most half the window %d", op, padding, size)
	}
	d := x.Shape().Dimensions
	win := newWindow(op, d[0], d[1], d[2], size, size, stride, stride, padding, padding, 1, 1)
	c := d[3]

	// Non-overlapping windows that tile the image exactly: reshape into blocks and reduce.
	if stride == size && padding == 0 && d[1] == win.ho*size && d[2] == win.wo*size {
		blocks := graph.Reshape(x, d[0], win.ho, size, win.wo, size, c)
		if isMax {
			return graph.ReduceMax(blocks, 2, 4)
		}
		return graph.MulScalar(graph.ReduceSum(blocks, 2, 4), 1/float64(size*size))
	}

	padValue := 0.0
	if isMax {
		padValue = math.Inf(-1)
	}
	// One custom-gradient op. Forward: the taps as row-shifted copies of the padded image reduced
	// elementwise (block copies and vector ops, see wideLayout) while garbage rows stay few, else the
	// gathered windows reduced. Backward: v routed to the window elements (the max ones, or all with
	// weight 1/window²) and scatter-added back (col2im).
	indices := graph.Const(x.Graph(), win.indices())
	taps := float64(size * size)
	wl := newWideLayout(win)
	wide := wl.waste() < poolWideMaxWaste
	reduce := graph.Add
	if isMax {
		reduce = graph.Max
	}
	var patches *graph.Node // [N*Ho*Wo, size*size, C]
	native := nativeOps(x.Graph())
	out := withCustomGradient([]*graph.Node{x},
		func(in []*graph.Node) *graph.Node {
			var y *graph.Node
			if native {
				kind := backends.ReduceOpSum
				if isMax {
					kind = backends.ReduceOpMax
				}
				y = graph.BackendReduceWindow(in[0], kind, []int{1, size, size, 1}, []int{1, stride, stride, 1}, nil, nil,
					[][2]int{{0, 0}, {padding, padding}, {padding, padding}, {0, 0}})
				if !isMax {
					y = graph.MulScalar(y, 1/taps)
				}
				return graph.Reshape(y, win.n*win.ho*win.wo, c)
			}
			if wide {
				shifted := wl.taps(in[0], padValue)
				y = shifted[0]
				for _, t := range shifted[1:] {
					y = reduce(y, t)
				}
				y = graph.Gather(y, wl.outputRows(x.Graph())) // [N*Ho*Wo, C]
			} else {
				patches = im2col(in[0], indices, win, padValue)
				if isMax {
					y = graph.ReduceMax(patches, 1)
				} else {
					y = graph.ReduceSum(patches, 1)
				}
			}
			if !isMax {
				y = graph.MulScalar(y, 1/taps)
			}
			return y
		},
		func(in []*graph.Node, out, v *graph.Node) []*graph.Node {
			if patches == nil {
				patches = im2col(in[0], indices, win, padValue)
			}
			vb := graph.BroadcastToShape(graph.InsertAxes(v, 1), patches.Shape())
			var dPatches *graph.Node
			if isMax {
				atMax := graph.Equal(patches, graph.BroadcastToShape(graph.InsertAxes(out, 1), patches.Shape()))
				dPatches = graph.Where(atMax, vb, graph.ZerosLike(vb))
			} else {
				dPatches = graph.MulScalar(vb, 1/taps)
			}
			return []*graph.Node{col2im(dPatches, indices, win, d)}
		})
	return graph.Reshape(out, win.n, win.ho, win.wo, c)
}
