package fastgo

import (
	"math"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

// reducePlan collapses the input's axes into alternating groups of kept and reduced axes, so a
// reduction streams the input once: a reduced innermost group is a contiguous run summed into one
// accumulator, a kept innermost group a vector accumulated into the output.
type reducePlan struct {
	dims    []int  // collapsed group sizes
	reduced []bool // per group
}

func newReducePlan(inDims []int, axes []int) reducePlan {
	red := make([]bool, len(inDims))
	for _, a := range axes {
		red[a] = true
	}
	var p reducePlan
	for a, d := range inDims {
		if d == 1 {
			continue // size-1 axes change nothing
		}
		if len(p.dims) > 0 && p.reduced[len(p.dims)-1] == red[a] {
			p.dims[len(p.dims)-1] *= d
			continue
		}
		p.dims = append(p.dims, d)
		p.reduced = append(p.reduced, red[a])
	}
	return p
}

type reducer[T number] struct {
	init T
	acc  func(a, x T) T
}

func lowerReduce(n *Node) (kernel, error) {
	axes := n.args[1].([]int)
	in := n.inputs[0].shape
	if len(axes) == 0 && n.shape.Rank() == 0 && in.Rank() > 0 {
		// The pure-Go backend reads no axes as all axes (its shape says so); follow it.
		for a := range in.Rank() {
			axes = append(axes, a)
		}
	}
	p := newReducePlan(in.Dimensions, axes)
	switch n.shape.DType {
	case dtypes.Float32:
		return reduceKernel[float32](n.op, p)
	case dtypes.Float64:
		return reduceKernel[float64](n.op, p)
	case dtypes.Int32:
		return reduceKernel[int32](n.op, p)
	case dtypes.Int64:
		return reduceKernel[int64](n.op, p)
	}
	return nil, unsupportedf("%s of %s", n.op, n.shape.DType)
}

func lowest[T number]() T {
	var z T
	switch any(z).(type) {
	case float32:
		return any(float32(math.Inf(-1))).(T)
	case float64:
		return any(math.Inf(-1)).(T)
	case int32:
		return any(int32(math.MinInt32)).(T)
	case int64:
		return any(int64(math.MinInt64)).(T)
	}
	return 0
}

func highest[T number]() T {
	var z T
	switch any(z).(type) {
	case float32:
		return any(float32(math.Inf(1))).(T)
	case float64:
		return any(math.Inf(1)).(T)
	case int32:
		return any(int32(math.MaxInt32)).(T)
	case int64:
		return any(int64(math.MaxInt64)).(T)
	}
	return 0
}

func reduceKernel[T number](op backends.OpType, p reducePlan) (kernel, error) {
	var r reducer[T]
	sum := false
	switch op {
	case backends.OpTypeReduceSum:
		r = reducer[T]{0, func(a, x T) T { return a + x }}
		sum = true
	case backends.OpTypeReduceProduct:
		r = reducer[T]{1, func(a, x T) T { return a * x }}
	case backends.OpTypeReduceMax:
		r = reducer[T]{lowest[T](), func(a, x T) T {
			if x > a || x != x {
				return x
			}
			return a
		}}
	case backends.OpTypeReduceMin:
		r = reducer[T]{highest[T](), func(a, x T) T {
			if x < a || x != x {
				return x
			}
			return a
		}}
	default:
		return nil, unsupportedf("reduction %s", op)
	}
	return func(ins []tensor, out tensor) {
		in, o := ins[0].data.([]T), out.data.([]T)
		for i := range o {
			o[i] = r.init
		}
		if len(in) == 0 {
			return
		}
		if len(p.dims) == 0 { // every axis has size 1
			copy(o, in)
			return
		}
		// Split the outermost group over the cores when it is kept (disjoint outputs).
		inner := len(in) / p.dims[0]
		outInner := len(o)
		if !p.reduced[0] {
			outInner = len(o) / p.dims[0]
			parallelFor(p.dims[0], max(1, elementGrain/max(1, inner)), func(lo, hi int) {
				for i := lo; i < hi; i++ {
					reduceGroups(in[i*inner:(i+1)*inner], o[i*outInner:(i+1)*outInner], p.dims[1:], p.reduced[1:], r, sum)
				}
			})
			return
		}
		reduceGroups(in, o, p.dims, p.reduced, r, sum)
	}, nil
}

// reduceGroups accumulates in (groups dims/reduced) into o.
func reduceGroups[T number](in, o []T, dims []int, reduced []bool, r reducer[T], sum bool) {
	if len(dims) == 0 {
		o[0] = r.acc(o[0], in[0])
		return
	}
	if len(dims) == 1 {
		if reduced[0] {
			if sum {
				// Sums of long runs accumulate in float64: float32 rounding would grow with the run.
				var s float64
				for _, x := range in {
					s += float64(x)
				}
				o[0] += T(s)
				return
			}
			a := o[0]
			for _, x := range in {
				a = r.acc(a, x)
			}
			o[0] = a
			return
		}
		if sum {
			for j, x := range in {
				o[j] += x
			}
			return
		}
		for j, x := range in {
			o[j] = r.acc(o[j], x)
		}
		return
	}
	inner := len(in) / dims[0]
	if reduced[0] {
		for i := 0; i < dims[0]; i++ {
			reduceGroups(in[i*inner:(i+1)*inner], o, dims[1:], reduced[1:], r, sum)
		}
		return
	}
	outInner := len(o) / dims[0]
	for i := 0; i < dims[0]; i++ {
		reduceGroups(in[i*inner:(i+1)*inner], o[i*outInner:(i+1)*outInner], dims[1:], reduced[1:], r, sum)
	}
}

func lowerArgMinMax(n *Node) (kernel, error) {
	axis, isMin := n.args[1].(int), n.args[3].(bool)
	set, ok := setters[n.shape.DType]
	if !ok {
		return nil, unsupportedf("ArgMinMax to %s", n.shape.DType)
	}
	dims := n.inputs[0].shape.Dimensions
	outer, inner := 1, 1
	for _, d := range dims[:axis] {
		outer *= d
	}
	for _, d := range dims[axis+1:] {
		inner *= d
	}
	size := dims[axis]
	switch n.inputs[0].shape.DType {
	case dtypes.Float32:
		return argKernel[float32](outer, size, inner, isMin, set), nil
	case dtypes.Float64:
		return argKernel[float64](outer, size, inner, isMin, set), nil
	case dtypes.Int32:
		return argKernel[int32](outer, size, inner, isMin, set), nil
	case dtypes.Int64:
		return argKernel[int64](outer, size, inner, isMin, set), nil
	}
	return nil, unsupportedf("ArgMinMax of %s", n.inputs[0].shape.DType)
}

func argKernel[T number](outer, size, inner int, isMin bool, set func(any) func(int, float64)) kernel {
	return func(ins []tensor, out tensor) {
		x := ins[0].data.([]T)
		s := set(out.data)
		for o := 0; o < outer; o++ {
			for j := 0; j < inner; j++ {
				best, bi := x[o*size*inner+j], 0
				for i := 1; i < size && best == best; i++ {
					v := x[(o*size+i)*inner+j]
					if v != v || (isMin && v < best) || (!isMin && v > best) {
						best, bi = v, i
					}
				}
				s(o*inner+j, float64(bi))
			}
		}
	}
}
