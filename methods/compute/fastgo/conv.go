package fastgo

import (
	"math"
	"sync"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

// convPlan is ConvGeneral as implicit-GEMM: for every channel group, C[rows, og] = A · B where a row
// of A is one output position (batch, spatial...) and a column one (kernel tap, input channel); A is
// read straight from a zero-padded (and, for input dilation, zero-spread) copy of the input through
// row and column offset tables, so no im2col matrix is ever built. B is the kernel through offsets.
// Any axis layout, stride, padding (negative crops), input and kernel dilation, and channel groups.
type convPlan struct {
	// Padded input buffer, in the input's own axis order.
	bufDims, bufStrides []int
	bufSize             int
	// Copy of the input into the buffer: the box of input elements that land inside, where from and where to.
	box, srcStrides, dstStrides []int
	srcBase, dstBase            int
	padded                      bool // false: the input is read in place

	groups, cg, og, outF int
	rows                 int
	rowOffs              []int32   // per output row: offset in the buffer
	colOffs              [][]int32 // per group: per (tap, input channel) offset in the buffer
	kRowOffs             []int32   // per (tap, input channel of a group): offset in the kernel
	kColStride           int       // kernel stride along output channels
	channelsInner        bool      // the contraction's order: (tap, channel) or (channel, tap)

	// Output: canonical [batch, spatial..., F] written directly, or via a temporary and a strided copy.
	canonical        bool
	outDims          []int     // canonical dims
	outDstStrides    []int     // strides of the real output for the canonical axes
	bufPool, tmpPool sync.Pool // reused padded inputs and output temporaries, across executions
	patchPool        sync.Pool // runExplicit's patch blocks, one per core at a time
}

func lowerConvGeneral(n *Node) (kernel, error) {
	in, kr := n.inputs[0].shape, n.inputs[1].shape
	if in.DType != dtypes.Float32 && in.DType != dtypes.Float64 {
		return nil, unsupportedf("ConvGeneral on %s", in.DType)
	}
	axes := n.args[2].(backends.ConvolveAxesConfig)
	strides, paddings := n.args[3].([]int), n.args[4].([][2]int)
	inDil, kDil := n.args[5].([]int), n.args[6].([]int)
	groups, batchGroups := max(n.args[7].(int), 1), max(n.args[8].(int), 1)
	if batchGroups != 1 {
		return nil, unsupportedf("ConvGeneral with batch groups")
	}
	S := len(axes.InputSpatial)
	at := func(l []int, i, def int) int {
		if i < len(l) && l[i] > 0 {
			return l[i]
		}
		return def
	}
	out := n.shape
	p := &convPlan{groups: groups}
	inSt, kSt, outSt := stridesOf(in.Dimensions), stridesOf(kr.Dimensions), stridesOf(out.Dimensions)

	// Buffer: the input's layout with each spatial axis dilated and padded.
	p.bufDims = append([]int(nil), in.Dimensions...)
	p.box = append([]int(nil), in.Dimensions...)
	p.srcStrides = inSt
	p.dstStrides = make([]int, in.Rank())
	lows := make([]int, S)
	for s, a := range axes.InputSpatial {
		d := at(inDil, s, 1)
		lo, hi := 0, 0
		if s < len(paddings) {
			lo, hi = paddings[s][0], paddings[s][1]
		}
		dim := in.Dimensions[a]
		dilated := 0
		if dim > 0 {
			dilated = (dim-1)*d + 1
		}
		p.bufDims[a] = max(0, dilated+lo+hi)
		lows[s] = lo
		if d != 1 || lo != 0 || hi != 0 {
			p.padded = true
		}
	}
	p.bufStrides = stridesOf(p.bufDims)
	p.bufSize = 1
	for _, d := range p.bufDims {
		p.bufSize *= d
	}
	if p.bufSize >= math.MaxInt32 || in.Size() >= math.MaxInt32 || kr.Size() >= math.MaxInt32 {
		return nil, unsupportedf("ConvGeneral over 2^31 elements")
	}
	copy(p.dstStrides, p.bufStrides)
	for s, a := range axes.InputSpatial {
		d := at(inDil, s, 1)
		p.dstStrides[a] = p.bufStrides[a] * d
		// Input index i lands at lows[s] + i*d; keep those inside [0, bufDims).
		first := 0
		for first < in.Dimensions[a] && lows[s]+first*d < 0 {
			first++
		}
		last := in.Dimensions[a]
		for last > first && lows[s]+(last-1)*d >= p.bufDims[a] {
			last--
		}
		p.box[a] = last - first
		p.srcBase += first * inSt[a]
		p.dstBase += (lows[s] + first*d) * p.bufStrides[a]
	}
	if !p.padded {
		p.bufStrides = inSt
	}

	// Rows: (batch, output spatial...) in row-major order.
	nb := in.Dimensions[axes.InputBatch]
	cin := in.Dimensions[axes.InputChannels]
	p.outF = out.Dimensions[axes.OutputChannels]
	p.cg, p.og = cin/groups, p.outF/groups
	outSpatial := make([]int, S)
	p.rows = nb
	for s, a := range axes.OutputSpatial {
		outSpatial[s] = out.Dimensions[a]
		p.rows *= outSpatial[s]
	}
	p.rowOffs = make([]int32, 0, p.rows)
	idx := make([]int, S)
	for b := 0; b < nb; b++ {
		for i := range idx {
			idx[i] = 0
		}
		for {
			off := b * p.bufStrides[axes.InputBatch]
			for s, a := range axes.InputSpatial {
				off += idx[s] * at(strides, s, 1) * p.bufStrides[a]
			}
			if p.rows > 0 {
				p.rowOffs = append(p.rowOffs, int32(off))
			}
			if !odometer(idx, outSpatial) {
				break
			}
		}
	}
	// Columns: (kernel tap, input channel within the group).
	kSpatial := make([]int, S)
	taps := 1
	for s, a := range axes.KernelSpatial {
		kSpatial[s] = kr.Dimensions[a]
		taps *= kSpatial[s]
	}
	p.colOffs = make([][]int32, groups)
	for g := range groups {
		p.colOffs[g] = make([]int32, 0, taps*p.cg)
	}
	p.kRowOffs = make([]int32, 0, taps*p.cg)
	// The contraction runs over (tap, channel). Channels innermost when they are contiguous in memory
	// (channels-last images: each tap reads a run of channels); taps innermost otherwise (a weight
	// gradient, where the "channels" are the batch and the "taps" are pixels in a row).
	p.channelsInner = p.bufStrides[axes.InputChannels] == 1
	addColumn := func(tapOff, kTapOff, f int) {
		for g := range groups {
			p.colOffs[g] = append(p.colOffs[g], int32(tapOff+(g*p.cg+f)*p.bufStrides[axes.InputChannels]))
		}
		p.kRowOffs = append(p.kRowOffs, int32(kTapOff+f*kSt[axes.KernelInputChannels]))
	}
	forEachTap := func(fn func(tapOff, kTapOff int)) {
		for i := range idx {
			idx[i] = 0
		}
		for taps > 0 {
			tapOff, kTapOff := 0, 0
			for s, a := range axes.InputSpatial {
				tapOff += idx[s] * at(kDil, s, 1) * p.bufStrides[a]
				kTapOff += idx[s] * kSt[axes.KernelSpatial[s]]
			}
			fn(tapOff, kTapOff)
			if !odometer(idx, kSpatial) {
				break
			}
		}
	}
	if p.channelsInner {
		forEachTap(func(tapOff, kTapOff int) {
			for f := 0; f < p.cg; f++ {
				addColumn(tapOff, kTapOff, f)
			}
		})
	} else {
		for f := 0; f < p.cg; f++ {
			forEachTap(func(tapOff, kTapOff int) { addColumn(tapOff, kTapOff, f) })
		}
	}
	p.kColStride = kSt[axes.KernelOutputChannels]

	// Output layout.
	p.outDims = append([]int{nb}, outSpatial...)
	p.outDims = append(p.outDims, p.outF)
	p.outDstStrides = []int{outSt[axes.OutputBatch]}
	for _, a := range axes.OutputSpatial {
		p.outDstStrides = append(p.outDstStrides, outSt[a])
	}
	p.outDstStrides = append(p.outDstStrides, outSt[axes.OutputChannels])
	canon := stridesOf(p.outDims)
	p.canonical = true
	for i := range canon {
		if canon[i] != p.outDstStrides[i] && p.outDims[i] > 1 {
			p.canonical = false
		}
	}
	if in.DType == dtypes.Float64 {
		return p.runPlain64, nil
	}
	return p.run, nil
}

// explicitPatchChannels: below this many input channels per group (an RGB stem has 3), reading A
// through offset tables packs runs of a few floats at a time, and copying blocks of patch rows into a
// small dense buffer first is several times faster.
const explicitPatchChannels = 16

// explicitPatchMaxK bounds the patch rows copied by runExplicit (an RGB stem's 7x7x3 = 147).
const explicitPatchMaxK = 1024

// patchBlock is the number of output rows whose patches are copied at a time (per core).
const patchBlock = 1024

// runExplicit computes the convolution block by block of output rows: their patches copied into a
// dense [patchBlock, K] buffer, then one product per block and group on the calling core.
func (p *convPlan) runExplicit(src, k, c []float32, K int) {
	blocks := (p.rows + patchBlock - 1) / patchBlock
	parallelFor(blocks, 1, func(b0, b1 int) {
		buf, _ := p.patchPool.Get().([]float32)
		if len(buf) != patchBlock*K {
			buf = make([]float32, patchBlock*K)
		}
		defer p.patchPool.Put(buf)
		for blk := b0; blk < b1; blk++ {
			r0, r1 := blk*patchBlock, min((blk+1)*patchBlock, p.rows)
			for g := range p.groups {
				cols := p.colOffs[g]
				for r := r0; r < r1; r++ {
					row, base := buf[(r-r0)*K:(r-r0+1)*K], int(p.rowOffs[r])
					for q, co := range cols {
						row[q] = src[base+int(co)]
					}
				}
				B := gemmOperand{Data: k[g*p.og*p.kColStride:], RowIdx: p.kRowOffs, ColStride: p.kColStride}
				gemmSerial(r1-r0, p.og, K, sgemmDense(buf, K), B, c[r0*p.outF+g*p.og:], p.outF, false)
			}
		}
	})
}

// odometer advances idx over dims in row-major order; false when it wraps around.
func odometer(idx, dims []int) bool {
	for i := len(idx) - 1; i >= 0; i-- {
		idx[i]++
		if idx[i] < dims[i] {
			return true
		}
		idx[i] = 0
	}
	return false
}

func (p *convPlan) run(ins []tensor, out tensor) {
	x, k, o := ins[0].data.([]float32), ins[1].data.([]float32), out.data.([]float32)
	if p.rows == 0 || p.outF == 0 {
		return
	}
	src := x
	if p.padded {
		// Every use writes the same interior positions, so a reused buffer's padding is still zero.
		buf, _ := p.bufPool.Get().([]float32)
		if len(buf) != p.bufSize {
			buf = make([]float32, p.bufSize)
		}
		defer p.bufPool.Put(buf)
		copyStrided(buf, p.dstBase, p.dstStrides, x, p.srcBase, p.srcStrides, p.box)
		src = buf
	}
	c := o
	if !p.canonical {
		tmp, _ := p.tmpPool.Get().([]float32)
		if len(tmp) != p.rows*p.outF {
			tmp = make([]float32, p.rows*p.outF)
		}
		defer p.tmpPool.Put(tmp)
		c = tmp
	}
	K := len(p.kRowOffs)
	if p.cg < explicitPatchChannels && p.channelsInner && K <= explicitPatchMaxK {
		p.runExplicit(src, k, c, K)
	} else {
		for g := range p.groups {
			A := gemmOperand{Data: src, RowIdx: p.rowOffs, ColIdx: p.colOffs[g]}
			B := gemmOperand{Data: k[g*p.og*p.kColStride:], RowIdx: p.kRowOffs, ColStride: p.kColStride}
			if p.og == 0 {
				continue
			}
			gemm(p.rows, p.og, K, A, B, c[g*p.og:], p.outF, false)
		}
	}
	if !p.canonical {
		copyStrided(o, 0, p.outDstStrides, c, 0, stridesOf(p.outDims), p.outDims)
	}
}

// runPlain64 is the float64 convolution (gradient checks in tests) as plain loops over the same offsets.
func (p *convPlan) runPlain64(ins []tensor, out tensor) {
	x, k, o := ins[0].data.([]float64), ins[1].data.([]float64), out.data.([]float64)
	src := x
	if p.padded {
		src = make([]float64, p.bufSize)
		copyStrided(src, p.dstBase, p.dstStrides, x, p.srcBase, p.srcStrides, p.box)
	}
	c := make([]float64, p.rows*p.outF)
	parallelFor(p.rows, 64, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			for g := range p.groups {
				for j := 0; j < p.og; j++ {
					kb := (g*p.og + j) * p.kColStride
					var sum float64
					for q, co := range p.colOffs[g] {
						sum += src[int(p.rowOffs[r])+int(co)] * k[kb+int(p.kRowOffs[q])]
					}
					c[r*p.outF+g*p.og+j] = sum
				}
			}
		}
	})
	copyStrided(o, 0, p.outDstStrides, c, 0, stridesOf(p.outDims), p.outDims)
}
