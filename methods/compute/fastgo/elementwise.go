package fastgo

import (
	"math"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

type float interface{ ~float32 | ~float64 }

type integer interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

type number interface{ float | integer }

// lowerUnary returns the kernel of a one-input element-wise operation.
func lowerUnary(n *Node) (kernel, error) {
	in := n.inputs[0].shape.DType
	switch in {
	case dtypes.Float32:
		return unaryFloat[float32](n.op)
	case dtypes.Float64:
		return unaryFloat[float64](n.op)
	case dtypes.Int32:
		return unaryInt[int32](n.op)
	case dtypes.Int64:
		return unaryInt[int64](n.op)
	case dtypes.Bool:
		if n.op == backends.OpTypeLogicalNot {
			return mapKernel(func(x bool) bool { return !x }), nil
		}
	}
	return nil, unsupportedf("%s on %s", n.op, in)
}

func mapKernel[T, U any](f func(T) U) kernel {
	return func(ins []tensor, out tensor) {
		x, y := ins[0].data.([]T), out.data.([]U)
		parallelFor(len(y), elementGrain, func(lo, hi int) {
			xs, ys := x[lo:hi], y[lo:hi]
			for i, v := range xs {
				ys[i] = f(v)
			}
		})
	}
}

func unaryFloat[T float](op backends.OpType) (kernel, error) {
	switch op {
	case backends.OpTypeIsFinite:
		return mapKernel(func(x T) bool { return !math.IsInf(float64(x), 0) && !math.IsNaN(float64(x)) }), nil
	case backends.OpTypeIsNaN:
		return mapKernel(func(x T) bool { return x != x }), nil
	}
	if is32[T]() && has32(op) {
		return func(ins []tensor, out tensor) {
			x, y := ins[0].data.([]float32), out.data.([]float32)
			parallelFor(len(y), elementGrain, func(lo, hi int) { unary32(op, y[lo:hi], x[lo:hi]) })
		}, nil
	}
	if f := unaryFunc[T](op); f != nil {
		return mapKernel(f), nil
	}
	return nil, unsupportedf("%s on floats", op)
}

// unaryFunc returns the element function of a float-to-float unary op, or nil.
func unaryFunc[T float](op backends.OpType) func(T) T {
	f64 := func(f func(float64) float64) func(T) T {
		return func(x T) T { return T(f(float64(x))) }
	}
	if is32[T]() { // the single-precision functions of mathf.go, as the element loops use them
		switch op {
		case backends.OpTypeExp:
			return func(x T) T { return T(exp32(float32(x))) }
		case backends.OpTypeTanh:
			return func(x T) T { return T(tanh32(float32(x))) }
		case backends.OpTypeLogistic:
			return func(x T) T { return T(logistic32(float32(x))) }
		}
	}
	switch op {
	case backends.OpTypeNeg:
		return func(x T) T { return -x }
	case backends.OpTypeAbs:
		return func(x T) T { return T(math.Abs(float64(x))) }
	case backends.OpTypeExp:
		return f64(math.Exp)
	case backends.OpTypeExpm1:
		return f64(math.Expm1)
	case backends.OpTypeLog:
		return f64(math.Log)
	case backends.OpTypeLog1p:
		return f64(math.Log1p)
	case backends.OpTypeSqrt:
		return func(x T) T { return T(math.Sqrt(float64(x))) }
	case backends.OpTypeRsqrt:
		return func(x T) T { return T(1 / math.Sqrt(float64(x))) }
	case backends.OpTypeTanh:
		return f64(math.Tanh)
	case backends.OpTypeLogistic:
		return f64(func(x float64) float64 {
			if x >= 0 {
				return 1 / (1 + math.Exp(-x))
			}
			e := math.Exp(x)
			return e / (1 + e)
		})
	case backends.OpTypeSign:
		return func(x T) T {
			switch {
			case x > 0:
				return 1
			case x < 0:
				return -1
			}
			return x // 0, -0 and NaN stay
		}
	case backends.OpTypeFloor:
		return f64(math.Floor)
	case backends.OpTypeCeil:
		return f64(math.Ceil)
	case backends.OpTypeRound:
		return f64(math.RoundToEven)
	case backends.OpTypeSin:
		return f64(math.Sin)
	case backends.OpTypeCos:
		return f64(math.Cos)
	case backends.OpTypeErf:
		return f64(math.Erf)
	}
	return nil
}

func unaryInt[T integer](op backends.OpType) (kernel, error) {
	switch op {
	case backends.OpTypeNeg:
		return mapKernel(func(x T) T { return -x }), nil
	case backends.OpTypeAbs:
		return mapKernel(func(x T) T {
			if x < 0 {
				return -x
			}
			return x
		}), nil
	case backends.OpTypeSign:
		return mapKernel(func(x T) T {
			switch {
			case x > 0:
				return 1
			case x < 0:
				return ^T(0) // -1 for signed types
			}
			return 0
		}), nil
	}
	return nil, unsupportedf("%s on integers", op)
}

// broadcastStrides returns x's strides over out's axes, 0 where x has dimension 1 (or x is a scalar).
func broadcastStrides(x, out shapes.Shape) []int {
	st := make([]int, out.Rank())
	if x.IsScalar() {
		return st
	}
	s := 1
	for a := x.Rank() - 1; a >= 0; a-- {
		if x.Dimensions[a] != 1 {
			st[a] = s
		}
		s *= x.Dimensions[a]
	}
	return st
}

// binaryApply computes o = f(a, b) with scalar and size-1 broadcasting; fast paths for equal shapes
// and scalars, since the graphs broadcast explicitly most of the time.
func binaryApply[T, U any](ins []tensor, out tensor, f func(T, T) U) {
	a, b, o := ins[0].data.([]T), ins[1].data.([]T), out.data.([]U)
	sa, sb := ins[0].shape, ins[1].shape
	switch {
	case len(a) == len(o) && len(b) == len(o):
		parallelFor(len(o), elementGrain, func(lo, hi int) {
			as, bs, os := a[lo:hi], b[lo:hi], o[lo:hi]
			for i := range os {
				os[i] = f(as[i], bs[i])
			}
		})
	case len(a) == 1 && len(b) == len(o):
		av := a[0]
		parallelFor(len(o), elementGrain, func(lo, hi int) {
			bs, os := b[lo:hi], o[lo:hi]
			for i := range os {
				os[i] = f(av, bs[i])
			}
		})
	case len(b) == 1 && len(a) == len(o):
		bv := b[0]
		parallelFor(len(o), elementGrain, func(lo, hi int) {
			as, os := a[lo:hi], o[lo:hi]
			for i := range os {
				os[i] = f(as[i], bv)
			}
		})
	default:
		stA, stB := broadcastStrides(sa, out.shape), broadcastStrides(sb, out.shape)
		forEachIndex2(out.shape.Dimensions, stA, stB, func(i, ia, ib int) { o[i] = f(a[ia], b[ib]) })
	}
}

// forEachIndex2 walks all positions of dims in row-major order, giving the flat output index and the
// offsets under two stride vectors.
func forEachIndex2(dims, stA, stB []int, fn func(i, ia, ib int)) {
	total := 1
	for _, d := range dims {
		total *= d
	}
	if total == 0 {
		return
	}
	r := len(dims)
	if r == 0 {
		fn(0, 0, 0)
		return
	}
	idx := make([]int, r)
	ia, ib := 0, 0
	last, la, lb := dims[r-1], stA[r-1], stB[r-1]
	for i := 0; i < total; i += last {
		ja, jb := ia, ib
		for j := 0; j < last; j++ {
			fn(i+j, ja, jb)
			ja += la
			jb += lb
		}
		for a := r - 2; a >= 0; a-- {
			idx[a]++
			ia += stA[a]
			ib += stB[a]
			if idx[a] < dims[a] {
				break
			}
			ia -= stA[a] * dims[a]
			ib -= stB[a] * dims[a]
			idx[a] = 0
		}
	}
}

func lowerBinary(n *Node) (kernel, error) {
	dt := n.inputs[0].shape.DType
	switch dt {
	case dtypes.Float32:
		if k := fastFloat[float32](n.op); k != nil {
			return k, nil
		}
		return binaryNumber[float32](n.op, true)
	case dtypes.Float64:
		if k := fastFloat[float64](n.op); k != nil {
			return k, nil
		}
		return binaryNumber[float64](n.op, true)
	case dtypes.Int32:
		return binaryNumber[int32](n.op, false)
	case dtypes.Int64:
		return binaryNumber[int64](n.op, false)
	case dtypes.Uint8:
		return binaryNumber[uint8](n.op, false)
	case dtypes.Uint32:
		return binaryNumber[uint32](n.op, false)
	case dtypes.Uint64:
		return binaryNumber[uint64](n.op, false)
	case dtypes.Bool:
		return binaryBool(n.op)
	}
	return nil, unsupportedf("%s on %s", n.op, dt)
}

// fastFloat returns the direct-loop kernel for the arithmetic ops fastBinaryRow knows, else nil.
func fastFloat[T float](op backends.OpType) kernel {
	switch op {
	case backends.OpTypeAdd, backends.OpTypeSub, backends.OpTypeMul, backends.OpTypeDiv, backends.OpTypeMax, backends.OpTypeMin:
		return binFloat(op, arith[T](op, true))
	}
	return nil
}

func bin[T, U any](f func(T, T) U) kernel {
	return func(ins []tensor, out tensor) { binaryApply(ins, out, f) }
}

// binFloat is bin with the direct loops of fastBinaryRow where the broadcast collapses to rows.
func binFloat[T float](op backends.OpType, f func(T, T) T) kernel {
	return func(ins []tensor, out tensor) {
		rows, ok := collapseBroadcast(ins[0].shape, ins[1].shape, out.shape)
		if !ok {
			binaryApply(ins, out, f)
			return
		}
		a, b, o := ins[0].data.([]T), ins[1].data.([]T), out.data.([]T)
		inner := rows.inner
		if rows.outer == 1 { // one long row: split it
			parallelFor(inner, elementGrain, func(lo, hi int) {
				fastBinaryRow(op, o[lo:hi], a[lo*rows.sa1:], b[lo*rows.sb1:], rows.sa1, rows.sb1)
			})
			return
		}
		parallelFor(rows.outer, max(1, elementGrain/max(1, inner)), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				fastBinaryRow(op, o[i*inner:(i+1)*inner], a[i*rows.sa0:], b[i*rows.sb0:], rows.sa1, rows.sb1)
			}
		})
	}
}

