package knn

import (
	"context"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gonomaly/gonomaly/methods/compute"
	"github.com/gonomaly/gonomaly/methods/compute/fastgo/sgemm"
)

func randRows(n, d int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 3))
	x := make([]float32, n*d)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

// bruteForce returns the sorted distances (float64) of each query to every bank row.
func bruteForce(q, b []float32, d int) [][]float64 {
	nq, nb := len(q)/d, len(b)/d
	out := make([][]float64, nq)
	for i := 0; i < nq; i++ {
		row := make([]float64, nb)
		for j := 0; j < nb; j++ {
			var s float64
			for c := 0; c < d; c++ {
				v := float64(q[i*d+c]) - float64(b[j*d+c])
				s += v * v
			}
			row[j] = math.Sqrt(s)
		}
		sort.Float64s(row)
		out[i] = row
	}
	return out
}

// TestSearchMatchesBruteForce runs each case under every SGEMM kernel this CPU has (the search's
// products go through it), so the AVX-512, AVX2 and plain-Go paths are all checked here.
func TestSearchMatchesBruteForce(t *testing.T) {
	defer sgemm.SetKernel(sgemm.Best())
	for kern := sgemm.Generic; kern <= sgemm.Best(); kern++ {
		if err := sgemm.SetKernel(kern); err != nil {
			t.Fatal(err)
		}
		t.Run(kern.String(), testSearchMatchesBruteForce)
	}
}

func testSearchMatchesBruteForce(t *testing.T) {
	for _, tc := range []struct {
		name         string
		nq, nb, d, k int
		workers      int
	}{
		{"k1", 37, 301, 24, 1, 0},
		{"k3-one-worker", 9, 130, 7, 3, 1},
		{"k9-odd", 5, 257, 33, 9, 2},
		{"single-query", 1, 1000, 64, 4, 0},
		{"k-larger-than-bank", 3, 5, 8, 9, 0},
		{"many-tiles", tileQueries + 77, 2*tileRows + 301, 19, 2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, b := randRows(tc.nq, tc.d, 1), randRows(tc.nb, tc.d, 2)
			ix, err := NewIndex(b, tc.d)
			if err != nil {
				t.Fatal(err)
			}
			ix.Workers = tc.workers
			res, err := ix.Search(context.Background(), q, tc.k)
			if err != nil {
				t.Fatal(err)
			}
			want := bruteForce(q, b, tc.d)
			k := min(tc.k, tc.nb)
			if res.K != k {
				t.Fatalf("K = %d, want %d", res.K, k)
			}
			for i := 0; i < tc.nq; i++ {
				for j := 0; j < k; j++ {
					got := float64(res.Dist[i*k+j])
					if math.Abs(got-want[i][j]) > 1e-3*(1+want[i][j]) {
						t.Fatalf("query %d rank %d: distance %v, want %v", i, j, got, want[i][j])
					}
					// The index must point at a row at that distance.
					id := int(res.Idx[i*k+j])
					var s float64
					for c := 0; c < tc.d; c++ {
						v := float64(q[i*tc.d+c]) - float64(b[id*tc.d+c])
						s += v * v
					}
					if math.Abs(math.Sqrt(s)-got) > 1e-3*(1+got) {
						t.Fatalf("query %d rank %d: index %d is at %v, reported %v", i, j, id, math.Sqrt(s), got)
					}
				}
			}
		})
	}
}

func TestGraphNearestMatchesBruteForce(t *testing.T) {
	backend := compute.MustBackend()
	for _, tc := range []struct {
		name             string
		nq, nb, d, k, ch int
	}{
		{"k1-one-chunk", 11, 90, 16, 1, 0},
		{"k3-chunks", 7, 100, 12, 3, 32},
		{"k5-uneven-chunks", 4, 77, 9, 5, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, b := randRows(tc.nq, tc.d, 5), randRows(tc.nb, tc.d, 6)
			exec, err := graph.NewExec(backend, func(qn, bn *graph.Node) []*graph.Node {
				d, i := Nearest(qn, bn, tc.k, tc.ch)
				return []*graph.Node{d, i}
			})
			if err != nil {
				t.Fatal(err)
			}
			outs, err := exec.Exec(tensors.FromFlatDataAndDimensions(q, tc.nq, tc.d), tensors.FromFlatDataAndDimensions(b, tc.nb, tc.d))
			if err != nil {
				t.Fatal(err)
			}
			dist := tensors.MustCopyFlatData[float32](outs[0])
			idx := tensors.MustCopyFlatData[int32](outs[1])
			want := bruteForce(q, b, tc.d)
			for i := 0; i < tc.nq; i++ {
				for j := 0; j < tc.k; j++ {
					got := float64(dist[i*tc.k+j])
					if math.Abs(got-want[i][j]) > 1e-3*(1+want[i][j]) {
						t.Fatalf("query %d rank %d: distance %v, want %v", i, j, got, want[i][j])
					}
					if id := idx[i*tc.k+j]; id < 0 || int(id) >= tc.nb {
						t.Fatalf("query %d rank %d: index %d out of range", i, j, id)
					}
				}
			}
		})
	}
}

