package metrics

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/gonomaly/gonomaly/datasets"
)

// PixelOption configures the pixel-level metrics.
type PixelOption func(*pixelConfig)

type pixelConfig struct {
	bins        int
	curvePoints int
	workers     int
	window      int
}

// WithBins selects binned mode with b equal-width bins between the smallest and largest score
// (b <= 0, the default, is exact mode): one pass, O(b) memory, no sorting. All pixels of a bin count as
// one threshold step, so the curves are exact at the bin edges and straight in between. PixelResult
// reports the resulting error bound of every metric for the data at hand; for AUROC it is
// 1/2 * sum_b dFPR_b * dTPR_b <= 1/2 * max_b dTPR_b (the largest share of anomalous pixels in one bin),
// and likewise for AUPRO with the PRO curve (divided by the FPR limit). Scores with far outliers put
// most pixels in few bins: the bound shows it; raise b or use exact mode.
func WithBins(b int) PixelOption { return func(c *pixelConfig) { c.bins = b } }

// WithCurvePoints thins the returned pixel curves to about n points (consecutive kept points are at least
// 1/n of the curve's extent apart; the last point is always kept). Default DefaultCurvePoints; n < 0
// keeps every threshold step. Thinning never changes the metrics, which use every step.
func WithCurvePoints(n int) PixelOption { return func(c *pixelConfig) { c.curvePoints = n } }

// WithWorkers sets how many goroutines scan the maps (n <= 0: GOMAXPROCS, the default).
func WithWorkers(n int) PixelOption {
	return func(c *pixelConfig) {
		if n > 0 {
			c.workers = n
		}
	}
}

// withWindow sets how many bytes exact mode scatters per pass (tests use it to force many passes).
func withWindow(n int) PixelOption { return func(c *pixelConfig) { c.window = n } }

// defaultWindow bounds exact mode's scatter buffers to 256 MiB (2 bytes per normal pixel, 8 per
// anomalous one: about 120 M pixels); more pixels take more passes over the maps. A single 16-bit score bucket larger than this is counted in place by every
// worker (O(65536) memory each), so exact mode's extra memory never exceeds the window.
const defaultWindow = 256 << 20

// denseBucket is the bucket size from which exact mode counts a bucket's low 16 key bits in dense
// arrays instead of sorting it.
const denseBucket = 1 << 12

func newPixelConfig(opts []PixelOption) pixelConfig {
	c := pixelConfig{curvePoints: DefaultCurvePoints, workers: runtime.GOMAXPROCS(0), window: defaultWindow}
	for _, o := range opts {
		o(&c)
	}
	if c.curvePoints == 0 {
		c.curvePoints = DefaultCurvePoints
	}
	if c.workers < 1 {
		c.workers = 1
	}
	if c.window < 1 {
		c.window = defaultWindow
	}
	return c
}

// PixelResult holds every pixel-level metric of a set of anomaly maps against ground-truth masks.
type PixelResult struct {
	// AUROC, AP and AUPRO are pixel AUROC, pixel average precision and the normalised area under the
	// PRO curve up to FPRLimit.
	AUROC, AP, AUPRO float64
	// F1Max is the best pixel F1 score and F1Threshold the (lowest) threshold reaching it.
	F1Max, F1Threshold float64
	FPRLimit           float64
	// ROC (X FPR, Y TPR), PR (X recall, Y precision) and PRO (X FPR over normal pixels, Y PRO, up to
	// FPR 1) are the curves, thinned as WithCurvePoints says.
	ROC, PR, PRO Curve
	// Bins is 0 in exact mode. In binned mode the true (exact-mode) values lie within
	// AUROC±AUROCBound, AP±APBound and AUPRO±AUPROBound: each bin hides a monotone sub-curve inside the
	// box spanned by its end points, so the trapezoid of a bin errs by at most half the box area (the
	// whole box for the bin cut at the FPR limit), and a bin's precision lies between the precisions
	// of the box corners. The bounds are 0 in exact mode.
	Bins                            int
	AUROCBound, APBound, AUPROBound float64
	// Pixels counts all pixels, AnomalousPixels those with mask 1, Regions the 8-connected defect regions.
	Pixels, AnomalousPixels int64
	Regions                 int
}

