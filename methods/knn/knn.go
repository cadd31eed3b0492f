// Package knn finds the nearest rows of a bank of feature vectors for each query row: the
// nearest-neighbour search at the heart of memory-bank anomaly detectors (PatchCore, PNI, SPADE).
//
// Distances are Euclidean and computed as ||q||^2 - 2 q.b + ||b||^2, so the work is one matrix product
// per bank chunk; only a running top-k per query is kept, never the full query x bank matrix. Two engines:
// Index, in Go on all cores (the products through the fastgo backend's packed SGEMM: AVX-512, AVX2+FMA
// or plain Go as the CPU allows), and GoMLX graph builders
// (SquaredDistances, Nearest) for graph code, which run on XLA when a plugin is present. Index does not
// switch to the graph on XLA by itself: build the graph (or use scores.Graph) for that.
package knn

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/gonomaly/gonomaly/internal/finite"
	"github.com/gonomaly/gonomaly/methods/compute/fastgo/sgemm"
)

// Result holds, for nq queries, the K nearest bank rows in ascending distance order:
// Dist[i*K+j] is the Euclidean distance of query i to its j-th nearest row, Idx[i*K+j] that row.
type Result struct {
	K    int
	Dist []float32
	Idx  []int32
}

// Nearest returns the distance of query i to its nearest bank row.
func (r Result) Nearest(i int) float32 { return r.Dist[i*r.K] }

// NearestAll returns the distance of every query to its nearest bank row.
func (r Result) NearestAll() []float32 {
	out := make([]float32, len(r.Dist)/max(r.K, 1))
	for i := range out {
		out[i] = r.Dist[i*r.K]
	}
	return out
}

// Index is a bank of rows (row-major, Dim columns) with precomputed squared norms, ready to be searched
// many times. It is safe for concurrent searches.
type Index struct {
	Dim   int
	bank  []float32
	norms []float32
	// Workers is the number of goroutines a search uses; 0 means runtime.GOMAXPROCS(0).
	Workers int
}

// NewIndex wraps bank (len a multiple of dim; it is not copied and must not change afterwards). A bank
// row holding a NaN or an infinity (or whose squared norm overflows) is an error naming the row.
func NewIndex(bank []float32, dim int) (*Index, error) {
	if dim <= 0 || len(bank)%dim != 0 {
		return nil, fmt.Errorf("knn: %d bank values do not form rows of dimension %d", len(bank), dim)
	}
	if len(bank) == 0 {
		return nil, fmt.Errorf("knn: empty bank")
	}
	ix := &Index{Dim: dim, bank: bank, norms: rowNorms(bank, dim)}
	if err := checkRows("knn: bank", bank, ix.norms, dim); err != nil {
		return nil, err
	}
	return ix, nil
}

// Len is the number of bank rows.
func (ix *Index) Len() int { return len(ix.bank) / ix.Dim }

// Bank returns the bank's rows (not a copy).
func (ix *Index) Bank() []float32 { return ix.bank }

// Row returns bank row i (not a copy).
func (ix *Index) Row(i int) []float32 { return ix.bank[i*ix.Dim : (i+1)*ix.Dim] }

// checkRows returns an error naming the first row of x holding a NaN or an infinity, or whose squared
// norm overflows float32 (norms are x's squared row norms): such a row has no usable distance, and a
// search would never pick a nearest row for it.
func checkRows(what string, x, norms []float32, dim int) error {
	r := finite.Index(norms)
	if r < 0 {
		return nil
	}
	row := x[r*dim : (r+1)*dim]
	if c := finite.Index(row); c >= 0 {
		return fmt.Errorf("%s row %d, column %d is %s (non-finite values are not allowed)", what, r, c, finite.Describe(row[c]))
	}
	return fmt.Errorf("%s: row %d's squared norm overflows float32 (values too large)", what, r)
}

func rowNorms(x []float32, dim int) []float32 {
	n := len(x) / dim
	out := make([]float32, n)
	for i := range out {
		out[i] = InnerProduct(x[i*dim:(i+1)*dim], x[i*dim:(i+1)*dim])
	}
	return out
}

