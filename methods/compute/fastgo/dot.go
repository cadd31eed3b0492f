package fastgo

import (
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// axisGroup addresses a group of axes of a row-major tensor as one logical axis: its size and, per
// logical index, the element offset (an arithmetic progression when the axes are contiguous and in order).
type axisGroup struct {
	size   int
	stride int     // used when offs == nil
	offs   []int32 // explicit offsets otherwise
}

func newAxisGroup(dims, strides []int, axes []int) axisGroup {
	g := axisGroup{size: 1}
	for _, a := range axes {
		g.size *= dims[a]
	}
	if len(axes) == 0 {
		return g
	}
	// Contiguous and in order: one stride.
	regular := true
	for i := 1; i < len(axes); i++ {
		if strides[axes[i-1]] != strides[axes[i]]*dims[axes[i]] {
			regular = false
		}
	}
	if regular {
		g.stride = strides[axes[len(axes)-1]]
		return g
	}
	g.offs = make([]int32, g.size)
	idx := make([]int, len(axes))
	for i := 0; i < g.size; i++ {
		off := 0
		for k, a := range axes {
			off += idx[k] * strides[a]
		}
		g.offs[i] = int32(off)
		for k := len(axes) - 1; k >= 0; k-- {
			idx[k]++
			if idx[k] < dims[axes[k]] {
				break
			}
			idx[k] = 0
		}
	}
	return g
}

func (g axisGroup) offset(i int) int {
	if g.offs != nil {
		return int(g.offs[i])
	}
	return i * g.stride
}

// dotPlan is DotGeneral as a batch of matrix products C[b] = A[b] · B[b] with A m×k, B k×n read
// through strides or offset tables straight from the operands (no transposed copies).
type dotPlan struct {
	batch, m, n, k         int
	lhsBatch, rhsBatch     axisGroup
	lhsM, lhsK, rhsK, rhsN axisGroup
}

func freeAxes(rank int, used ...[]int) []int {
	u := make([]bool, rank)
	for _, l := range used {
		for _, a := range l {
			u[a] = true
		}
	}
	var free []int
	for a := 0; a < rank; a++ {
		if !u[a] {
			free = append(free, a)
		}
	}
	return free
}

func newDotPlan(lhs, rhs shapes.Shape, lhsContract, lhsBatch, rhsContract, rhsBatch []int) (*dotPlan, error) {
	if lhs.Size() >= math.MaxInt32 || rhs.Size() >= math.MaxInt32 {
		return nil, unsupportedf("DotGeneral operands over 2^31 elements")
	}
	ls, rs := stridesOf(lhs.Dimensions), stridesOf(rhs.Dimensions)
	p := &dotPlan{
		lhsBatch: newAxisGroup(lhs.Dimensions, ls, lhsBatch),
		rhsBatch: newAxisGroup(rhs.Dimensions, rs, rhsBatch),
		lhsM:     newAxisGroup(lhs.Dimensions, ls, freeAxes(lhs.Rank(), lhsContract, lhsBatch)),
		lhsK:     newAxisGroup(lhs.Dimensions, ls, lhsContract),
		rhsK:     newAxisGroup(rhs.Dimensions, rs, rhsContract),
		rhsN:     newAxisGroup(rhs.Dimensions, rs, freeAxes(rhs.Rank(), rhsContract, rhsBatch)),
	}
	p.batch, p.m, p.k, p.n = p.lhsBatch.size, p.lhsM.size, p.lhsK.size, p.rhsN.size
	return p, nil
}

func (g axisGroup) operandRows(data []float32, o *gemmOperand) {
	if g.offs != nil {
		o.RowIdx = g.offs
	} else {
		o.RowStride = g.stride
	}
}

func (g axisGroup) operandCols(o *gemmOperand) {
	if g.offs != nil {
		o.ColIdx = g.offs
	} else {
		o.ColStride = g.stride
	}
}

// dotGemmGrain is the number of multiply-adds below which a batch entry's product is not split
// over the cores (the batch is split instead).
const dotGemmGrain = 1 << 21

func lowerDotGeneral(n *Node) (kernel, error) {
	lhs, rhs := n.inputs[0].shape, n.inputs[1].shape
	p, err := newDotPlan(lhs, rhs, n.args[1].([]int), n.args[2].([]int), n.args[4].([]int), n.args[5].([]int))
	if err != nil {
		return nil, err
	}
	return p.kernel(lhs.DType)
}

// kernel picks the float32 SGEMM path, or the plain loops used for float64 (gradient checks in tests).
func (p *dotPlan) kernel(dt dtypes.DType) (kernel, error) {
	switch dt {
	case dtypes.Float32:
		return p.run, nil
	case dtypes.Float64:
		return p.runPlain64, nil
	}
	return nil, unsupportedf("DotGeneral on %s", dt)
}

func lowerDot(n *Node) (kernel, error) {
	lhs, rhs := n.inputs[0].shape, n.inputs[1].shape
	if lhs.Rank() < 1 || lhs.Rank() > 2 || rhs.Rank() < 1 || rhs.Rank() > 2 {
		return nil, unsupportedf("Dot of %s and %s", lhs, rhs)
	}
	p, err := newDotPlan(lhs, rhs, []int{lhs.Rank() - 1}, nil, []int{0}, nil)
	if err != nil {
		return nil, err
	}
	return p.kernel(lhs.DType)
}

func (p *dotPlan) operands(a, b []float32, bi int) (gemmOperand, gemmOperand) {
	la, rb := p.lhsBatch.offset(bi), p.rhsBatch.offset(bi)
	A := gemmOperand{Data: a[la:]}
	p.lhsM.operandRows(a, &A)
	p.lhsK.operandCols(&A)
	B := gemmOperand{Data: b[rb:]}
	p.rhsK.operandRows(b, &B)
	p.rhsN.operandCols(&B)
	return A, B
}

func (p *dotPlan) run(ins []tensor, out tensor) {
	a, b, c := ins[0].data.([]float32), ins[1].data.([]float32), out.data.([]float32)
	mn := p.m * p.n
	if p.batch == 1 || p.m*p.n*p.k >= dotGemmGrain {
		for bi := 0; bi < p.batch; bi++ {
			A, B := p.operands(a, b, bi)
			gemm(p.m, p.n, p.k, A, B, c[bi*mn:(bi+1)*mn], p.n, false)
		}
		return
	}
	parallelFor(p.batch, max(1, dotGemmGrain/max(1, p.m*p.n*p.k)), func(lo, hi int) {
		for bi := lo; bi < hi; bi++ {
			A, B := p.operands(a, b, bi)
			gemmSerial(p.m, p.n, p.k, A, B, c[bi*mn:(bi+1)*mn], p.n, false)
		}
	})
}

func (p *dotPlan) runPlain64(ins []tensor, out tensor) {
	a, b, c := ins[0].data.([]float64), ins[1].data.([]float64), out.data.([]float64)
	parallelFor(p.batch*p.m, max(1, elementGrain/max(1, p.n*p.k)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			bi, i := r/p.m, r%p.m
			ra := p.lhsBatch.offset(bi) + p.lhsM.offset(i)
			rb := p.rhsBatch.offset(bi)
			row := c[r*p.n : (r+1)*p.n]
			for j := range row {
				row[j] = 0
			}
			for q := 0; q < p.k; q++ {
				av := a[ra+p.lhsK.offset(q)]
				bq := rb + p.rhsK.offset(q)
				for j := range row {
					row[j] += av * b[bq+p.rhsN.offset(j)]
				}
			}
		}
	})
}