// Pixel computes every pixel-level metric of maps (anomaly maps, C == 1) against masks (C == 1, values
// exactly 0 or 1; a zero Image means an all-normal mask) in one pass. It fails on mismatched sizes,
// non-finite scores, mask values other than 0 and 1, empty input, or when all pixels are of one class.
func Pixel(maps, masks []datasets.Image, opts ...PixelOption) (PixelResult, error) {
	return pixelMetrics(maps, masks, nil, DefaultFPRLimit, 1, newPixelConfig(opts))
}

// PixelAUROC returns the area under the pixel-level ROC curve (see Pixel for the input rules).
func PixelAUROC(maps, masks []datasets.Image, opts ...PixelOption) (float64, error) {
	r, err := Pixel(maps, masks, opts...)
	return r.AUROC, err
}

// PixelAP returns the pixel-level average precision (scikit-learn's step definition).
func PixelAP(maps, masks []datasets.Image, opts ...PixelOption) (float64, error) {
	r, err := Pixel(maps, masks, opts...)
	return r.AP, err
}

// PRO returns the per-region-overlap curve of MVTec AD's evaluation (generic_util.compute_pro): X is the
// false-positive rate over normal pixels (mask 0) of all images, Y the mean over all 8-connected
// ground-truth regions of all images of the fraction of the region at or above the threshold; one point
// per distinct score (or bin) from the highest down, starting at (0, 0). The curve stops at fprLimit
// (in (0, 1]) with a point interpolated linearly at the limit.
func PRO(maps, masks []datasets.Image, fprLimit float64, opts ...PixelOption) (Curve, error) {
	if !(fprLimit > 0 && fprLimit <= 1) {
		return Curve{}, fmt.Errorf("metrics: FPR limit %v not in (0, 1]", fprLimit)
	}
	r, err := pixelMetrics(maps, masks, nil, fprLimit, fprLimit, newPixelConfig(opts))
	return r.PRO, err
}

// AUPRO returns the area under the PRO curve from FPR 0 to fprLimit divided by fprLimit, integrated with
// the trapezoid rule and a linearly interpolated point at the limit, exactly as MVTec AD's
// evaluate_experiment.py (trapezoid(fprs, pros, x_max=limit) / limit). Papers use fprLimit 0.3.
func AUPRO(maps, masks []datasets.Image, fprLimit float64, opts ...PixelOption) (float64, error) {
	if !(fprLimit > 0 && fprLimit <= 1) {
		return 0, fmt.Errorf("metrics: FPR limit %v not in (0, 1]", fprLimit)
	}
	r, err := pixelMetrics(maps, masks, nil, fprLimit, 1, newPixelConfig(opts))
	return r.AUPRO, err
}

// sortKey maps float32 bits to a uint32 whose unsigned order is the float order (-0 folded into +0).
func sortKey(b uint32) uint32 {
	if b == 0x80000000 {
		b = 0
	}
	if b&0x80000000 != 0 {
		return ^b
	}
	return b | 0x80000000
}

// keyValue inverts sortKey.
func keyValue(k uint32) float32 {
	if k&0x80000000 != 0 {
		return math.Float32frombits(k &^ 0x80000000)
	}
	return math.Float32frombits(^k)
}

// pixelScan is the shared state of one pixel-metric computation over maps[idx[p]].
type pixelScan struct {
	maps, masks []datasets.Image
	idx         []int
	cfg         pixelConfig
	chunks      [][2]int // per worker, range of positions in idx

	nReg       []int32 // regions per position
	regionBase []int   // first global region number (0-based) per position
	invSize    []float64
	kmin, kmax []uint32 // key range per position

	// per worker
	hist       [][]uint32 // exact: pixels per top-16-bit key bucket
	histP      [][]uint32 // exact: anomalous pixels per bucket
	fmin, fmax []float32  // binned
}

