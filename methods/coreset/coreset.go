// Package coreset selects a small subset of feature vectors that covers a large set: the greedy
// k-center coreset PatchCore uses to shrink its memory bank (Roth et al., "Towards Total Recall in
// Industrial Anomaly Detection", CVPR 2022, Sec. 3.2, Algorithm 1).
//
// Memory stays O(N): the selection keeps one vector of each point's distance to the nearest selected
// centre and never builds an NxN distance matrix, so banks of millions of patches fit. Distances are
// computed on a random projection of the features (Johnson-Lindenstrauss, 128 dimensions by default),
// as the paper does to make the selection fast.
package coreset

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"github.com/gonomaly/gonomaly/internal/finite"
	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/knn"
)

// JLDim, used as Options.Dim, asks for the Johnson-Lindenstrauss minimum dimension for Options.Eps
// (Dasgupta and Gupta 2003: 4 ln N / (eps^2/2 - eps^3/3)), as scikit-learn's "auto" does.
const JLDim = -1

// Options configure GreedyKCenter. The zero value is the paper's recipe.
type Options struct {
	// Dim is the dimension of the random projection the distances are computed on. 0 means 128, the
	// paper's choice; JLDim derives it from Eps and N; a value >= the feature dimension (or NoProjection)
	// skips the projection.
	Dim int
	// NoProjection computes distances on the raw features.
	NoProjection bool
	// Eps is the Johnson-Lindenstrauss distortion used when Dim == JLDim. Default 0.9.
	Eps float64
	// Gaussian uses a dense Gaussian projection instead of the default very sparse one (Li, Hastie and
	// Church, "Very Sparse Random Projections", KDD 2006: density 1/sqrt(D)), which is about sqrt(D)
	// times cheaper to apply and preserves distances as well.
	Gaussian bool
	// Starts is the number of random points whose mean distance initialises the approximate greedy
	// search. Default 10 (Roth et al.'s reference implementation). Starts are not centres and are not
	// returned unless chosen.
	Starts int
	// Seed makes the projection and the starts deterministic.
	Seed uint64
	// Workers is the number of goroutines; 0 means runtime.GOMAXPROCS(0).
	Workers int
}

func (o Options) withDefaults() Options {
	if o.Dim == 0 {
		o.Dim = 128
	}
	if o.Eps == 0 {
		o.Eps = 0.9
	}
	if o.Starts <= 0 {
		o.Starts = 10
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	return o
}

// JLMinDim returns the Johnson-Lindenstrauss minimum dimension that preserves the pairwise distances of
// n points within a factor (1 +- eps): 4 ln n / (eps^2/2 - eps^3/3).
func JLMinDim(n int, eps float64) int {
	if n < 2 {
		return 1
	}
	return int(math.Ceil(4 * math.Log(float64(n)) / (eps*eps/2 - eps*eps*eps/3)))
}

// GreedyKCenter returns the indices of k rows of x (row-major, dim columns) chosen by the approximate
// greedy k-center algorithm (Roth et al. 2022, Algorithm 1; Sener and Savarese, ICLR 2018): it
// repeatedly adds the point farthest from every point chosen so far, starting from each point's mean
// distance to Starts random points.
// The returned indices are distinct and in selection order. A NaN or an infinity in x is an error naming
// its row. Memory use is O(N + N*Dim) for the
// projection plus one N-vector of distances. It reports progress through ctx (see methods.WithProgress)
// and stops with ctx.Err() when ctx is cancelled.
//
// See also Project and CoveringRadius.
func GreedyKCenter(ctx context.Context, x []float32, dim, k int, opts Options) ([]int, error) {
	if dim <= 0 || len(x)%dim != 0 {
		return nil, fmt.Errorf("coreset: %d values do not form rows of dimension %d", len(x), dim)
	}
	n := len(x) / dim
	if k < 0 || k > n {
		return nil, fmt.Errorf("coreset: cannot select %d of %d points", k, n)
	}
	if k == 0 {
		return []int{}, nil
	}
	// A NaN distance never wins a comparison: the farthest point would be chosen wrongly, or twice.
	if err := finite.Rows("coreset", x, dim); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	r := rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x5851f42d4c957f2d))
	z, zdim := x, dim
	if !opts.NoProjection {
		p := opts.Dim
		if p == JLDim {
			p = JLMinDim(n, opts.Eps)
		}
		if p < dim {
			z = Project(x, dim, p, opts.Gaussian, r.Uint64(), opts.Workers)
			zdim = p
			if err := finite.Rows("coreset: projected features (values too large?)", z, zdim); err != nil {
				return nil, err
			}
		}
	}
	starts := opts.Starts
	if starts > n {
		starts = n
	}
	g := &greedy{z: z, dim: zdim, n: n, workers: opts.Workers, minD: make([]float32, n)}
	g.initFromStarts(r.Perm(n)[:starts])
	out := make([]int, 0, k)
	start := time.Now()
	task := fmt.Sprintf("coreset: greedy k-center %d of %d", k, n)
	next := g.argmax()
	for len(out) < k {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c := next
		out = append(out, c)
		g.minD[c] = -1 // never chosen again, even among duplicates
		next = g.update(c)
		if len(out)%256 == 0 || len(out) == k {
			methods.ReportProgress(ctx, methods.Event{Task: task, Done: len(out), Total: k,
				Elapsed: time.Since(start), Finished: len(out) == k})
		}
	}
	return out, nil
}