// broadcastRows is a binary broadcast collapsed to [outer, inner] with per-operand strides.
type broadcastRows struct {
	outer, inner       int
	sa0, sa1, sb0, sb1 int
}

// collapseBroadcast merges adjacent axes that are contiguous in both operands (broadcast axes have
// stride 0); ok when at most two axes remain, which covers per-channel and per-row broadcasts.
func collapseBroadcast(sa, sb, out shapes.Shape) (broadcastRows, bool) {
	stA, stB := broadcastStrides(sa, out), broadcastStrides(sb, out)
	var dims, a, b []int
	for i, d := range out.Dimensions {
		if d == 1 {
			continue
		}
		k := len(dims) - 1
		if k >= 0 && a[k] == stA[i]*d && b[k] == stB[i]*d {
			dims[k] *= d
			a[k], b[k] = stA[i], stB[i]
			continue
		}
		dims, a, b = append(dims, d), append(a, stA[i]), append(b, stB[i])
	}
	switch len(dims) {
	case 0:
		return broadcastRows{outer: 1, inner: 1, sa1: 1, sb1: 1}, true
	case 1:
		return broadcastRows{outer: 1, inner: dims[0], sa1: a[0], sb1: b[0]}, true
	case 2:
		return broadcastRows{outer: dims[0], inner: dims[1], sa0: a[0], sa1: a[1], sb0: b[0], sb1: b[1]}, true
	}
	return broadcastRows{}, false
}