// pass1 validates, counts, labels regions and histograms (exact) or finds the score range (binned).
func (ps *pixelScan) pass1(w int, sizes *[]int) (nNeg, nPos int64, err error) {
	var rl regionLabeler
	var lab []int32
	exact := ps.cfg.bins <= 0
	var hist, histP []uint32
	if exact {
		hist, histP = make([]uint32, 1<<16), make([]uint32, 1<<16)
		ps.hist[w], ps.histP[w] = hist, histP
	}
	fmin, fmax := float32(math.Inf(1)), float32(math.Inf(-1))
	for p := ps.chunks[w][0]; p < ps.chunks[w][1]; p++ {
		i := ps.idx[p]
		m := ps.maps[i]
		if m.C != 1 {
			return 0, 0, fmt.Errorf("metrics: anomaly map %d has %d channels, want 1", i, m.C)
		}
		if err := m.Validate(); err != nil {
			return 0, 0, fmt.Errorf("metrics: anomaly map %d: %w", i, err)
		}
		mk, zero, err := maskOf(ps.masks[i], m, i)
		if err != nil {
			return 0, 0, err
		}
		kmin, kmax := uint32(math.MaxUint32), uint32(0)
		for j, v := range m.Pix {
			b := math.Float32bits(v)
			if b&0x7f800000 == 0x7f800000 {
				return 0, 0, fmt.Errorf("metrics: anomaly map %d has %v at (y=%d, x=%d); scores must be finite", i, v, j/m.W, j%m.W)
			}
			k := sortKey(b)
			kmin, kmax = min(kmin, k), max(kmax, k)
			if exact {
				hist[k>>16]++
			}
		}
		ps.kmin[p], ps.kmax[p] = kmin, kmax
		if !exact {
			fmin, fmax = min(fmin, keyValue(kmin)), max(fmax, keyValue(kmax))
		}
		var pos int64
		if !zero {
			for j, v := range mk.Pix {
				if v == 1 {
					pos++
					if exact {
						histP[sortKey(math.Float32bits(m.Pix[j]))>>16]++
					}
				} else if v != 0 {
					return 0, 0, fmt.Errorf("metrics: mask %d has value %v at (y=%d, x=%d); masks must be exactly 0 or 1", i, v, j/m.W, j%m.W)
				}
			}
		}
		nPos += pos
		nNeg += int64(len(m.Pix)) - pos
		if pos > 0 {
			if cap(lab) < len(m.Pix) {
				lab = make([]int32, len(m.Pix))
			}
			n := rl.label(mk.Pix, m.H, m.W, lab[:len(m.Pix)])
			ps.nReg[p] = int32(n)
			*sizes = append(*sizes, rl.sizes...)
		}
	}
	if !exact {
		ps.fmin[w], ps.fmax[w] = fmin, fmax
	}
	return nNeg, nPos, nil
}

// maskOf checks mask i against map m; zero reports an all-normal mask given as a zero Image.
func maskOf(mk, m datasets.Image, i int) (datasets.Image, bool, error) {
	if mk.H == 0 && mk.W == 0 && len(mk.Pix) == 0 {
		return mk, true, nil
	}
	if mk.C != 1 {
		return mk, false, fmt.Errorf("metrics: mask %d has %d channels, want 1", i, mk.C)
	}
	if err := mk.Validate(); err != nil {
		return mk, false, fmt.Errorf("metrics: mask %d: %w", i, err)
	}
	if mk.H != m.H || mk.W != m.W {
		return mk, false, fmt.Errorf("metrics: anomaly map %d is %dx%d (W x H) but its mask is %dx%d", i, m.W, m.H, mk.W, mk.H)
	}
	return mk, false, nil
}

