package nn

import "github.com/gomlx/gomlx/pkg/core/graph"

// BatchMatMul multiplies a [G, M, K] by b [G, K, N] into [G, M, N] (one product per leading index, as
// attention's query-key and weight-value products), with the same two-product gradient as MatMul.
func BatchMatMul(a, b *graph.Node) *graph.Node {
	if a.Rank() != 3 || b.Rank() != 3 || a.Shape().Dimensions[0] != b.Shape().Dimensions[0] ||
		a.Shape().Dimensions[2] != b.Shape().Dimensions[1] {
		panicf("nn.BatchMatMul: want a [G, M, K] and b [G, K, N], got %s and %s", a.Shape(), b.Shape())
	}
	return batchMatMul(a, b)
}
