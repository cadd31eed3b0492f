package nn

import (
	"math"

	"github.com/gomlx/gomlx/pkg/core/graph"
)

// ReLU returns max(x, 0).
func ReLU(x *graph.Node) *graph.Node {
	return graph.Max(x, graph.ScalarZero(x.Graph(), x.DType()))
}

// LeakyReLU returns x where x >= 0 and slope*x elsewhere (torch's default slope is 0.01).
func LeakyReLU(x *graph.Node, slope float64) *graph.Node {
	return graph.Where(graph.GreaterOrEqual(x, graph.ScalarZero(x.Graph(), x.DType())), x, graph.MulScalar(x, slope))
}

// GELU is the exact Gaussian error linear unit x*Φ(x) = x/2 * (1 + erf(x/√2)), torch's default
// (approximate="none").
//
// Reference: Hendrycks and Gimpel, "Gaussian Error Linear Units (GELUs)", arXiv:1606.08415, 2016.
func GELU(x *graph.Node) *graph.Node {
	cdf := graph.MulScalar(graph.OnePlus(graph.Erf(graph.MulScalar(x, 1/math.Sqrt2))), 0.5)
	return graph.Mul(x, cdf)
}

// SiLU (swish) returns x * sigmoid(x).
//
// Reference: Elfwing, Uchibe and Doya, "Sigmoid-Weighted Linear Units for Neural Network Function
// Approximation in Reinforcement Learning", Neural Networks, 2018.
func SiLU(x *graph.Node) *graph.Node {
	return graph.Mul(x, graph.Logistic(x))
}

// Sigmoid returns 1 / (1 + exp(-x)).
func Sigmoid(x *graph.Node) *graph.Node { return graph.Logistic(x) }

// Tanh returns the hyperbolic tangent of x.
func Tanh(x *graph.Node) *graph.Node { return graph.Tanh(x) }