// parallel runs f(w) for every worker and returns the first error by worker order.
func (ps *pixelScan) parallel(f func(w int) error) error {
	errs := make([]error, len(ps.chunks))
	var wg sync.WaitGroup
	for w := range ps.chunks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[w] = f(w)
		}()
	}
	wg.Wait()
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// pixelMetrics computes the pixel metrics of maps[idx] (all maps when idx is nil).
func pixelMetrics(maps, masks []datasets.Image, idx []int, fprLimit, proCurveTo float64, cfg pixelConfig) (PixelResult, error) {
	if len(maps) != len(masks) {
		return PixelResult{}, fmt.Errorf("metrics: %d anomaly maps but %d masks", len(maps), len(masks))
	}
	if idx == nil {
		idx = make([]int, len(maps))
		for i := range idx {
			idx[i] = i
		}
	}
	if len(idx) == 0 {
		return PixelResult{}, fmt.Errorf("metrics: no anomaly maps")
	}
	nw := min(cfg.workers, len(idx))
	ps := &pixelScan{maps: maps, masks: masks, idx: idx, cfg: cfg,
		nReg: make([]int32, len(idx)), regionBase: make([]int, len(idx)),
		kmin: make([]uint32, len(idx)), kmax: make([]uint32, len(idx)),
		hist: make([][]uint32, nw), histP: make([][]uint32, nw), fmin: make([]float32, nw), fmax: make([]float32, nw)}
	for w := 0; w < nw; w++ {
		ps.chunks = append(ps.chunks, [2]int{w * len(idx) / nw, (w + 1) * len(idx) / nw})
	}
	negs, poss := make([]int64, nw), make([]int64, nw)
	sizes := make([][]int, nw)
	err := ps.parallel(func(w int) error {
		var err error
		negs[w], poss[w], err = ps.pass1(w, &sizes[w])
		return err
	})
	if err != nil {
		return PixelResult{}, err
	}
	var nNeg, nPos int64
	for w := range negs {
		nNeg += negs[w]
		nPos += poss[w]
	}
	res := PixelResult{FPRLimit: fprLimit, Pixels: nNeg + nPos, AnomalousPixels: nPos}
	if nPos == 0 {
		return res, fmt.Errorf("%w: none of the %d mask pixels is anomalous", ErrOneClass, nNeg)
	}
	if nNeg == 0 {
		return res, fmt.Errorf("%w: all %d mask pixels are anomalous", ErrOneClass, nPos)
	}
	nRegions := 0
	for p := range idx {
		ps.regionBase[p] = nRegions
		nRegions += int(ps.nReg[p])
	}
	ps.invSize = make([]float64, 0, nRegions)
	for _, s := range sizes {
		for _, n := range s {
			ps.invSize = append(ps.invSize, 1/float64(n))
		}
	}
	res.Regions = nRegions
	sw := newSweep(nNeg, nPos, nRegions, fprLimit, proCurveTo, cfg.curvePoints, cfg.bins > 0)
	var lastThr float64
	if cfg.bins > 0 {
		lastThr, err = ps.binned(sw)
	} else {
		lastThr, err = ps.exact(sw)
	}
	if err != nil {
		return res, err
	}
	r := sw.finish(lastThr)
	res.AUROC, res.AP, res.AUPRO = r.auroc, r.ap, r.aupro
	res.F1Max, res.F1Threshold = r.f1, r.f1Thr
	res.ROC, res.PR, res.PRO = r.roc, r.pr, r.pro
	res.AUROCBound, res.APBound, res.AUPROBound = r.aucBound, r.apBound, r.proBound
	if cfg.bins > 0 {
		res.Bins = cfg.bins
	}
	return res, nil
}

// labels returns the global region payload of each pixel of position p (0 normal, region number+1),
// reusing lab; nil when the image has no regions.
func (ps *pixelScan) labels(p int, rl *regionLabeler, lab *[]int32) []int32 {
	if ps.nReg[p] == 0 {
		return nil
	}
	i := ps.idx[p]
	m := ps.maps[i]
	n := len(m.Pix)
	if cap(*lab) < n {
		*lab = make([]int32, n)
	}
	l := (*lab)[:n]
	rl.label(ps.masks[i].Pix, m.H, m.W, l)
	base := int32(ps.regionBase[p])
	for j, v := range l {
		if v != 0 {
			l[j] = v + base
		}
	}
	return l
}

