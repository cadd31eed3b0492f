package fastgo

import (
	"fmt"
	"reflect"
	"unsafe"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// Data movement does not care what the elements mean, only their size: every dtype is moved as
// unsigned words of its width.

// words reinterprets a flat slice as a slice of its element width.
func words[W any](data any) []W {
	v := reflect.ValueOf(data)
	if v.Len() == 0 {
		return nil
	}
	var w W
	n := v.Len() * int(v.Type().Elem().Size()) / int(unsafe.Sizeof(w))
	return unsafe.Slice((*W)(v.UnsafePointer()), n)
}

// byWidth picks the instantiation of a generic kernel for the element width of dt.
func byWidth(dt dtypes.DType, k1, k2, k4, k8 kernel) (kernel, error) {
	switch dt.Size() {
	case 1:
		return k1, nil
	case 2:
		return k2, nil
	case 4:
		return k4, nil
	case 8:
		return k8, nil
	}
	return nil, unsupportedf("data movement of %s (%d bytes)", dt, dt.Size())
}

func stridesOf(dims []int) []int {
	st := make([]int, len(dims))
	s := 1
	for a := len(dims) - 1; a >= 0; a-- {
		st[a] = s
		s *= dims[a]
	}
	return st
}

// copyStrided copies the box dims from src (starting at srcBase, srcStrides per axis) to dst
// (dstBase, dstStrides), splitting the outer axis over the cores for large boxes.
func copyStrided[W any](dst []W, dstBase int, dstStrides []int, src []W, srcBase int, srcStrides []int, dims []int) {
	dims, dstStrides, srcStrides = mergeAxes(dims, dstStrides, srcStrides)
	r := len(dims)
	total := 1
	for _, d := range dims {
		total *= d
	}
	if total == 0 {
		return
	}
	if r == 0 {
		dst[dstBase] = src[srcBase]
		return
	}
	outer := dims[0]
	grain := max(1, elementGrain/max(1, total/outer))
	parallelFor(outer, grain, func(lo, hi int) {
		// Each worker copies a block of whole outer rows, so that copyBox still sees a 2-D transpose
		// whole and tiles it (row by row, a transpose reads one element per cache line).
		block := append([]int{hi - lo}, dims[1:]...)
		copyBox(dst, dstBase+lo*dstStrides[0], dstStrides, src, srcBase+lo*srcStrides[0], srcStrides, block)
	})
}

// mergeAxes drops size-1 axes and merges neighbours that are contiguous in both layouts, so copies
// run over long rows instead of recursing per short row.
func mergeAxes(dims, st1, st2 []int) ([]int, []int, []int) {
	var d, a, b []int
	for i, n := range dims {
		if n == 1 {
			continue
		}
		k := len(d) - 1
		if k >= 0 && a[k] == st1[i]*n && b[k] == st2[i]*n {
			d[k] *= n
			a[k], b[k] = st1[i], st2[i]
			continue
		}
		d, a, b = append(d, n), append(a, st1[i]), append(b, st2[i])
	}
	if len(d) == 0 && len(dims) > 0 { // a single element
		return []int{1}, []int{1}, []int{1}
	}
	for _, n := range dims {
		if n == 0 {
			return []int{0}, []int{1}, []int{1}
		}
	}
	return d, a, b
}

// transposeTile is the side of the square tiles a 2-D transpose copies at a time, so that both the
// rows read and the rows written stay in L1.
const transposeTile = 32

func copyBox[W any](dst []W, db int, ds []int, src []W, sb int, ss []int, dims []int) {
	if len(dims) == 2 && ss[0] == 1 && ds[1] == 1 && ss[1] != 1 && dims[0] >= transposeTile && dims[1] >= transposeTile {
		for i0 := 0; i0 < dims[0]; i0 += transposeTile {
			i1 := min(i0+transposeTile, dims[0])
			for j0 := 0; j0 < dims[1]; j0 += transposeTile {
				j1 := min(j0+transposeTile, dims[1])
				for i := i0; i < i1; i++ {
					row := dst[db+i*ds[0]+j0 : db+i*ds[0]+j1]
					s := sb + i + j0*ss[1]
					for j := range row {
						row[j] = src[s]
						s += ss[1]
					}
				}
			}
		}
		return
	}
	switch len(dims) {
	case 0:
		dst[db] = src[sb]
		return
	case 1:
		n := dims[0]
		if ds[0] == 1 && ss[0] == 1 {
			copy(dst[db:db+n], src[sb:sb+n])
			return
		}
		d, s := db, sb
		for j := 0; j < n; j++ {
			dst[d] = src[s]
			d += ds[0]
			s += ss[0]
		}
		return
	}
	for i := 0; i < dims[0]; i++ {
		copyBox(dst, db+i*ds[0], ds[1:], src, sb+i*ss[0], ss[1:], dims[1:])
	}
}

// stridedKernel: out (contiguous) = src[base + Σ idx·strides], for Transpose, Slice, BroadcastInDim, Reverse.
func stridedKernel[W any](base int, dims, dstStrides, srcStrides []int) kernel {
	return func(ins []tensor, out tensor) {
		copyStrided(words[W](out.data), 0, dstStrides, words[W](ins[0].data), base, srcStrides, dims)
	}
}

// lowerStrided plans the copy once: the output's strides and the axes merged for both layouts.
func lowerStrided(n *Node, base int, strides []int) (kernel, error) {
	dims, dst, src := mergeAxes(n.shape.Dimensions, stridesOf(n.shape.Dimensions), strides)
	return byWidth(n.shape.DType, stridedKernel[uint8](base, dims, dst, src), stridedKernel[uint16](base, dims, dst, src),
		stridedKernel[uint32](base, dims, dst, src), stridedKernel[uint64](base, dims, dst, src))
}

func lowerTranspose(n *Node) (kernel, error) {
	perm := n.args[1].([]int)
	inSt := stridesOf(n.inputs[0].shape.Dimensions)
	st := make([]int, len(perm))
	for a, p := range perm {
		st[a] = inSt[p]
	}
	return lowerStrided(n, 0, st)
}

func lowerSlice(n *Node) (kernel, error) {
	starts, strides := n.args[1].([]int), n.args[3].([]int)
	inSt := stridesOf(n.inputs[0].shape.Dimensions)
	base := 0
	st := make([]int, len(inSt))
	for a := range inSt {
		base += starts[a] * inSt[a]
		s := 1
		if len(strides) > 0 {
			s = strides[a]
		}
		st[a] = inSt[a] * s
	}
	return lowerStrided(n, base, st)
}

func lowerBroadcastInDim(n *Node) (kernel, error) {
	axes := n.args[2].([]int)
	in := n.inputs[0].shape
	inSt := stridesOf(in.Dimensions)
	st := make([]int, n.shape.Rank())
	for i, a := range axes {
		if in.Dimensions[i] != 1 {
			st[a] = inSt[i]
		}
	}
	return lowerStrided(n, 0, st)
}

func lowerConcatenate(n *Node) (kernel, error) {
	axis := n.args[0].(int)
	k := func(copyFn func(ins []tensor, out tensor, axis int)) kernel {
		return func(ins []tensor, out tensor) { copyFn(ins, out, axis) }
	}
	return byWidth(n.shape.DType, k(concat[uint8]), k(concat[uint16]), k(concat[uint32]), k(concat[uint64]))
}

func concat[W any](ins []tensor, out tensor, axis int) {
	o := words[W](out.data)
	dims := out.shape.Dimensions
	outer := 1
	for _, d := range dims[:axis] {
		outer *= d
	}
	inner := 1
	for _, d := range dims[axis+1:] {
		inner *= d
	}
	row := dims[axis] * inner
	parallelFor(outer, max(1, elementGrain/max(1, row)), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			off := i * row
			for _, in := range ins {
				blk := in.shape.Dimensions[axis] * inner
				copy(o[off:off+blk], words[W](in.data)[i*blk:(i+1)*blk])
				off += blk
			}
		}
	})
}

