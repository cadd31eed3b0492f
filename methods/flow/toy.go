package flow

import (
	"math"
	"math/rand/v2"
)

// TwoMoons returns n points [n·2] (row-major x, y) of the two-moons toy distribution: two interleaved
// half circles of radius 1, the upper one centred at (0, 0), the lower one at (1, 0.5), with Gaussian
// noise of the given standard deviation (0.1 is the usual choice).
func TwoMoons(rng *rand.Rand, n int, noise float64) []float64 {
	out := make([]float64, 0, 2*n)
	for i := 0; i < n; i++ {
		t := math.Pi * rng.Float64()
		x, y := math.Cos(t), math.Sin(t)
		if i%2 == 1 {
			x, y = 1-x, 0.5-y
		}
		out = append(out, x+noise*rng.NormFloat64(), y+noise*rng.NormFloat64())
	}
	return out
}

// Ring returns n points [n·2] (row-major x, y) spread uniformly in angle around a circle of the given
// radius, with the radius perturbed by Gaussian noise of standard deviation width.
func Ring(rng *rand.Rand, n int, radius, width float64) []float64 {
	out := make([]float64, 0, 2*n)
	for i := 0; i < n; i++ {
		t := 2 * math.Pi * rng.Float64()
		r := radius + width*rng.NormFloat64()
		out = append(out, r*math.Cos(t), r*math.Sin(t))
	}
	return out
}