// exact groups pixels by exact float32 score. Pass 1's histogram of the top 16 key bits splits the
// key space into 65536 buckets; windows of consecutive buckets (highest first, at most cfg.window
// bytes) are scattered, normal pixels as their low 16 key bits (2 bytes) and anomalous ones with their
// region (8 bytes); each bucket is then sorted (or densely counted) on its low 16 bits and its tie
// groups stream into the sweep. It returns the lowest score.
func (ps *pixelScan) exact(sw *sweep) (float64, error) {
	nw := len(ps.chunks)
	negs, poss := make([]int, 1<<16), make([]int, 1<<16)
	for w := 0; w < nw; w++ {
		for b, c := range ps.hist[w] {
			p := int(ps.histP[w][b])
			negs[b] += int(c) - p
			poss[b] += p
		}
	}
	cost := func(b int) int { return 2*negs[b] + 8*poss[b] }
	type window struct{ lo, hi, bytes int }
	var wins []window
	maxN, maxP := 0, 0
	for hi := len(negs) - 1; hi >= 0; {
		if negs[hi]+poss[hi] == 0 {
			hi--
			continue
		}
		lo, c, nn, np := hi, cost(hi), negs[hi], poss[hi]
		for lo > 0 && c+cost(lo-1) <= ps.cfg.window {
			lo--
			c, nn, np = c+cost(lo), nn+negs[lo], np+poss[lo]
		}
		wins = append(wins, window{lo, hi, c})
		if c <= ps.cfg.window {
			maxN, maxP = max(maxN, nn), max(maxP, np)
		}
		hi = lo - 1
	}
	negBuf, posBuf := make([]uint16, maxN), make([]uint64, maxP)
	offN, offP := make([][]int, nw), make([][]int, nw)
	for w := range offN {
		offN[w], offP[w] = make([]int, 1<<16), make([]int, 1<<16)
	}
	startN, startP := make([]int, 1<<16+1), make([]int, 1<<16+1)
	var dense *denseCounts
	lastThr := math.NaN()
	for _, win := range wins {
		if win.bytes > ps.cfg.window {
			// One bucket larger than the window: count it densely in place, without scattering.
			lastThr = ps.countBucket(uint32(win.lo), sw)
			continue
		}
		// Bucket b's normal pixels occupy negBuf[startN[b]:startN[b+1]], its anomalous ones
		// posBuf[startP[b]:startP[b+1]]; worker w writes from offN[w][b] and offP[w][b].
		pn, pp := 0, 0
		for b := win.lo; b <= win.hi; b++ {
			startN[b], startP[b] = pn, pp
			for w := 0; w < nw; w++ {
				hp := int(ps.histP[w][b])
				offN[w][b], offP[w][b] = pn, pp
				pn += int(ps.hist[w][b]) - hp
				pp += hp
			}
		}
		startN[win.hi+1], startP[win.hi+1] = pn, pp
		lo, hi := uint32(win.lo), uint32(win.hi)
		_ = ps.parallel(func(w int) error {
			var rl regionLabeler
			var lab []int32
			on, op := offN[w], offP[w]
			for p := ps.chunks[w][0]; p < ps.chunks[w][1]; p++ {
				if ps.kmax[p]>>16 < lo || ps.kmin[p]>>16 > hi {
					continue
				}
				l := ps.labels(p, &rl, &lab)
				for j, v := range ps.maps[ps.idx[p]].Pix {
					k := sortKey(math.Float32bits(v))
					t := k >> 16
					if t < lo || t > hi {
						continue
					}
					if l == nil || l[j] == 0 {
						negBuf[on[t]] = uint16(k)
						on[t]++
					} else {
						posBuf[op[t]] = uint64(k&0xffff)<<32 | uint64(uint32(l[j]))
						op[t]++
					}
				}
			}
			return nil
		})
		// Sort the small buckets in parallel; large ones are counted densely below.
		var next atomic.Int64
		next.Store(int64(win.lo))
		_ = ps.parallel(func(int) error {
			for {
				b := int(next.Add(1) - 1)
				if b > win.hi {
					return nil
				}
				n, q := negBuf[startN[b]:startN[b+1]], posBuf[startP[b]:startP[b+1]]
				if len(n)+len(q) < denseBucket {
					slices.Sort(n)
					slices.Sort(q)
				}
			}
		})
		for b := win.hi; b >= win.lo; b-- {
			n, q := negBuf[startN[b]:startN[b+1]], posBuf[startP[b]:startP[b+1]]
			if len(n)+len(q) == 0 {
				continue
			}
			top := uint32(b) << 16
			if len(n)+len(q) >= denseBucket {
				if dense == nil {
					dense = newDenseCounts()
				}
				lastThr = dense.emit(n, q, top, ps.invSize, sw)
				continue
			}
			// Merge the two sorted runs from their high ends, one tie group at a time.
			i, j := len(n)-1, len(q)-1
			for i >= 0 || j >= 0 {
				key := -1
				if i >= 0 {
					key = int(n[i])
				}
				if j >= 0 {
					key = max(key, int(q[j]>>32))
				}
				var neg, pos int64
				var pro float64
				for ; i >= 0 && int(n[i]) == key; i-- {
					neg++
				}
				for ; j >= 0 && int(q[j]>>32) == key; j-- {
					pos++
					pro += ps.invSize[uint32(q[j])-1]
				}
				lastThr = float64(keyValue(top | uint32(key)))
				sw.step(lastThr, neg, pos, pro)
			}
		}
	}
	return lastThr, nil
}