func lowerIota(n *Node) (kernel, error) {
	axis := n.args[1].(int)
	set, ok := setters[n.shape.DType]
	if !ok {
		return nil, unsupportedf("Iota of %s", n.shape.DType)
	}
	return func(_ []tensor, out tensor) {
		dims := out.shape.Dimensions
		inner := 1
		for _, d := range dims[axis+1:] {
			inner *= d
		}
		s := set(out.data)
		for i := 0; i < out.shape.Size(); i++ {
			s(i, float64((i/inner)%dims[axis]))
		}
	}, nil
}

// indexReader reads integer index tensors of any integer dtype.
func indexReader(t tensor) (func(i int) int, error) {
	switch d := t.data.(type) {
	case []int32:
		return func(i int) int { return int(d[i]) }, nil
	case []int64:
		return func(i int) int { return int(d[i]) }, nil
	case []int16:
		return func(i int) int { return int(d[i]) }, nil
	case []int8:
		return func(i int) int { return int(d[i]) }, nil
	case []uint8:
		return func(i int) int { return int(d[i]) }, nil
	case []uint16:
		return func(i int) int { return int(d[i]) }, nil
	case []uint32:
		return func(i int) int { return int(d[i]) }, nil
	case []uint64:
		return func(i int) int { return int(d[i]) }, nil
	}
	return nil, fmt.Errorf("index tensor of type %T", t.data)
}