func TestSearchErrors(t *testing.T) {
	if _, err := NewIndex(make([]float32, 7), 3); err == nil {
		t.Error("ragged bank accepted")
	}
	if _, err := NewIndex(nil, 3); err == nil {
		t.Error("empty bank accepted")
	}
	ix, _ := NewIndex(make([]float32, 6), 3)
	if _, err := ix.Search(context.Background(), make([]float32, 4), 1); err == nil {
		t.Error("ragged queries accepted")
	}
	if _, err := ix.Search(context.Background(), make([]float32, 3), 0); err == nil {
		t.Error("k = 0 accepted")
	}
}

const benchQ, benchBank, benchDim = 784, 16384, 1024

// BenchmarkSearch is the reference case: 784 query patches (one 224-px image) against a
// 16,384 x 1,024 bank, nearest neighbour (PyTorch here, 2 threads: 261 ms).
func BenchmarkSearch(b *testing.B) {
	q, bank := randRows(benchQ, benchDim, 1), randRows(benchBank, benchDim, 2)
	ix, _ := NewIndex(bank, benchDim)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := ix.Search(context.Background(), q, 1); err != nil {
			b.Fatal(err)
		}
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(sec*1000, "ms/search")
	b.ReportMetric(2*benchQ*benchBank*benchDim/1e9/sec, "GFLOP/s")
}

// BenchmarkGraphNearest runs the same search as a GoMLX graph on the backend compute chooses, in 8
// chunks of 2,048 bank rows (compilation excluded).
func BenchmarkGraphNearest(b *testing.B) {
	q, bank := randRows(benchQ, benchDim, 1), randRows(benchBank, benchDim, 2)
	exec, err := graph.NewExec(compute.MustBackend(), func(qn, bn *graph.Node) *graph.Node {
		d, _ := Nearest(qn, bn, 1, 2048)
		return d
	})
	if err != nil {
		b.Fatal(err)
	}
	qt := tensors.FromFlatDataAndDimensions(q, benchQ, benchDim)
	bt := tensors.FromFlatDataAndDimensions(bank, benchBank, benchDim)
	if _, err := exec.Exec(qt, bt); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, err := exec.Exec(qt, bt)
		if err != nil {
			b.Fatal(err)
		}
		out[0].FinalizeAll()
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(sec*1000, "ms/search")
	b.ReportMetric(2*benchQ*benchBank*benchDim/1e9/sec, "GFLOP/s")
}

// BenchmarkGraphMatMul measures the backend's plain MatMul of the same size, the ceiling for the
// graph search.
func BenchmarkGraphMatMul(b *testing.B) {
	q, bank := randRows(benchQ, benchDim, 1), randRows(benchBank/8, benchDim, 2)
	exec, err := graph.NewExec(compute.MustBackend(), func(qn, bn *graph.Node) *graph.Node {
		return graph.ReduceAllSum(graph.Einsum("qd,md->qm", qn, bn))
	})
	if err != nil {
		b.Fatal(err)
	}
	qt := tensors.FromFlatDataAndDimensions(q, benchQ, benchDim)
	bt := tensors.FromFlatDataAndDimensions(bank, benchBank/8, benchDim)
	if _, err := exec.Exec(qt, bt); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, _ := exec.Exec(qt, bt)
		out[0].FinalizeAll()
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(2*benchQ*benchBank/8*benchDim/1e9/sec, "GFLOP/s")
}

func TestSquaredDistancesMatchesBruteForce(t *testing.T) {
	q, b := randRows(11, 9, 3), randRows(7, 9, 4)
	ix, _ := NewIndex(b, 9)
	got := ix.SquaredDistances(q)
	for i := 0; i < 11; i++ {
		for j := 0; j < 7; j++ {
			var s float64
			for c := 0; c < 9; c++ {
				v := float64(q[i*9+c]) - float64(b[j*9+c])
				s += v * v
			}
			if math.Abs(float64(got[i*7+j])-s) > 1e-3*(1+s) {
				t.Fatalf("(%d,%d): %v, want %v", i, j, got[i*7+j], s)
			}
		}
	}
}

// TestGraphNearestManyLargeChunks guards against a GoMLX pure-Go backend deadlock (v0.26.0): several
// independent large matrix products in one graph each wait for a worker of a pool they already fill.
// Nearest chains its chunks so only one product runs at a time.
func TestGraphNearestManyLargeChunks(t *testing.T) {
	const nq, nb, d, chunk = 256, 4096, 128, 512
	q, b := randRows(nq, d, 8), randRows(nb, d, 9)
	exec, err := graph.NewExec(compute.MustBackend(), func(qn, bn *graph.Node) *graph.Node {
		dist, _ := Nearest(qn, bn, 1, chunk)
		return dist
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	var got []float32
	go func() {
		out, err := exec.Exec(tensors.FromFlatDataAndDimensions(q, nq, d), tensors.FromFlatDataAndDimensions(b, nb, d))
		if err == nil {
			got = tensors.MustCopyFlatData[float32](out[0])
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("graph search of 8 chunks did not finish in 60 s (backend deadlock?)")
	}
	ix, _ := NewIndex(b, d)
	want, _ := ix.Search(context.Background(), q, 1)
	for i := range got {
		if math.Abs(float64(got[i]-want.Dist[i])) > 1e-3*(1+float64(want.Dist[i])) {
			t.Fatalf("query %d: graph %v, Go %v", i, got[i], want.Dist[i])
		}
	}
}