// countBucket tallies the pixels of one top-16-bit bucket by the low 16 bits of their keys, each worker
// into its own dense arrays, and streams the tie groups into the sweep. It returns the lowest score.
func (ps *pixelScan) countBucket(top uint32, sw *sweep) float64 {
	parts := make([]*denseCounts, len(ps.chunks))
	_ = ps.parallel(func(w int) error {
		d := newDenseCounts()
		parts[w] = d
		var rl regionLabeler
		var lab []int32
		for p := ps.chunks[w][0]; p < ps.chunks[w][1]; p++ {
			if ps.kmax[p]>>16 < top || ps.kmin[p]>>16 > top {
				continue
			}
			l := ps.labels(p, &rl, &lab)
			for j, v := range ps.maps[ps.idx[p]].Pix {
				k := sortKey(math.Float32bits(v))
				if k>>16 != top {
					continue
				}
				low := k & 0xffff
				if l == nil || l[j] == 0 {
					d.neg[low]++
				} else {
					d.pos[low]++
					d.pro[low] += ps.invSize[l[j]-1]
				}
			}
		}
		return nil
	})
	d := parts[0]
	d.lo, d.hi = 0, len(d.neg)-1
	for _, o := range parts[1:] {
		for i := range d.neg {
			d.neg[i] += o.neg[i]
			d.pos[i] += o.pos[i]
			d.pro[i] += o.pro[i]
		}
	}
	return d.emitCounts(top<<16, sw)
}

// denseCounts tallies one large bucket by the low 16 bits of its keys.
type denseCounts struct {
	neg, pos []int64
	pro      []float64
	lo, hi   int // range of low bits counted so far
}

func newDenseCounts() *denseCounts {
	return &denseCounts{neg: make([]int64, 1<<16), pos: make([]int64, 1<<16), pro: make([]float64, 1<<16), lo: 1 << 16, hi: -1}
}

func (d *denseCounts) emit(negs []uint16, poss []uint64, top uint32, invSize []float64, sw *sweep) float64 {
	lo, hi := d.lo, d.hi
	for _, x := range negs {
		d.neg[x]++
		lo, hi = min(lo, int(x)), max(hi, int(x))
	}
	for _, x := range poss {
		low := x >> 32
		d.pos[low]++
		d.pro[low] += invSize[uint32(x)-1]
		lo, hi = min(lo, int(low)), max(hi, int(low))
	}
	d.lo, d.hi = lo, hi
	return d.emitCounts(top, sw)
}

// emitCounts streams the non-empty counts, highest key first, into the sweep and clears them.
func (d *denseCounts) emitCounts(top uint32, sw *sweep) float64 {
	last := math.NaN()
	for low := d.hi; low >= d.lo; low-- {
		if d.neg[low] == 0 && d.pos[low] == 0 {
			continue
		}
		last = float64(keyValue(top | uint32(low)))
		sw.step(last, d.neg[low], d.pos[low], d.pro[low])
		d.neg[low], d.pos[low], d.pro[low] = 0, 0, 0
	}
	d.lo, d.hi = len(d.neg), -1
	return last
}

// binned histograms the scores into cfg.bins equal-width bins between the lowest and highest score and
// streams the bins (highest first) into the sweep; a bin's threshold is its lower edge.
func (ps *pixelScan) binned(sw *sweep) (float64, error) {
	B := ps.cfg.bins
	mn, mx := math.Inf(1), math.Inf(-1)
	for w := range ps.chunks {
		mn, mx = math.Min(mn, float64(ps.fmin[w])), math.Max(mx, float64(ps.fmax[w]))
	}
	scale := 0.0
	if mx > mn {
		scale = float64(B) / (mx - mn)
	}
	nw := len(ps.chunks)
	negs, poss, pros := make([][]int64, nw), make([][]int64, nw), make([][]float64, nw)
	_ = ps.parallel(func(w int) error {
		neg, pos, pro := make([]int64, B), make([]int64, B), make([]float64, B)
		negs[w], poss[w], pros[w] = neg, pos, pro
		var rl regionLabeler
		var lab []int32
		for p := ps.chunks[w][0]; p < ps.chunks[w][1]; p++ {
			l := ps.labels(p, &rl, &lab)
			for j, v := range ps.maps[ps.idx[p]].Pix {
				b := int((float64(v) - mn) * scale)
				if b >= B {
					b = B - 1
				}
				if l == nil || l[j] == 0 {
					neg[b]++
				} else {
					pos[b]++
					pro[b] += ps.invSize[l[j]-1]
				}
			}
		}
		return nil
	})
	last := math.NaN()
	for b := B - 1; b >= 0; b-- {
		var neg, pos int64
		var pro float64
		for w := 0; w < nw; w++ {
			neg += negs[w][b]
			pos += poss[w][b]
			pro += pros[w][b]
		}
		if neg == 0 && pos == 0 {
			continue
		}
		last = mn + float64(b)*(mx-mn)/float64(B)
		sw.step(last, neg, pos, pro)
	}
	return last, nil
}
