package sgemm

import (
	"sync"
	"sync/atomic"
	"unsafe"
)

// minFlopsPerThread is the work below which another goroutine costs more (start-up, cold caches) than it
// saves.
const minFlopsPerThread = 4 << 20

// tinyMACs is the size (m·n·k) up to which a plain triple loop beats the blocked path, whose fixed cost
// (pools, packing, a scratch tile) is about half a microsecond.
const tinyMACs = 64

// tiny is the plain product for the smallest shapes.
func tiny(m, n, k int, a, b *Operand, c []float32, ldc int, acc bool) {
	for i := 0; i < m; i++ {
		ro := a.rowOff(i)
		for j := 0; j < n; j++ {
			co := b.colOff(j)
			var s float32
			for p := 0; p < k; p++ {
				s += a.Data[ro+a.colOff(p)] * b.Data[b.rowOff(p)+co]
			}
			if acc {
				c[i*ldc+j] += s
			} else {
				c[i*ldc+j] = s
			}
		}
	}
}

// tasksPerThread is how many pieces each goroutine's share of a block is cut into. Goroutines take
// pieces as they finish the last, so on a shared machine a goroutine that loses its core delays the
// product by one piece rather than by its whole share.
const tasksPerThread = 4

// B is read in place instead of packed when C has at most directRows·MR rows (and B is dense): with so
// few rows each B element is used a handful of times, and copying B would cost more than the strided
// reads, which the kernels' B prefetch covers.
const directRows = 2

// directCols is the widest C for which A is read in place instead of packed when it can be (see
// inPlaceCols and rowRun); measured on the convolution shapes of bench_test.go.
var directCols = 512

// workspace holds one goroutine's packing buffers; they are pooled because a convolution calls Gemm per
// layer and per batch, and fresh megabytes each time would be garbage.
type workspace struct {
	aBuf, bBuf, tmpBuf []float32
	rowOff             []int
	runs               []run
	slivers            []sliver
}

var workspaces = sync.Pool{New: func() any { return new(workspace) }}

// aligned returns a slice of n floats starting on a 64-byte boundary, so that the kernels' full-vector
// loads of packed data never straddle cache lines; buf is reused when large enough.
func aligned(buf *[]float32, n int) []float32 {
	if cap(*buf) < n+16 {
		*buf = make([]float32, n+16)
	}
	s := (*buf)[:cap(*buf)]
	off := int((64 - uintptr(unsafe.Pointer(&s[0]))%64) % 64 / 4)
	return s[off : off+n]
}

