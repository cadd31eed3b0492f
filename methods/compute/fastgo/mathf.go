package fastgo

import (
	"math"

	"github.com/gomlx/gomlx/backends"
)

// Single-precision exp, tanh and logistic. Going through float64 math.Exp and math.Tanh cost a
// conversion both ways, their special-case branches and, in element loops, a call through a function
// value; a flow's coupling applies exp and tanh to every element of every block. These are Cephes'
// single-precision algorithms (expf, tanhf: range reduction, then a minimax polynomial), written anew
// in Go. Measured against float64 math over their float32 range (TestMathf): exp within 1 ulp,
// tanh 1.3, logistic 2.3 (float64 math.Exp rounded to float32 is within 0.5).

const (
	expHi   = 88.72283905206835 // above: +Inf
	expLo   = -103.97208        // below: 0 (the smallest subnormal's log)
	log2e32 = 1.44269504088896341
	ln2Hi   = 0.693359375 // ln 2 split in two, so that n·ln2Hi is exact
	ln2Lo   = -2.12194440e-4
)

// exp32 is e**x in single precision.
func exp32(x float32) float32 {
	switch {
	case x != x:
		return x
	case x > expHi:
		return float32(math.Inf(1))
	case x < expLo:
		return 0
	}
	n := float32(math.Floor(float64(x*log2e32 + 0.5)))
	r := x - n*ln2Hi - n*ln2Lo
	p := ((((1.9875691500e-4*r+1.3981999507e-3)*r+8.3334519073e-3)*r+4.1665795894e-2)*r+1.6666665459e-1)*r + 5.0000001201e-1
	p = p*r*r + r + 1
	k := int32(n)
	switch {
	case k > 127: // e**x just below the largest float32: 2**128 has no exponent of its own
		return p * 2 * math.Float32frombits(uint32(127+127)<<23)
	case k < -126: // subnormal result
		return p * math.Float32frombits(uint32(k+126+127)<<23) * math.Float32frombits(1<<23)
	}
	return p * math.Float32frombits(uint32(k+127)<<23)
}

// tanh32 is tanh(x) in single precision: an odd polynomial near 0 (where 1 - 2/(e**2x + 1) would
// cancel), the exponential form elsewhere.
func tanh32(x float32) float32 {
	a := x
	if a < 0 {
		a = -a
	}
	if a < 0.625 {
		z := x * x
		p := (((-5.70498872745e-3*z+2.06390887954e-2)*z-5.37397155531e-2)*z+1.33314422036e-1)*z - 3.33332819422e-1
		return x + x*z*p
	}
	t := 1 - 2/(exp32(2*a)+1)
	if x < 0 {
		return -t
	}
	return t
}

// logistic32 is 1/(1 + e**-x) in single precision, without overflow on either side.
func logistic32(x float32) float32 {
	if x >= 0 {
		return 1 / (1 + exp32(-x))
	}
	e := exp32(x)
	return e / (1 + e)
}

// unary32 applies the single-precision exp, tanh or logistic to x in direct loops, reporting false for
// other ops.
func unary32(op backends.OpType, dst, x []float32) bool {
	x = x[:len(dst)]
	switch op {
	case backends.OpTypeExp:
		for j, v := range x {
			dst[j] = exp32(v)
		}
	case backends.OpTypeTanh:
		for j, v := range x {
			dst[j] = tanh32(v)
		}
	case backends.OpTypeLogistic:
		for j, v := range x {
			dst[j] = logistic32(v)
		}
	default:
		return false
	}
	return true
}

// has32 reports whether unary32 computes op.
func has32(op backends.OpType) bool {
	return op == backends.OpTypeExp || op == backends.OpTypeTanh || op == backends.OpTypeLogistic
}

// is32 reports whether T is float32.
func is32[T float]() bool {
	_, ok := any(T(0)).(float32)
	return ok
}