// arith returns the element function of an arithmetic op, or nil.
func arith[T number](op backends.OpType, isFloat bool) func(x, y T) T {
	switch op {
	case backends.OpTypeAdd:
		return func(x, y T) T { return x + y }
	case backends.OpTypeSub:
		return func(x, y T) T { return x - y }
	case backends.OpTypeMul:
		return func(x, y T) T { return x * y }
	case backends.OpTypeDiv:
		if !isFloat {
			return func(x, y T) T {
				if y == 0 {
					return 0
				}
				return x / y
			}
		}
		return func(x, y T) T { return x / y }
	case backends.OpTypeMax:
		return func(x, y T) T { return max(x, y) } // NaN wins, as in XLA
	case backends.OpTypeMin:
		return func(x, y T) T { return min(x, y) }
	}
	return nil
}

func binaryNumber[T number](op backends.OpType, isFloat bool) (kernel, error) {
	if f := arith[T](op, isFloat); f != nil {
		return bin(f), nil
	}
	switch op {
	case backends.OpTypePow:
		return bin(func(x, y T) T { return T(math.Pow(float64(x), float64(y))) }), nil
	case backends.OpTypeRem:
		if isFloat {
			return bin(func(x, y T) T { return T(math.Mod(float64(x), float64(y))) }), nil
		}
		return bin(func(x, y T) T {
			if y == 0 {
				return 0
			}
			return T(int64(x) % int64(y))
		}), nil
	case backends.OpTypeEqual:
		return bin(func(x, y T) bool { return x == y }), nil
	case backends.OpTypeNotEqual:
		return bin(func(x, y T) bool { return x != y }), nil
	case backends.OpTypeGreaterThan:
		return bin(func(x, y T) bool { return x > y }), nil
	case backends.OpTypeGreaterOrEqual:
		return bin(func(x, y T) bool { return x >= y }), nil
	case backends.OpTypeLessThan:
		return bin(func(x, y T) bool { return x < y }), nil
	case backends.OpTypeLessOrEqual:
		return bin(func(x, y T) bool { return x <= y }), nil
	}
	return nil, unsupportedf("binary %s", op)
}