func isIntDType(dt dtypes.DType) bool { return dt.IsInt() }

// gatherPlan holds XLA Gather's attributes resolved against the shapes.
type gatherPlan struct {
	operand, indices, out shapes.Shape
	indexVectorAxis       int
	offsetOutputAxes      []int
	collapsed             []bool
	startIndexMap         []int
	sliceSizes            []int
	batchAxes             []int // output axes that are not offset axes
	windowOperandAxes     []int // operand axes of the window (not collapsed), in order
	rows                  bool  // whole rows of a 2-D operand, one index each (see isRowGather)
}

func lowerGather(n *Node) (kernel, error) {
	if !isIntDType(n.inputs[1].shape.DType) {
		return nil, unsupportedf("Gather with %s indices", n.inputs[1].shape.DType)
	}
	p := newGatherPlan(n)
	g := func(run func(ins []tensor, out tensor, p *gatherPlan)) kernel {
		return func(ins []tensor, out tensor) { run(ins, out, p) }
	}
	return byWidth(n.shape.DType, g(gather[uint8]), g(gather[uint16]), g(gather[uint32]), g(gather[uint64]))
}

// newGatherPlan resolves a Gather node's attributes against its shapes.
func newGatherPlan(n *Node) *gatherPlan {
	p := &gatherPlan{operand: n.inputs[0].shape, indices: n.inputs[1].shape, out: n.shape,
		indexVectorAxis: n.args[2].(int), offsetOutputAxes: n.args[3].([]int),
		startIndexMap: n.args[5].([]int), sliceSizes: n.args[6].([]int)}
	p.collapsed = make([]bool, p.operand.Rank())
	for _, a := range n.args[4].([]int) {
		p.collapsed[a] = true
	}
	isOffset := make([]bool, p.out.Rank())
	for _, a := range p.offsetOutputAxes {
		isOffset[a] = true
	}
	for a := 0; a < p.out.Rank(); a++ {
		if !isOffset[a] {
			p.batchAxes = append(p.batchAxes, a)
		}
	}
	for a := 0; a < p.operand.Rank(); a++ {
		if !p.collapsed[a] {
			p.windowOperandAxes = append(p.windowOperandAxes, a)
		}
	}
	p.rows = p.isRowGather()
	return p
}

// isRowGather reports whether the gather takes whole rows of a 2-D operand by one index each (the
// im2col and row-selection pattern): operand [R, C], indices [..., 1], output [..., C].
func (p *gatherPlan) isRowGather() bool {
	return p.operand.Rank() == 2 && len(p.startIndexMap) == 1 && p.startIndexMap[0] == 0 &&
		p.collapsed[0] && !p.collapsed[1] && p.sliceSizes[0] == 1 && p.sliceSizes[1] == p.operand.Dimensions[1] &&
		p.indexVectorAxis == p.indices.Rank()-1 && p.indices.Dimensions[p.indexVectorAxis] == 1 &&
		len(p.offsetOutputAxes) == 1 && p.offsetOutputAxes[0] == p.out.Rank()-1
}

