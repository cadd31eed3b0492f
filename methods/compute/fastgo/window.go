package fastgo

import (
	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

// lowerReduceWindow: pooling windows (max, min, sum, product) with strides, window dilation and
// padding; padded positions take no part (the reduction's identity, as in XLA). When the innermost
// axis is untouched by the window (channels last), each window position reduces a contiguous run.
func lowerReduceWindow(n *Node) (kernel, error) {
	in := n.inputs[0].shape
	red := n.args[1].(backends.ReduceOpType)
	win, strides, baseDil, winDil := n.args[2].([]int), n.args[3].([]int), n.args[4].([]int), n.args[5].([]int)
	pads := n.args[6].([][2]int)
	r := in.Rank()
	at := func(l []int, i int) int {
		if i < len(l) && l[i] > 0 {
			return l[i]
		}
		return 1
	}
	for a := range r {
		if at(baseDil, a) != 1 {
			return nil, unsupportedf("ReduceWindow with base dilation")
		}
	}
	p := &windowPlan{in: in.Dimensions, out: n.shape.Dimensions, inSt: stridesOf(in.Dimensions)}
	for a := range r {
		p.win = append(p.win, at(win, a))
		if len(strides) == 0 { // no strides: windows do not overlap, as in the shape inference
			p.stride = append(p.stride, p.win[a])
		} else {
			p.stride = append(p.stride, at(strides, a))
		}
		p.dil = append(p.dil, at(winDil, a))
		lo := 0
		if a < len(pads) {
			lo = pads[a][0]
		}
		p.padLo = append(p.padLo, lo)
	}
	p.run = 1
	if last := r - 1; r > 0 && p.win[last] == 1 && p.stride[last] == 1 && p.padLo[last] == 0 {
		p.run = in.Dimensions[last]
		p.axes = r - 1
	} else {
		p.axes = r
	}
	switch in.DType {
	case dtypes.Float32:
		return windowKernel[float32](p, red)
	case dtypes.Float64:
		return windowKernel[float64](p, red)
	}
	return nil, unsupportedf("ReduceWindow on %s", in.DType)
}

type windowPlan struct {
	in, out, inSt           []int
	win, stride, dil, padLo []int
	axes                    int // leading axes walked explicitly; the rest is a contiguous run
	run                     int
}

func windowKernel[T float](p *windowPlan, red backends.ReduceOpType) (kernel, error) {
	var init T
	var acc func(a, x T) T
	switch red {
	case backends.ReduceOpSum:
		init, acc = 0, func(a, x T) T { return a + x }
	case backends.ReduceOpProduct:
		init, acc = 1, func(a, x T) T { return a * x }
	case backends.ReduceOpMax:
		init, acc = lowest[T](), func(a, x T) T {
			if x > a || x != x {
				return x
			}
			return a
		}
	case backends.ReduceOpMin:
		init, acc = highest[T](), func(a, x T) T {
			if x < a || x != x {
				return x
			}
			return a
		}
	default:
		return nil, unsupportedf("ReduceWindow %v", red)
	}
	isMax := red == backends.ReduceOpMax
	return func(ins []tensor, out tensor) {
		x, o := ins[0].data.([]T), out.data.([]T)
		nOut := len(o) / p.run
		parallelFor(nOut, max(1, elementGrain/(p.run*8)), func(lo, hi int) {
			oIdx := make([]int, p.axes)
			wIdx := make([]int, p.axes)
			for q := lo; q < hi; q++ {
				rem := q
				for a := p.axes - 1; a >= 0; a-- {
					oIdx[a] = rem % p.out[a]
					rem /= p.out[a]
				}
				dst := o[q*p.run : (q+1)*p.run]
				for j := range dst {
					dst[j] = init
				}
				for a := range wIdx {
					wIdx[a] = 0
				}
				for {
					off, ok := 0, true
					for a := 0; a < p.axes; a++ {
						i := oIdx[a]*p.stride[a] - p.padLo[a] + wIdx[a]*p.dil[a]
						if i < 0 || i >= p.in[a] {
							ok = false
							break
						}
						off += i * p.inSt[a]
					}
					if ok {
						src := x[off : off+p.run]
						if isMax { // the pooling hot path, without a call per element
							for j, v := range src {
								if v > dst[j] || v != v {
									dst[j] = v
								}
							}
						} else {
							for j, v := range src {
								dst[j] = acc(dst[j], v)
							}
						}
					}
					if !odometer(wIdx, p.win[:p.axes]) {
						break
					}
				}
			}
		})
	}, nil
}