// greedy holds the state of one selection: the (projected) points and each point's squared distance to
// its nearest centre so far (-1 for points already selected).
type greedy struct {
	z       []float32
	dim, n  int
	workers int
	minD    []float32
	best    []int
}

// update lowers minD with the distances to centre c and returns the index of the largest minD.
// The N points are split between the workers; each returns its local arg-max.
func (g *greedy) update(c int) int {
	center := g.z[c*g.dim : (c+1)*g.dim]
	w := g.workers
	if g.n < 4096 {
		w = 1
	}
	if len(g.best) != w {
		g.best = make([]int, w)
	}
	if w == 1 {
		g.best[0] = g.updateRange(center, 0, g.n)
	} else {
		var wg sync.WaitGroup
		for i := 0; i < w; i++ {
			lo, hi := i*g.n/w, (i+1)*g.n/w
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				g.best[i] = g.updateRange(center, lo, hi)
			}(i)
		}
		wg.Wait()
	}
	best := g.best[0]
	for _, b := range g.best[1:] {
		if g.minD[b] > g.minD[best] {
			best = b
		}
	}
	return best
}

func (g *greedy) updateRange(center []float32, lo, hi int) int {
	minD := g.minD[lo:hi]
	updateMin(g.z[lo*g.dim:hi*g.dim], center, minD, g.dim)
	best, bestD := lo, float32(-2)
	for i, m := range minD {
		if m > bestD {
			best, bestD = lo+i, m
		}
	}
	return best
}

// updateMinGo is updateMin in plain Go.
func updateMinGo(z, center, minD []float32, dim int) {
	for i, m := range minD {
		if m < 0 {
			continue
		}
		if d := sqDist(z[i*dim:(i+1)*dim], center); d < m {
			minD[i] = d
		}
	}
}

// initFromStarts sets each point's initial distance to the mean of its Euclidean distances to the
// random start points, as Roth et al.'s reference implementation does: the starts are not centres (a
// point next to one is not covered), they only bias the first choices away from the data's bulk.
func (g *greedy) initFromStarts(starts []int) {
	parallelRows(g.n, g.workers, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := g.z[i*g.dim : (i+1)*g.dim]
			var sum float64
			for _, s := range starts {
				sum += math.Sqrt(float64(sqDist(row, g.z[s*g.dim:(s+1)*g.dim])))
			}
			m := sum / float64(len(starts))
			g.minD[i] = float32(m * m)
		}
	})
}

// argmax returns the index of the largest minD.
func (g *greedy) argmax() int {
	best := 0
	for i, v := range g.minD {
		if v > g.minD[best] {
			best = i
		}
	}
	return best
}