func gather[W any](ins []tensor, out tensor, p *gatherPlan) {
	src, dst := words[W](ins[0].data), words[W](out.data)
	if p.rows {
		if idx, ok := ins[1].data.([]int32); ok {
			c, rows := p.operand.Dimensions[1], p.operand.Dimensions[0]
			parallelFor(len(idx), max(1, elementGrain/max(1, c)), func(lo, hi int) {
				for m := lo; m < hi; m++ {
					r := min(max(int(idx[m]), 0), rows-1) // clamped, as XLA
					copy(dst[m*c:(m+1)*c], src[r*c:(r+1)*c])
				}
			})
			return
		}
	}
	idx, _ := indexReader(ins[1])
	opSt, outSt, idxSt := stridesOf(p.operand.Dimensions), stridesOf(p.out.Dimensions), stridesOf(p.indices.Dimensions)
	// Batch positions: the indices' dims without the index vector axis, in order (= output batch axes).
	var idxBatchAxes []int
	for a := 0; a < p.indices.Rank(); a++ {
		if a != p.indexVectorAxis {
			idxBatchAxes = append(idxBatchAxes, a)
		}
	}
	nBatch := 1
	for _, a := range idxBatchAxes {
		nBatch *= p.indices.Dimensions[a]
	}
	vecLen := len(p.startIndexMap)
	vecSt := 0
	if p.indexVectorAxis < p.indices.Rank() {
		vecSt = idxSt[p.indexVectorAxis]
	}
	box := make([]int, len(p.windowOperandAxes))
	srcBoxSt := make([]int, len(box))
	dstBoxSt := make([]int, len(box))
	for i, a := range p.windowOperandAxes {
		box[i] = p.sliceSizes[a]
		srcBoxSt[i] = opSt[a]
		dstBoxSt[i] = outSt[p.offsetOutputAxes[i]]
	}
	boxSize := 1
	for _, d := range box {
		boxSize *= d
	}
	parallelFor(nBatch, max(1, elementGrain/max(1, boxSize*4)), func(lo, hi int) {
		for b := lo; b < hi; b++ {
			// Decompose b over the batch axes (row-major), find its indices offset and output offset.
			rem, idxOff, outOff := b, 0, 0
			for i := len(idxBatchAxes) - 1; i >= 0; i-- {
				d := p.indices.Dimensions[idxBatchAxes[i]]
				c := rem % d
				rem /= d
				idxOff += c * idxSt[idxBatchAxes[i]]
				outOff += c * outSt[p.batchAxes[i]]
			}
			srcOff := 0
			for k := 0; k < vecLen; k++ {
				a := p.startIndexMap[k]
				s := idx(idxOff + k*vecSt)
				s = min(max(s, 0), p.operand.Dimensions[a]-p.sliceSizes[a])
				srcOff += s * opSt[a]
			}
			copyBox(dst, outOff, dstBoxSt, src, srcOff, srcBoxSt, box)
		}
	})
}

// lowerScatterSum: XLA Scatter with addition; windows that fall partly outside the operand are skipped.
func lowerScatterSum(n *Node) (kernel, error) {
	if !isIntDType(n.inputs[1].shape.DType) {
		return nil, unsupportedf("ScatterSum with %s indices", n.inputs[1].shape.DType)
	}
	switch n.shape.DType {
	case dtypes.Float32:
		return scatterKernel[float32](n), nil
	case dtypes.Float64:
		return scatterKernel[float64](n), nil
	case dtypes.Int32:
		return scatterKernel[int32](n), nil
	}
	return nil, unsupportedf("ScatterSum of %s", n.shape.DType)
}