// balanced splits total into the fewest blocks of at most max and returns an equal block size rounded
// up to unit, so that no block is a sliver (k = 300 with KC = 256 gives 152+148, not 256+44).
func balanced(total, max, unit int) int {
	blocks := (total + max - 1) / max
	size := (total + blocks - 1) / blocks
	return (size + unit - 1) / unit * unit
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// plan is one product in progress. For each KC×NC panel of B it runs two phases, each on up to t
// goroutines that take work from a shared counter: packing B's slivers into the shared panel, then
// computing tasks, a task being an MC-row block of C (with the A block its goroutine packs) times a
// chunk of the panel's slivers. Fields other than next are written only between phases, when no other
// goroutine runs.
type plan struct {
	ki         *kernelInfo
	t          int
	m, n, k    int
	a, b       Operand
	c          []float32
	ldc        int
	acc        bool
	kc, mc, nc int
	directB    bool
	bbuf       []float32

	// The current panel: columns [jc, jc+nb) and k steps [pc, pc+kb) of B.
	jc, nb, pc, kb   int
	load             bool  // add to C: the caller asked to, or an earlier panel has stored
	runs             []run // the panel's columns of A in evenly spaced stretches
	inPlace          bool  // A may be read in place (slivers whose rows are evenly spaced)
	minCol, maxCol   int
	chunks, perChunk int // the panel's slivers are cut into chunks of perChunk slivers

	next atomic.Int64
	wg   sync.WaitGroup
}

// plans are pooled with the workspaces so that a small product allocates nothing.
var plans = sync.Pool{New: func() any { return new(plan) }}

// gemm computes C = A·B or C += A·B on up to maxThreads goroutines.
func gemm(ki *kernelInfo, maxThreads, m, n, k int, a, b *Operand, c []float32, ldc int, acc bool) {
	if k == 0 {
		if !acc {
			for i := 0; i < m; i++ {
				clear(c[i*ldc : i*ldc+n])
			}
		}
		return
	}
	if m*n*k <= tinyMACs {
		tiny(m, n, k, a, b, c, ldc, acc)
		return
	}
	t := maxThreads
	if flops := 2 * m * n * k; flops/minFlopsPerThread < t {
		t = max(flops/minFlopsPerThread, 1)
	}
	mr, nr := ki.mr, ki.nr
	pl := plans.Get().(*plan)
	defer plans.Put(pl)
	pl.ki, pl.t, pl.m, pl.n, pl.k, pl.a, pl.b, pl.c, pl.ldc, pl.acc = ki, t, m, n, k, *a, *b, c, ldc, acc
	defer func() { pl.a, pl.b, pl.c, pl.runs, pl.bbuf = Operand{}, Operand{}, nil, nil, nil }() // no stale references in the pool
	a, b = &pl.a, &pl.b
	pl.kc = balanced(k, ki.kc, 1)
	pl.nc = balanced(n, ki.nc, nr)
	pl.mc = balanced(m, ki.mc, mr)
	if want := tasksPerThread * t; t > 1 && ceilDiv(m, pl.mc) < want {
		// Smaller row blocks for more tasks, down to where the B panel's reloads from L2 would start to
		// cost (each block streams it once).
		pl.mc = balanced(m, max(ceilDiv(m, want), 8*mr), mr)
	}
	pl.directB = !ki.packOnly && m <= directRows*mr && b.RowIdx == nil && b.ColIdx == nil && b.ColStride == 1 &&
		b.RowStride > 0 && (k-1)*b.RowStride+n <= len(b.Data)
	ws := workspaces.Get().(*workspace)
	defer workspaces.Put(ws)
	pl.bbuf = aligned(&ws.bBuf, pl.nc*pl.kc)
	for pl.jc = 0; pl.jc < n; pl.jc += pl.nc {
		pl.nb = min(pl.nc, n-pl.jc)
		slivers := ceilDiv(pl.nb, nr)
		pl.chunks, pl.perChunk = 1, slivers
		if icBlocks := ceilDiv(m, pl.mc); t > 1 && icBlocks < tasksPerThread*t {
			pl.chunks = min(slivers, ceilDiv(tasksPerThread*t, icBlocks))
			pl.perChunk = ceilDiv(slivers, pl.chunks)
			pl.chunks = ceilDiv(slivers, pl.perChunk)
		}
		for pl.pc = 0; pl.pc < k; pl.pc += pl.kc {
			pl.kb = min(pl.kc, k-pl.pc)
			pl.load = acc || pl.pc > 0
			pl.runs = colRuns(a, pl.pc, pl.kb, &ws.runs)
			pl.inPlace = false
			if n <= directCols && !ki.packOnly {
				pl.inPlace, pl.minCol, pl.maxCol = inPlaceCols(pl.runs, pl.kb)
			}
			if pl.directB {
				// Only a last, partial sliver is packed (zero-padded); whole ones are read in place.
				if full := pl.nb / nr * nr; full < pl.nb {
					packB(ws, b, pl.pc, pl.kb, pl.jc+full, pl.nb-full, nr, pl.bbuf[full*pl.kb:])
				}
			} else {
				pl.parallel(ws, slivers, (*plan).packSliver)
			}
			pl.parallel(ws, ceilDiv(m, pl.mc)*pl.chunks, (*plan).task)
		}
	}
}

// taskFunc does item i of a phase. last is the row block whose A the goroutine has packed (-1 at first),
// which a task may reuse; it returns the block packed now.
type taskFunc func(pl *plan, ws *workspace, last, i int) int

// parallel runs f for items 0..count-1 on up to t goroutines (this one included), each taking the next
// item from the counter; it returns when all are done.
func (pl *plan) parallel(ws *workspace, count int, f taskFunc) {
	pl.next.Store(0)
	t := min(pl.t, count)
	pl.wg.Add(t - 1)
	for range t - 1 {
		go pl.helper(count, f)
	}
	pl.work(ws, count, f)
	pl.wg.Wait()
}

func (pl *plan) helper(count int, f taskFunc) {
	defer pl.wg.Done()
	ws := workspaces.Get().(*workspace)
	pl.work(ws, count, f)
	workspaces.Put(ws)
}

func (pl *plan) work(ws *workspace, count int, f taskFunc) {
	last := -1
	for {
		i := int(pl.next.Add(1) - 1)
		if i >= count {
			return
		}
		last = f(pl, ws, last, i)
	}
}

func (pl *plan) packSliver(ws *workspace, last, s int) int {
	nr := pl.ki.nr
	packB(ws, &pl.b, pl.pc, pl.kb, pl.jc+s*nr, min(nr, pl.nb-s*nr), nr, pl.bbuf[s*nr*pl.kb:])
	return last
}

// task computes row block i/chunks of the panel's product, restricted to sliver chunk i%chunks.
func (pl *plan) task(ws *workspace, lastBlock, i int) int {
	ki, a, b, c, ldc := pl.ki, &pl.a, &pl.b, pl.c, pl.ldc
	mr, nr, kb := ki.mr, ki.nr, pl.kb
	block, chunk := i/pl.chunks, i%pl.chunks
	ic := block * pl.mc
	mb := min(pl.mc, pl.m-ic)
	abuf := aligned(&ws.aBuf, pl.mc*pl.kc)
	tmp := aligned(&ws.tmpBuf, mr*nr)
	if cap(ws.slivers) < pl.mc/mr {
		ws.slivers = make([]sliver, pl.mc/mr)
	}
	slivers := ws.slivers[:pl.mc/mr]
	if lastBlock != block {
		for ir := 0; ir < mb; ir += mr {
			sl := &slivers[ir/mr]
			sl.first = -1
			if pl.inPlace && mb-ir >= mr {
				sl.first, sl.stride = rowRun(a, ic+ir, mr, pl.minCol, pl.maxCol)
			}
			if sl.first < 0 {
				packA(a, pl.runs, ic+ir, min(mr, mb-ir), kb, mr, abuf[ir*kb:])
			}
		}
	}
	jc, nb, pc := pl.jc, pl.nb, pl.pc
	fullN := nb / nr * nr
	j0 := chunk * pl.perChunk * nr
	j1 := min(j0+pl.perChunk*nr, nb)
	for jr := j0; jr < j1; jr += nr {
		bp, bstride := unsafe.Pointer(&pl.bbuf[jr*kb]), nr
		if pl.directB && jr < fullN {
			bp, bstride = unsafe.Pointer(&b.Data[pc*b.RowStride+jc+jr]), b.RowStride
		}
		w := min(nr, nb-jr)
		for ir := 0; ir < mb; ir += mr {
			h := min(mr, mb-ir)
			co := (ic+ir)*ldc + jc + jr
			full := h == mr && w == nr
			// Edge tiles go through tmp, which the kernels can write whole.
			cp, cld, cload := unsafe.Pointer(&tmp[0]), nr, false
			if full {
				cp, cld, cload = unsafe.Pointer(&c[co]), ldc, pl.load
			}
			if sl := slivers[ir/mr]; sl.first < 0 {
				micro := ki.micro
				if h <= ki.short {
					micro = ki.microShort // h < mr: writes to tmp, of which only h rows are used
				}
				micro(kb, unsafe.Pointer(&abuf[ir*kb]), 1, mr, bp, bstride, cp, cld, cload)
			} else {
				// A read in place, one kernel call per stretch of evenly spaced columns; all but the
				// first add to what the earlier ones left in the tile.
				for ri, r := range pl.runs {
					ki.micro(r.n, unsafe.Pointer(&a.Data[sl.first+r.off]), sl.stride, r.step,
						unsafe.Add(bp, 4*r.start*bstride), bstride, cp, cld, cload || ri > 0)
				}
			}
			if full {
				continue
			}
			for i := 0; i < h; i++ {
				dst := c[co+i*ldc : co+i*ldc+w]
				src := tmp[i*nr : i*nr+w]
				if pl.load {
					for j, v := range src {
						dst[j] += v
					}
				} else {
					copy(dst, src)
				}
			}
		}
	}
	return block
}

// Reading A in place instead of packing it: packing costs a pass over m·k elements for every NC columns
// of C, which the arithmetic repays only when C has many columns. For narrow C (convolutions with few
// output channels, weight gradients) the kernels read A where it is, which they can whenever an MR-row
// sliver's rows are evenly spaced and its columns fall into long evenly spaced stretches: a dense or
// transposed matrix, or an implicit im2col whose patches are rows of pixels and whose columns run over
// contiguous channels.

// run is a stretch of a KC block's columns [start, start+n) whose offsets are off, off+step, ….
type run struct{ start, n, off, step int }

// sliver says how the kernels read an MR-row sliver of A: packed (first < 0) or in place from rows at
// offsets first, first+stride, ….
type sliver struct{ first, stride int }

// minRun is the shortest average stretch worth a kernel call of its own: each call loads and stores the
// C tile, which a short stretch cannot repay.
const minRun = 16

// conflictStride reports strides (in floats) that map every row to the same few L1 sets: rows that far
// apart evict each other and the B sliver, so such slivers are packed.
func conflictStride(s int) bool { return s > 1 && s%512 == 0 }

// colRuns splits columns [pc, pc+kb) of a into stretches of evenly spaced offsets, for packing and for
// reading in place; starts are relative to pc.
func colRuns(a *Operand, pc, kb int, buf *[]run) []run {
	runs := (*buf)[:0]
	if a.ColIdx == nil {
		runs = append(runs, run{0, kb, pc * a.ColStride, a.ColStride})
	} else {
		idx := a.ColIdx[pc : pc+kb]
		for p := 0; p < kb; {
			r := run{start: p, n: 1, off: int(idx[p]), step: 1}
			if p+1 < kb && idx[p+1] > idx[p] {
				r.step = int(idx[p+1] - idx[p])
				for r.n < kb-p && int(idx[p+r.n]) == r.off+r.n*r.step {
					r.n++
				}
			}
			runs = append(runs, r)
			p += r.n
		}
	}
	*buf = runs
	return runs
}

// inPlaceCols reports whether the kernels can read columns in these stretches in place (long enough,
// ascending, no L1-set conflicts) and returns the least and greatest column offset for rowRun's bounds
// check.
func inPlaceCols(runs []run, kb int) (ok bool, minCol, maxCol int) {
	if kb < minRun*len(runs) {
		return false, 0, 0
	}
	minCol, maxCol = runs[0].off, runs[0].off
	for _, r := range runs {
		if r.step <= 0 || conflictStride(r.step) {
			return false, 0, 0
		}
		minCol = min(minCol, r.off)
		maxCol = max(maxCol, r.off+(r.n-1)*r.step)
	}
	return true, minCol, maxCol
}

// rowRun returns the offset of row i and the spacing of rows i..i+mr-1 when they are evenly spaced and
// every element the kernels would read lies inside a.Data, else (-1, 0).
func rowRun(a *Operand, i, mr, minCol, maxCol int) (first, stride int) {
	if a.RowIdx == nil {
		first, stride = i*a.RowStride, a.RowStride
	} else {
		idx := a.RowIdx[i : i+mr]
		first, stride = int(idx[0]), int(idx[1])-int(idx[0])
		for ii := 2; ii < mr; ii++ {
			if int(idx[ii])-int(idx[ii-1]) != stride {
				return -1, 0
			}
		}
	}
	if stride <= 0 || conflictStride(stride) || first+minCol < 0 || first+(mr-1)*stride+maxCol >= len(a.Data) {
		return -1, 0
	}
	return first, stride
}

// packA copies rows [i0, i0+mb) of a, over the columns in runs (kb in all), into mr-tall slivers:
// sliver s holds rows i0+s·mr.. as kb consecutive groups of mr floats, zero-padded past the last row.
func packA(a *Operand, runs []run, i0, mb, kb, mr int, dst []float32) {
	for ir := 0; ir < mb; ir += mr {
		h := min(mr, mb-ir)
		d := dst[ir*kb : ir*kb+mr*kb]
		if a.RowIdx == nil && a.RowStride == 1 {
			// Columns are contiguous (a transposed dense matrix): each k step is one copy.
			for _, r := range runs {
				for q := 0; q < r.n; q++ {
					base := r.off + q*r.step + i0 + ir
					p := r.start + q
					copy(d[p*mr:p*mr+h], a.Data[base:base+h])
				}
			}
		} else {
			for _, r := range runs {
				packRun(a, r, i0+ir, h, d, mr)
			}
		}
		if h < mr {
			for p := 0; p < kb; p++ {
				clear(d[p*mr+h : p*mr+mr])
			}
		}
	}
}

// packA14 packs 14 rows of contiguous columns with vector instructions when the CPU has them (set by
// kernel_amd64.go): dst[q*14+i] = base[offs[i]+q] for q < n, n a multiple of 16.
var packA14 func(base unsafe.Pointer, offs *[14]int, n int, dst unsafe.Pointer)

// packRun packs rows i..i+h-1 over the columns of one stretch into d (an mr-tall sliver).
func packRun(a *Operand, r run, i, h int, d []float32, mr int) {
	if packA14 != nil && mr == 14 && h == 14 && r.step == 1 && r.n >= 16 {
		var offs [14]int
		ro0 := a.rowOff(i)
		n16 := r.n &^ 15
		for ii := range offs {
			ro := a.rowOff(i + ii)
			_ = a.Data[ro+r.off : ro+r.off+n16] // the assembly reads this without checks
			offs[ii] = ro - ro0
		}
		packA14(unsafe.Pointer(&a.Data[ro0+r.off]), &offs, n16, unsafe.Pointer(&d[r.start*mr : (r.start+n16)*mr][0]))
		if r.n == n16 {
			return
		}
		r = run{start: r.start + n16, n: r.n - n16, off: r.off + n16, step: 1}
	}
	ii := 0
	for ; ii+4 <= h; ii += 4 {
		packRows4(a, r, i+ii, d[ii:], mr)
	}
	for ; ii < h; ii++ {
		ro := a.rowOff(i + ii)
		dd := d[ii:]
		for q := 0; q < r.n; q++ {
			dd[(r.start+q)*mr] = a.Data[ro+r.off+q*r.step]
		}
	}
}

// packRows4 packs rows i..i+3 into d[p*mr : p*mr+4] for each k step p: four adjacent floats a store
// pass, and for contiguous stretches the bounds checks of the three extra rows are proved away by
// reslicing them to the first's length.
func packRows4(a *Operand, r run, i int, d []float32, mr int) {
	ro0, ro1, ro2, ro3 := a.rowOff(i), a.rowOff(i+1), a.rowOff(i+2), a.rowOff(i+3)
	if r.step == 1 {
		r0 := a.Data[ro0+r.off:][:r.n]
		r1 := a.Data[ro1+r.off:][:len(r0)]
		r2 := a.Data[ro2+r.off:][:len(r0)]
		r3 := a.Data[ro3+r.off:][:len(r0)]
		dd := d[r.start*mr:]
		for q, v := range r0 {
			x := dd[q*mr : q*mr+4 : q*mr+4]
			x[0], x[1], x[2], x[3] = v, r1[q], r2[q], r3[q]
		}
		return
	}
	for q := 0; q < r.n; q++ {
		o := r.off + q*r.step
		x := d[(r.start+q)*mr : (r.start+q)*mr+4 : (r.start+q)*mr+4]
		x[0], x[1], x[2], x[3] = a.Data[ro0+o], a.Data[ro1+o], a.Data[ro2+o], a.Data[ro3+o]
	}
}

// packB copies rows [p0, p0+kb) × columns [j0, j0+nb) of b into nr-wide slivers: sliver s holds columns
// j0+s·nr.. as kb consecutive groups of nr floats, zero-padded past the last column.
func packB(ws *workspace, b *Operand, p0, kb, j0, nb, nr int, dst []float32) {
	var ro []int
	if !(b.ColIdx == nil && b.ColStride == 1) && !(b.RowIdx == nil && b.RowStride == 1) {
		ro = offsets(&ws.rowOff, kb, func(p int) int { return b.rowOff(p0 + p) })
	}
	for jr := 0; jr < nb; jr += nr {
		w := min(nr, nb-jr)
		d := dst[jr*kb : jr*kb+nr*kb]
		switch {
		case b.ColIdx == nil && b.ColStride == 1:
			// Rows are contiguous (dense, or rows picked by an offset table): each k step is one copy.
			for p := 0; p < kb; p++ {
				base := b.rowOff(p0+p) + j0 + jr
				copy(d[p*nr:p*nr+w], b.Data[base:base+w])
				clear(d[p*nr+w : p*nr+nr])
			}
			continue
		case b.RowIdx == nil && b.RowStride == 1:
			for jj := 0; jj < w; jj++ {
				base := b.colOff(j0+jr+jj) + p0
				src := b.Data[base : base+kb]
				dd := d[jj:]
				for p, v := range src {
					dd[p*nr] = v
				}
			}
		default:
			for jj := 0; jj < w; jj++ {
				co := b.colOff(j0 + jr + jj)
				dd := d[jj:]
				for p, o := range ro {
					dd[p*nr] = b.Data[o+co]
				}
			}
		}
		if w < nr {
			for p := 0; p < kb; p++ {
				clear(d[p*nr+w : p*nr+nr])
			}
		}
	}
}

// offsets tabulates n offsets into buf, so the generic packing loops index a slice instead of
// re-deciding between table and stride per element.
func offsets(buf *[]int, n int, off func(int) int) []int {
	if cap(*buf) < n {
		*buf = make([]int, n)
	}
	s := (*buf)[:n]
	for i := range s {
		s[i] = off(i)
	}
	return s
}