func binaryBool(op backends.OpType) (kernel, error) {
	switch op {
	case backends.OpTypeLogicalAnd:
		return bin(func(x, y bool) bool { return x && y }), nil
	case backends.OpTypeLogicalOr:
		return bin(func(x, y bool) bool { return x || y }), nil
	case backends.OpTypeLogicalXor, backends.OpTypeNotEqual:
		return bin(func(x, y bool) bool { return x != y }), nil
	case backends.OpTypeEqual:
		return bin(func(x, y bool) bool { return x == y }), nil
	}
	return nil, unsupportedf("%s on bool", op)
}

// lowerWhere: Where(cond, onTrue, onFalse), each operand the output's shape or a scalar.
func lowerWhere(n *Node) (kernel, error) {
	switch n.shape.DType {
	case dtypes.Float32:
		return whereKernel[float32](), nil
	case dtypes.Float64:
		return whereKernel[float64](), nil
	case dtypes.Int32:
		return whereKernel[int32](), nil
	case dtypes.Int64:
		return whereKernel[int64](), nil
	case dtypes.Bool:
		return whereKernel[bool](), nil
	}
	return nil, unsupportedf("Where on %s", n.shape.DType)
}

func whereKernel[T any]() kernel {
	return func(ins []tensor, out tensor) {
		c, t, f, o := ins[0].data.([]bool), ins[1].data.([]T), ins[2].data.([]T), out.data.([]T)
		parallelFor(len(o), elementGrain, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				ci, ti, fi := i, i, i
				if len(c) == 1 {
					ci = 0
				}
				if len(t) == 1 {
					ti = 0
				}
				if len(f) == 1 {
					fi = 0
				}
				if c[ci] {
					o[i] = t[ti]
				} else {
					o[i] = f[fi]
				}
			}
		})
	}
}

// lowerClamp: Clamp(min, x, max), min and max scalars or x's shape.
func lowerClamp(n *Node) (kernel, error) {
	switch n.shape.DType {
	case dtypes.Float32:
		return clampKernel[float32](), nil
	case dtypes.Float64:
		return clampKernel[float64](), nil
	case dtypes.Int32:
		return clampKernel[int32](), nil
	case dtypes.Int64:
		return clampKernel[int64](), nil
	}
	return nil, unsupportedf("Clamp on %s", n.shape.DType)
}