// sqDist is the squared Euclidean distance of two equal-length vectors, unrolled by four with
// independent accumulators so the loop is not bound by the latency of one chain of additions.
func sqDist(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		d0 := a[i] - b[i]
		d1 := a[i+1] - b[i+1]
		d2 := a[i+2] - b[i+2]
		d3 := a[i+3] - b[i+3]
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(a); i++ {
		d := a[i] - b[i]
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

// Project returns x (rows of dimension dim) multiplied by a seeded random matrix to p dimensions,
// scaled so squared distances are preserved in expectation. With gaussian false it uses a very sparse
// projection (entries +-sqrt(s/p) with probability 1/(2s) each, s = sqrt(dim); Li et al. 2006);
// otherwise a dense one with N(0, 1/p) entries.
func Project(x []float32, dim, p int, gaussian bool, seed uint64, workers int) []float32 {
	n := len(x) / dim
	r := rand.New(rand.NewPCG(seed, seed^0x2545f4914f6cdd1d))
	out := make([]float32, n*p)
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if gaussian {
		// Dense matrix stored as [p][dim] so each output is one dot product.
		m := make([]float32, p*dim)
		scale := 1 / math.Sqrt(float64(p))
		for i := range m {
			m[i] = float32(r.NormFloat64() * scale)
		}
		parallelRows(n, workers, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				row := x[i*dim : (i+1)*dim]
				o := out[i*p : (i+1)*p]
				for j := range o {
					o[j] = knn.InnerProduct(row, m[j*dim:(j+1)*dim])
				}
			}
		})
		return out
	}
	s := math.Sqrt(float64(dim))
	density := 1 / s
	val := float32(math.Sqrt(s / float64(p)))
	type entry struct {
		col int32
		v   float32
	}
	cols := make([][]entry, p)
	for j := range cols {
		for c := 0; c < dim; c++ {
			if r.Float64() < density {
				v := val
				if r.IntN(2) == 0 {
					v = -val
				}
				cols[j] = append(cols[j], entry{int32(c), v})
			}
		}
	}
	parallelRows(n, workers, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := x[i*dim : (i+1)*dim]
			o := out[i*p : (i+1)*p]
			for j, col := range cols {
				var acc float32
				for _, e := range col {
					acc += row[e.col] * e.v
				}
				o[j] = acc
			}
		}
	})
	return out
}

// parallelRows runs fn on contiguous row ranges [lo,hi) split between workers goroutines.
func parallelRows(n, workers int, fn func(lo, hi int)) {
	if workers <= 1 || n < 2*workers {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := w*n/workers, (w+1)*n/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}

// CoveringRadius returns the largest Euclidean distance from any row of x to its nearest row among
// centers (indices into x), computed on the raw features: the k-center objective a coreset minimises.
// Each row's nearest centre is found by knn's search, whose products run on the SGEMM (pairwise loops
// took minutes at PatchCore's sizes, 31,360 rows x 7,840 centres x 1,024); the distance to it is then
// recomputed directly, so a row that is a centre is at exactly 0.
func CoveringRadius(x []float32, dim int, centers []int) float32 {
	n := len(x) / dim
	if len(centers) == 0 || n == 0 {
		return float32(math.Inf(1))
	}
	bank := make([]float32, 0, len(centers)*dim)
	for _, c := range centers {
		bank = append(bank, x[c*dim:(c+1)*dim]...)
	}
	res, err := knn.Search(context.Background(), x, bank, dim, 1)
	if err != nil { // rows knn refuses (non-finite): fall back to the direct pairwise search
		return pairwiseCoveringRadius(x, dim, centers)
	}
	var r float32
	for i := 0; i < n; i++ {
		c := int(res.Idx[i])
		r = max(r, sqDist(x[i*dim:(i+1)*dim], bank[c*dim:(c+1)*dim]))
	}
	return float32(math.Sqrt(float64(r)))
}

// pairwiseCoveringRadius is CoveringRadius by comparing every row with every centre.
func pairwiseCoveringRadius(x []float32, dim int, centers []int) float32 {
	n := len(x) / dim
	if len(centers) == 0 || n == 0 {
		return float32(math.Inf(1))
	}
	var mu sync.Mutex
	var r float32
	parallelRows(n, runtime.GOMAXPROCS(0), func(lo, hi int) {
		var worst float32
		for i := lo; i < hi; i++ {
			row := x[i*dim : (i+1)*dim]
			best := float32(math.Inf(1))
			for _, c := range centers {
				if d := sqDist(row, x[c*dim:(c+1)*dim]); d < best {
					best = d
				}
			}
			if best > worst {
				worst = best
			}
		}
		mu.Lock()
		if worst > r {
			r = worst
		}
		mu.Unlock()
	})
	return float32(math.Sqrt(float64(r)))
}