// Search returns the k nearest bank rows of every query row (len(queries) a multiple of Dim), with
// Euclidean distances. k is capped at the bank size. It stops with ctx.Err() when ctx is cancelled.
// A query row holding a NaN or an infinity, or with no finite distance to k bank rows, is an error.
func (ix *Index) Search(ctx context.Context, queries []float32, k int) (Result, error) {
	d := ix.Dim
	if len(queries)%d != 0 {
		return Result{}, fmt.Errorf("knn: %d query values do not form rows of dimension %d", len(queries), d)
	}
	if k <= 0 {
		return Result{}, fmt.Errorf("knn: k = %d, want >= 1", k)
	}
	k = min(k, ix.Len())
	nq := len(queries) / d
	qn := rowNorms(queries, d)
	if err := checkRows("knn: query", queries, qn, d); err != nil {
		return Result{}, err
	}
	workers := ix.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	nb := ix.Len()
	// Each worker scans a contiguous share of the bank for all queries and keeps its own top-k lists;
	// the lists are merged at the end. This works as well for one query as for thousands.
	workers = max(1, min(workers, nb/tileRows))
	parts := make([]topK, workers)
	var wg sync.WaitGroup
	var cancelled bool
	var mu sync.Mutex
	for w := 0; w < workers; w++ {
		lo, hi := w*nb/workers, (w+1)*nb/workers
		parts[w] = newTopK(nq, k)
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			if !ix.scan(ctx, queries, qn, lo, hi, &parts[w]) {
				mu.Lock()
				cancelled = true
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	if cancelled {
		return Result{}, ctx.Err()
	}
	all := parts[0]
	for _, p := range parts[1:] {
		all.merge(&p)
	}
	res := Result{K: k, Dist: all.dist, Idx: all.idx}
	for i, id := range res.Idx {
		if id < 0 { // every distance was NaN or +Inf (an overflow): never index with it
			return Result{}, fmt.Errorf("knn: query row %d has no finite distance to %d bank rows (values too large?)", i/k, k)
		}
	}
	for i, v := range res.Dist {
		res.Dist[i] = float32(math.Sqrt(float64(max(v, 0))))
	}
	return res, nil
}

// Search tiles: the products are computed tileQueries x tileRows at a time with the packed SGEMM of
// the fastgo backend (AVX-512, AVX2 or plain Go as the CPU allows), so each worker's dot-product block
// (2 MiB) stays in L2/L3 and the top-k update reads it while it is still warm.
const (
	tileRows    = 512
	tileQueries = 1024
)

// scan updates top with the bank rows [lo, hi). It returns false if ctx was cancelled.
func (ix *Index) scan(ctx context.Context, q, qn []float32, lo, hi int, top *topK) bool {
	d := ix.Dim
	nq := len(qn)
	dots := make([]float32, min(nq, tileQueries)*min(hi-lo, tileRows))
	for t0 := lo; t0 < hi; t0 += tileRows {
		t1 := min(t0+tileRows, hi)
		nt := t1 - t0
		bank := sgemm.DenseT(ix.bank[t0*d:t1*d], d) // k x n: column j is bank row t0+j
		for i0 := 0; i0 < nq; i0 += tileQueries {
			if ctx.Err() != nil {
				return false
			}
			i1 := min(i0+tileQueries, nq)
			sgemm.GemmSerial(i1-i0, nt, d, sgemm.Dense(q[i0*d:i1*d], d), bank, dots, nt, false)
			for i := i0; i < i1; i++ {
				top.offer(i, qn[i], dots[(i-i0)*nt:(i-i0+1)*nt], ix.norms[t0:t1], t0)
			}
		}
	}
	return true
}

// topK keeps the k smallest squared distances per query, sorted ascending.
type topK struct {
	k    int
	dist []float32
	idx  []int32
}

func newTopK(nq, k int) topK {
	t := topK{k: k, dist: make([]float32, nq*k), idx: make([]int32, nq*k)}
	for i := range t.dist {
		t.dist[i] = float32(math.Inf(1))
		t.idx[i] = -1
	}
	return t
}

// offer considers bank rows first, first+1, ... with the given dot products with query i.
func (t *topK) offer(i int, qn float32, dots, norms []float32, first int) {
	dist := t.dist[i*t.k : (i+1)*t.k]
	idx := t.idx[i*t.k : (i+1)*t.k]
	worst := dist[t.k-1]
	norms = norms[:len(dots)]
	for j, dp := range dots {
		v := qn - 2*dp + norms[j]
		if v < worst {
			insert(dist, idx, v, int32(first+j))
			worst = dist[t.k-1]
		}
	}
}

// insert puts (v, id) into the sorted list, dropping the last entry.
func insert(dist []float32, idx []int32, v float32, id int32) {
	p := len(dist) - 1
	for p > 0 && dist[p-1] > v {
		dist[p] = dist[p-1]
		idx[p] = idx[p-1]
		p--
	}
	dist[p] = v
	idx[p] = id
}

func (t *topK) merge(o *topK) {
	nq := len(t.dist) / t.k
	for i := 0; i < nq; i++ {
		dist := t.dist[i*t.k : (i+1)*t.k]
		idx := t.idx[i*t.k : (i+1)*t.k]
		for j := 0; j < t.k; j++ {
			v := o.dist[i*t.k+j]
			if v >= dist[t.k-1] {
				break
			}
			insert(dist, idx, v, o.idx[i*t.k+j])
		}
	}
}

// InnerProduct is the float32 dot product of a and b (len(b) >= len(a)) with four partial sums, which the
// compiler keeps in registers; the memory-bank packages share it.
func InnerProduct(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// Search is a one-shot Index search: the k nearest rows of bank for every row of queries.
func Search(ctx context.Context, queries, bank []float32, dim, k int) (Result, error) {
	ix, err := NewIndex(bank, dim)
	if err != nil {
		return Result{}, err
	}
	return ix.Search(ctx, queries, k)
}

// SquaredDistances returns the full [nq, Len()] matrix of squared Euclidean distances from every query
// row to every bank row (clamped at 0). Use it when a score needs more than the k nearest rows (for
// example PNI's search restricted to plausible bank rows); its memory is nq * Len() floats.
func (ix *Index) SquaredDistances(queries []float32) []float32 {
	d := ix.Dim
	nq := len(queries) / d
	nb := ix.Len()
	qn := rowNorms(queries, d)
	out := make([]float32, nq*nb)
	sgemm.Gemm(nq, nb, d, sgemm.Dense(queries, d), sgemm.DenseT(ix.bank, d), out, nb, false)
	for i := 0; i < nq; i++ {
		row := out[i*nb : (i+1)*nb]
		for j, dp := range row {
			row[j] = max(qn[i]-2*dp+ix.norms[j], 0)
		}
	}
	return out
}
