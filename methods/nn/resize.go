package nn

import (
	"math"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// UpsampleNearest resizes x [N,H,W,C] to [N,outH,outW,C] by nearest neighbour with torch's
// F.interpolate(mode="nearest") rule: source index floor(dst * in/out), computed in float32 as torch.
func UpsampleNearest(x *graph.Node, outH, outW int) *graph.Node {
	checkResize("UpsampleNearest", x, outH, outW)
	d := x.Shape().Dimensions
	nearest := func(in, out int) []int {
		scale := float32(in) / float32(out)
		idx := make([]int, out)
		for i := range idx {
			idx[i] = min(int(float32(math.Floor(float64(float32(i)*scale)))), in-1)
		}
		return idx
	}
	y := gatherAxis(x, 1, nearest(d[1], outH), nil)
	return gatherAxis(y, 2, nearest(d[2], outW), nil)
}

// UpsampleBilinear resizes x [N,H,W,C] to [N,outH,outW,C] by bilinear interpolation with torch's
// F.interpolate(mode="bilinear", align_corners=alignCorners) rule (no antialiasing). Used to bring
// anomaly maps back to the input resolution; also downsamples, as torch does, without antialiasing.
func UpsampleBilinear(x *graph.Node, outH, outW int, alignCorners bool) *graph.Node {
	checkResize("UpsampleBilinear", x, outH, outW)
	d := x.Shape().Dimensions
	y := linearAxis(x, 1, d[1], outH, alignCorners)
	return linearAxis(y, 2, d[2], outW, alignCorners)
}

func checkResize(op string, x *graph.Node, outH, outW int) {
	if x.Rank() != 4 || outH < 1 || outW < 1 {
		panicf("nn.%s: want x [N,H,W,C] and a positive size, got %s and %dx%d", op, x.Shape(), outH, outW)
	}
}

// linearAxis interpolates x along a spatial axis (1 or 2) from in to out samples, torch's linear rule.
func linearAxis(x *graph.Node, axis, in, out int, alignCorners bool) *graph.Node {
	i0, i1 := make([]int, out), make([]int, out)
	w1 := make([]float64, out)
	for o := 0; o < out; o++ {
		var src float64
		if alignCorners {
			if out > 1 {
				src = float64(o) * float64(in-1) / float64(out-1)
			}
		} else {
			src = (float64(o)+0.5)*float64(in)/float64(out) - 0.5
			src = max(src, 0)
		}
		lo := min(int(src), in-1)
		i0[o], w1[o] = lo, src-float64(lo)
		i1[o] = min(lo+1, in-1)
	}
	w0 := make([]float64, out)
	for o := range w0 {
		w0[o] = 1 - w1[o]
	}
	return graph.Add(gatherAxis(x, axis, i0, w0), gatherAxis(x, axis, i1, w1))
}

// gatherAxis picks, along spatial axis 1 or 2 of x [N,H,W,C], the positions idx (one per output
// position), optionally multiplied by weights. It gathers whole contiguous rows (no transposes);
// Gather's gradient (ScatterSum) works on every backend.
func gatherAxis(x *graph.Node, axis int, idx []int, weights []float64) *graph.Node {
	d := x.Shape().Dimensions
	outer := d[0] // number of independent blocks before the axis
	if axis == 2 {
		outer *= d[1]
	}
	inLen := d[axis]
	out := len(idx)
	flat := make([]int32, 0, outer*out)
	for b := 0; b < outer; b++ {
		for _, i := range idx {
			flat = append(flat, int32(b*inLen+i))
		}
	}
	rowSize := x.Shape().Size() / (outer * inLen)
	src := graph.Reshape(x, outer*inLen, rowSize)
	y := graph.Gather(src, graph.Const(x.Graph(), tensors.FromFlatDataAndDimensions(flat, outer*out, 1)))
	if weights != nil {
		wf := make([]float64, 0, outer*out)
		for b := 0; b < outer; b++ {
			wf = append(wf, weights...)
		}
		wt := graph.ConvertDType(graph.Const(x.Graph(), tensors.FromFlatDataAndDimensions(wf, outer*out, 1)), x.DType())
		y = graph.Mul(y, wt)
	}
	outDims := append([]int(nil), d...)
	outDims[axis] = out
	return graph.Reshape(y, outDims...)
}

// AdaptiveAvgPool2D averages x [N,H,W,C] into [N,outH,outW,C] cells, torch's adaptive_avg_pool2d: output
// cell i covers input rows floor(i*H/outH) to ceil((i+1)*H/outH) (exclusive). Written as two small
// matrix products, so it trains fast on every backend.
func AdaptiveAvgPool2D(x *graph.Node, outH, outW int) *graph.Node {
	checkResize("AdaptiveAvgPool2D", x, outH, outW)
	d := x.Shape().Dimensions
	h, w := d[1], d[2]
	g := x.Graph()
	pool := func(in, out int) *graph.Node { // [in, out] averaging weights
		m := make([]float64, in*out)
		for o := 0; o < out; o++ {
			start, end := o*in/out, ((o+1)*in+out-1)/out
			for i := start; i < end; i++ {
				m[i*out+o] = 1 / float64(end-start)
			}
		}
		return graph.ConvertDType(graph.Const(g, tensors.FromFlatDataAndDimensions(m, in, out)), x.DType())
	}
	y := MatMul(graph.TransposeAllDims(x, 0, 2, 3, 1), pool(h, outH)) // [N,W,C,outH]
	y = MatMul(graph.TransposeAllDims(y, 0, 3, 2, 1), pool(w, outW))  // [N,outH,C,outW]
	return graph.TransposeAllDims(y, 0, 1, 3, 2)
}