func scatterKernel[T number](n *Node) kernel {
	opShape, idxShape, updShape := n.inputs[0].shape, n.inputs[1].shape, n.inputs[2].shape
	indexVectorAxis := n.args[3].(int)
	updateWindowAxes := n.args[4].([]int)
	inserted := make([]bool, opShape.Rank())
	for _, a := range n.args[5].([]int) {
		inserted[a] = true
	}
	toOperand := n.args[6].([]int)
	isWindow := make([]bool, updShape.Rank())
	for _, a := range updateWindowAxes {
		isWindow[a] = true
	}
	var updScatterAxes []int
	for a := 0; a < updShape.Rank(); a++ {
		if !isWindow[a] {
			updScatterAxes = append(updScatterAxes, a)
		}
	}
	var idxBatchAxes []int
	for a := 0; a < idxShape.Rank(); a++ {
		if a != indexVectorAxis {
			idxBatchAxes = append(idxBatchAxes, a)
		}
	}
	var windowOperandAxes []int
	for a := 0; a < opShape.Rank(); a++ {
		if !inserted[a] {
			windowOperandAxes = append(windowOperandAxes, a)
		}
	}
	opSt, idxSt, updSt := stridesOf(opShape.Dimensions), stridesOf(idxShape.Dimensions), stridesOf(updShape.Dimensions)
	vecSt := 0
	if indexVectorAxis < idxShape.Rank() {
		vecSt = idxSt[indexVectorAxis]
	}
	box := make([]int, len(updateWindowAxes))
	for i, a := range updateWindowAxes {
		box[i] = updShape.Dimensions[a]
	}
	rowScatter := isRowScatter(n)
	return func(ins []tensor, out tensor) {
		o := out.data.([]T)
		copy(o, ins[0].data.([]T))
		upd := ins[2].data.([]T)
		if idx32, ok := ins[1].data.([]int32); ok && rowScatter {
			c, rows := opShape.Dimensions[1], opShape.Dimensions[0]
			for m, r := range idx32 {
				if r < 0 || int(r) >= rows {
					continue // out of bounds: skipped, as XLA
				}
				dst, src := o[int(r)*c:int(r+1)*c], upd[m*c:(m+1)*c]
				for j, v := range src {
					dst[j] += v
				}
			}
			return
		}
		idx, _ := indexReader(ins[1])
		nScatter := 1
		for _, a := range updScatterAxes {
			nScatter *= updShape.Dimensions[a]
		}
		start := make([]int, opShape.Rank())
		for s := 0; s < nScatter; s++ {
			rem, idxOff, updOff := s, 0, 0
			for i := len(updScatterAxes) - 1; i >= 0; i-- {
				d := updShape.Dimensions[updScatterAxes[i]]
				c := rem % d
				rem /= d
				updOff += c * updSt[updScatterAxes[i]]
				idxOff += c * idxSt[idxBatchAxes[i]]
			}
			for a := range start {
				start[a] = 0
			}
			for k, a := range toOperand {
				start[a] = idx(idxOff + k*vecSt)
			}
			ok := true
			for i, a := range windowOperandAxes {
				if start[a] < 0 || start[a]+box[i] > opShape.Dimensions[a] {
					ok = false
				}
			}
			for a := range start {
				if inserted[a] && (start[a] < 0 || start[a] >= opShape.Dimensions[a]) {
					ok = false
				}
			}
			if !ok {
				continue
			}
			opOff := 0
			for a := range start {
				opOff += start[a] * opSt[a]
			}
			addBox(o, opOff, windowOperandAxes, opSt, upd, updOff, updateWindowAxes, updSt, box)
		}
	}
}

func addBox[T number](o []T, oOff int, oAxes, oSt []int, u []T, uOff int, uAxes, uSt []int, box []int) {
	if len(box) == 0 {
		o[oOff] += u[uOff]
		return
	}
	if len(box) == 1 {
		os, us := oSt[oAxes[0]], uSt[uAxes[0]]
		for j := 0; j < box[0]; j++ {
			o[oOff+j*os] += u[uOff+j*us]
		}
		return
	}
	for j := 0; j < box[0]; j++ {
		addBox(o, oOff+j*oSt[oAxes[0]], oAxes[1:], oSt, u, uOff+j*uSt[uAxes[0]], uAxes[1:], uSt, box[1:])
	}
}

// isRowScatter reports whether a ScatterSum adds whole rows of a 2-D operand by one index each (the
// col2im pattern, and the gradient of a row gather): operand [R, C], indices [..., 1], updates [..., C].
func isRowScatter(n *Node) bool {
	opShape, idxShape, updShape := n.inputs[0].shape, n.inputs[1].shape, n.inputs[2].shape
	indexVectorAxis, updateWindowAxes := n.args[3].(int), n.args[4].([]int)
	inserted, toOperand := n.args[5].([]int), n.args[6].([]int)
	return opShape.Rank() == 2 && len(toOperand) == 1 && toOperand[0] == 0 && len(inserted) == 1 && inserted[0] == 0 &&
		indexVectorAxis == idxShape.Rank()-1 && idxShape.Dimensions[indexVectorAxis] == 1 &&
		len(updateWindowAxes) == 1 && updateWindowAxes[0] == updShape.Rank()-1 &&
		updShape.Dimensions[updShape.Rank()-1] == opShape.Dimensions[1]
}
