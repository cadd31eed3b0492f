package fastgo

import "github.com/gomlx/gomlx/backends"

// fastBinaryRow computes o[j] = a[j*sa] op b[j*sb] for the common arithmetic ops with sa, sb in {0, 1}
// as direct loops: Go does not inline a function value, and a call per element costs more than the
// arithmetic. False when op has no such loop. (Written out per op and pattern on purpose.) Max and Min
// use Go's built-in max and min, which propagate NaN as XLA does and compile without branches: a ReLU's
// comparison is a coin toss per element, and a branch on it cost 3 ns an element, not memory bandwidth.
func fastBinaryRow[T float](op backends.OpType, o, a, b []T, sa, sb int) bool {
	switch op {
	case backends.OpTypeAdd:
		if sa == 1 && sb == 1 {
			a := a[:len(o)]
			b := b[:len(o)]
			for j := range o {
				x := a[j]
				y := b[j]
				o[j] = x + y
			}
			return true
		}
		if sa == 1 && sb == 0 {
			y := b[0]
			a := a[:len(o)]
			for j := range o {
				x := a[j]
				o[j] = x + y
			}
			return true
		}
		if sa == 0 && sb == 1 {
			x := a[0]
			b := b[:len(o)]
			for j := range o {
				y := b[j]
				o[j] = x + y
			}
			return true
		}
	case backends.OpTypeSub:
		if sa == 1 && sb == 1 {
			a := a[:len(o)]
			b := b[:len(o)]
			for j := range o {
				x := a[j]
				y := b[j]
				o[j] = x - y
			}
			return true
		}
		if sa == 1 && sb == 0 {
			y := b[0]
			a := a[:len(o)]
			for j := range o {
				x := a[j]
				o[j] = x - y
			}
			return true
		}
		if sa == 0 && sb == 1 {
			x := a[0]
			b := b[:len(o)]
			for j := range o {
				y := b[j]
				o[j] = x - y
			}
			return true
		}
	case backends.OpTypeMul:
		if sa == 1 && sb == 1 {
			a := a[:len(o)]
			b := b[:len(o)]
			for j := range o {
				x := a[j]
				y := b[j]
				o[j] = x * y
			}
			return true
		}
		if sa == 1 && sb == 0 {
			y := b[0]
			a := a[:len(o)]
			for j := range o {
				x := a[j]
				o[j] = x * y
			}
			return true
		}
		if sa == 0 && sb == 1 {
			x := a[0]
			b := b[:len(o)]
			for j := range o {
				y := b[j]
				o[j] = x * y
			}
			return true
		}
	case backends.OpTypeDiv:
		if sa == 1 && sb == 1 {
			a := a[:len(o)]
			b := b[:len(o)]
			for j := range o {
				x := a[j]
				y := b[j]
				o[j] = x / y
			}
			return true
		}
		if sa == 1 && sb == 0 {
			y := b[0]
			a := a[:len(o)]
			for j := range o {
				x := a[j]
				o[j] = x / y
			}
			return true
		}
		if sa == 0 && sb == 1 {
			x := a[0]
			b := b[:len(o)]
			for j := range o {
				y := b[j]
				o[j] = x / y
			}
			return true
		}
	case backends.OpTypeMax:
		if sa == 1 && sb == 1 {
			a := a[:len(o)]
			b := b[:len(o)]
			for j := range o {
				o[j] = max(a[j], b[j])
			}
			return true
		}
		if sa == 1 && sb == 0 {
			y := b[0]
			a := a[:len(o)]
			for j := range o {
				o[j] = max(a[j], y)
			}
			return true
		}
		if sa == 0 && sb == 1 {
			x := a[0]
			b := b[:len(o)]
			for j := range o {
				o[j] = max(x, b[j])
			}
			return true
		}
	case backends.OpTypeMin:
		if sa == 1 && sb == 1 {
			a := a[:len(o)]
			b := b[:len(o)]
			for j := range o {
				o[j] = min(a[j], b[j])
			}
			return true
		}
		if sa == 1 && sb == 0 {
			y := b[0]
			a := a[:len(o)]
			for j := range o {
				o[j] = min(a[j], y)
			}
			return true
		}
		if sa == 0 && sb == 1 {
			x := a[0]
			b := b[:len(o)]
			for j := range o {
				o[j] = min(x, b[j])
			}
			return true
		}
	}
	return false
}
