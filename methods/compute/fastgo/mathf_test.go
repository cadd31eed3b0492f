package fastgo

import (
	"math"
	"testing"
)

// ulps is the distance in units in the last place between float32 got and the float64 want.
func ulps(got float32, want float64) float64 {
	w := float32(want)
	if got == w {
		return 0
	}
	if math.IsInf(float64(w), 0) || math.IsNaN(float64(got)) {
		return math.Inf(1)
	}
	ulp := math.Abs(float64(math.Nextafter32(w, float32(math.Inf(1)))) - float64(w))
	if ulp == 0 {
		ulp = math.SmallestNonzeroFloat32
	}
	return math.Abs(float64(got)-want) / ulp
}

// TestMathf sweeps exp32, tanh32 and logistic32 against float64 math over their whole float32 range and
// checks the special values.
func TestMathf(t *testing.T) {
	check := func(name string, f func(float32) float32, ref func(float64) float64, lo, hi float32, maxULP float64) {
		worst, at := 0.0, float32(0)
		for i := 0; i <= 2_000_000; i++ {
			x := lo + (hi-lo)*float32(i)/2_000_000
			want := ref(float64(x))
			if want != 0 && math.Abs(want) < 1e-37 { // subnormal results: judged by absolute error below
				continue
			}
			if u := ulps(f(x), want); u > worst {
				worst, at = u, x
			}
		}
		if worst > maxULP {
			t.Errorf("%s: %.2f ulp at x = %g (want at most %g)", name, worst, at, maxULP)
		}
	}
	check("exp32", exp32, math.Exp, -87, 88.72, 2)
	check("tanh32", tanh32, math.Tanh, -12, 12, 2)
	check("logistic32", logistic32, func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }, -80, 80, 3)
	for _, c := range []struct {
		name string
		got  float32
		want float64
	}{
		{"exp32(0)", exp32(0), 1},
		{"exp32(89)", exp32(89), math.Inf(1)},
		{"exp32(+Inf)", exp32(float32(math.Inf(1))), math.Inf(1)},
		{"exp32(-Inf)", exp32(float32(math.Inf(-1))), 0},
		{"exp32(-104)", exp32(-104), 0},
		{"tanh32(0)", tanh32(0), 0},
		{"tanh32(+Inf)", tanh32(float32(math.Inf(1))), 1},
		{"tanh32(-Inf)", tanh32(float32(math.Inf(-1))), -1},
		{"logistic32(-Inf)", logistic32(float32(math.Inf(-1))), 0},
		{"logistic32(+Inf)", logistic32(float32(math.Inf(1))), 1},
	} {
		if float64(c.got) != c.want {
			t.Errorf("%s = %g, want %g", c.name, c.got, c.want)
		}
	}
	if d := math.Abs(float64(exp32(-100)) - math.Exp(-100)); d > 1e-45 { // subnormal
		t.Errorf("exp32(-100) = %g, want %g", exp32(-100), math.Exp(-100))
	}
	nan := float32(math.NaN())
	if !math.IsNaN(float64(exp32(nan))) || !math.IsNaN(float64(tanh32(nan))) || !math.IsNaN(float64(logistic32(nan))) {
		t.Error("NaN does not propagate")
	}
}
