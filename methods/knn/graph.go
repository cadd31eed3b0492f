package knn

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // graph-building code reads best unqualified
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// SquaredDistances builds ||q_i - b_j||^2 for queries q [nq, d] and bank b [m, d] as
// ||q||^2 - 2 q.b^T + ||b||^2 (one MatMul), clamped at 0 against rounding: shape [nq, m].
func SquaredDistances(q, b *Node) *Node {
	if q.Rank() != 2 || b.Rank() != 2 || q.Shape().Dimensions[1] != b.Shape().Dimensions[1] {
		panic(fmt.Sprintf("knn.SquaredDistances: want q [nq, d] and b [m, d], got %s and %s", q.Shape(), b.Shape()))
	}
	qn := ReduceSum(Square(q), 1)      // [nq]
	bn := ReduceSum(Square(b), 1)      // [m]
	cross := Einsum("qd,md->qm", q, b) // [nq, m]
	d2 := Add(Sub(InsertAxes(qn, -1), Mul(cross, ConstAs(cross, 2))), InsertAxes(bn, 0))
	return Max(d2, ZerosLike(d2))
}

// Nearest builds the k nearest bank rows of each query in a GoMLX graph: q [nq, d], bank [m, d].
// It returns Euclidean distances [nq, k] (ascending) and their bank indices [nq, k] (int32).
//
// The bank is processed in chunks of chunk rows (0: one chunk), unrolled in the graph and chained so
// they run one after the other, so the largest intermediate is [nq, chunk]; a running top-k is merged
// across chunks. Top-k is found by k rounds of
// min-and-mask, since GoMLX's pure-Go backend has no Sort or TopK: cheap for the small k anomaly
// detection uses (1 to 9).
func Nearest(q, bank *Node, k, chunk int) (dist, idx *Node) {
	m := bank.Shape().Dimensions[0]
	if k < 1 || k > m {
		panic(fmt.Sprintf("knn.Nearest: k = %d for a bank of %d rows", k, m))
	}
	if chunk <= 0 || chunk > m {
		chunk = m
	}
	var runD, runI *Node
	for lo := 0; lo < m; lo += chunk {
		hi := min(lo+chunk, m)
		part := bank
		if lo != 0 || hi != m {
			part = Slice(bank, AxisRange(lo, hi))
		}
		qc := q
		if runD != nil {
			// Chain the chunks (q + 0*min(running distances)) so their matrix products run one after
			// the other: GoMLX's pure-Go backend (v0.26.0) can deadlock when several large products run
			// at once, each waiting for a worker of a pool they already fill.
			qc = Add(q, Mul(ReduceAllMin(runD), ScalarZero(q.Graph(), q.DType())))
		}
		d2 := SquaredDistances(qc, part)
		ids := Iota(q.Graph(), shapes.Make(dtypes.Int32, d2.Shape().Dimensions...), 1)
		if lo != 0 {
			ids = Add(ids, Const(q.Graph(), int32(lo)))
		}
		kk := min(k, hi-lo)
		cd, ci := smallestK(d2, ids, kk)
		if runD == nil {
			runD, runI = cd, ci
			continue
		}
		runD, runI = smallestK(Concatenate([]*Node{runD, cd}, 1), Concatenate([]*Node{runI, ci}, 1), min(k, runD.Shape().Dimensions[1]+kk))
	}
	return Sqrt(runD), runI
}

// smallestK returns the k smallest values of v [n, c] per row, ascending, with the matching entries of
// ids [n, c], by k rounds of arg-min and masking the chosen column with +Inf.
func smallestK(v, ids *Node, k int) (*Node, *Node) {
	g := v.Graph()
	cols := Iota(g, shapes.Make(dtypes.Int32, v.Shape().Dimensions...), 1)
	inf := Infinity(g, v.DType(), 1)
	var ds, is []*Node
	for r := 0; r < k; r++ {
		a := ArgMin(v, 1, dtypes.Int32) // [n]
		chosen := Equal(cols, InsertAxes(a, -1))
		ds = append(ds, InsertAxes(ReduceMin(v, 1), -1))
		is = append(is, InsertAxes(ReduceMax(Where(chosen, ids, ZerosLike(ids)), 1), -1))
		if r+1 < k {
			v = Where(chosen, BroadcastToShape(inf, v.Shape()), v)
		}
	}
	if k == 1 {
		return ds[0], is[0]
	}
	return Concatenate(ds, 1), Concatenate(is, 1)
}
