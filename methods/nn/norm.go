package nn

import (
	"github.com/gomlx/gomlx/pkg/core/graph"
)

// BatchNormInference normalises x per channel (its last axis) with fixed statistics:
// (x - mean) / sqrt(variance + eps) * scale + offset, as torch's BatchNorm2d in eval mode.
// scale, offset, mean and variance have shape [C]; eps is typically 1e-5.
//
// Reference: Ioffe and Szegedy, "Batch Normalization: Accelerating Deep Network Training by Reducing
// Internal Covariate Shift", ICML 2015, Algorithm 2 (inference).
func BatchNormInference(x, scale, offset, mean, variance *graph.Node, eps float64) *graph.Node {
	c := x.Shape().Dimensions[x.Rank()-1]
	for _, p := range []*graph.Node{scale, offset, mean, variance} {
		if p.Rank() != 1 || p.Shape().Dimensions[0] != c {
			panicf("nn.BatchNormInference: x %s needs per-channel parameters of shape [%d], got %s",
				x.Shape(), c, p.Shape())
		}
	}
	// Fold into one multiply-add: a = scale/sqrt(var+eps), b = offset - mean*a.
	a := graph.Div(scale, graph.Sqrt(graph.AddScalar(variance, eps))) // Rsqrt has no gradient in GoMLX.
	b := graph.Sub(offset, graph.Mul(mean, a))
	return graph.Add(graph.Mul(x, expandToLast(a, x.Rank())), expandToLast(b, x.Rank()))
}

// expandToLast reshapes a [C] vector to rank ones followed by C, for broadcasting over NHWC.
func expandToLast(v *graph.Node, rank int) *graph.Node {
	dims := make([]int, rank)
	for i := range dims {
		dims[i] = 1
	}
	dims[rank-1] = v.Shape().Dimensions[0]
	return graph.Reshape(v, dims...)
}