func clampKernel[T number]() kernel {
	return func(ins []tensor, out tensor) {
		lo, x, hi, o := ins[0].data.([]T), ins[1].data.([]T), ins[2].data.([]T), out.data.([]T)
		parallelFor(len(o), elementGrain, func(a, b int) {
			for i := a; i < b; i++ {
				l, h := lo[0], hi[0]
				if len(lo) > 1 {
					l = lo[i]
				}
				if len(hi) > 1 {
					h = hi[i]
				}
				v := x[i]
				if v < l {
					v = l
				}
				if v > h {
					v = h
				}
				o[i] = v
			}
		})
	}
}

// lowerConvert: ConvertDType between the numeric types and bool.
func lowerConvert(n *Node) (kernel, error) {
	from, to := n.inputs[0].shape.DType, n.shape.DType
	conv := func(get func(any) func(i int) float64, set func(any) func(i int, v float64)) kernel {
		return func(ins []tensor, out tensor) {
			g, s := get(ins[0].data), set(out.data)
			parallelFor(out.shape.Size(), elementGrain, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					s(i, g(i))
				}
			})
		}
	}
	if k := convertFast(from, to); k != nil {
		return k, nil
	}
	get, ok1 := getters[from]
	set, ok2 := setters[to]
	if !ok1 || !ok2 {
		return nil, unsupportedf("ConvertDType %s to %s", from, to)
	}
	return conv(get, set), nil
}

func convertFast(from, to dtypes.DType) kernel {
	switch {
	case from == dtypes.Float32 && to == dtypes.Float64:
		return mapKernel(func(x float32) float64 { return float64(x) })
	case from == dtypes.Float64 && to == dtypes.Float32:
		return mapKernel(func(x float64) float32 { return float32(x) })
	case from == dtypes.Int32 && to == dtypes.Float32:
		return mapKernel(func(x int32) float32 { return float32(x) })
	case from == dtypes.Bool && to == dtypes.Float32:
		return mapKernel(func(x bool) float32 {
			if x {
				return 1
			}
			return 0
		})
	}
	return nil
}

func getterOf[T number](d any) func(int) float64 {
	s := d.([]T)
	return func(i int) float64 { return float64(s[i]) }
}

func setterOf[T number](d any) func(int, float64) {
	s := d.([]T)
	return func(i int, v float64) {
		var z T
		switch any(z).(type) {
		case float32, float64:
			s[i] = T(v)
		default:
			if v != v {
				s[i] = 0
				return
			}
			s[i] = T(math.Trunc(v))
		}
	}
}

var getters = map[dtypes.DType]func(any) func(int) float64{
	dtypes.Float32: getterOf[float32], dtypes.Float64: getterOf[float64],
	dtypes.Int8: getterOf[int8], dtypes.Int16: getterOf[int16], dtypes.Int32: getterOf[int32], dtypes.Int64: getterOf[int64],
	dtypes.Uint8: getterOf[uint8], dtypes.Uint16: getterOf[uint16], dtypes.Uint32: getterOf[uint32], dtypes.Uint64: getterOf[uint64],
	dtypes.Bool: func(d any) func(int) float64 {
		s := d.([]bool)
		return func(i int) float64 {
			if s[i] {
				return 1
			}
			return 0
		}
	},
}

var setters = map[dtypes.DType]func(any) func(int, float64){
	dtypes.Float32: setterOf[float32], dtypes.Float64: setterOf[float64],
	dtypes.Int8: setterOf[int8], dtypes.Int16: setterOf[int16], dtypes.Int32: setterOf[int32], dtypes.Int64: setterOf[int64],
	dtypes.Uint8: setterOf[uint8], dtypes.Uint16: setterOf[uint16], dtypes.Uint32: setterOf[uint32], dtypes.Uint64: setterOf[uint64],
	dtypes.Bool: func(d any) func(int, float64) {
		s := d.([]bool)
		return func(i int, v float64) { s[i] = v != 0 }
	},
}
