package scores

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gonomaly/gonomaly/methods/features"
	"github.com/gonomaly/gonomaly/methods/knn"
)

func randSet(n, h, w, d int, seed uint64) *features.Set {
	r := rand.New(rand.NewPCG(seed, 7))
	s := &features.Set{N: n, H: h, W: w, D: d, Data: make([]float32, n*h*w*d)}
	for i := range s.Data {
		s.Data[i] = float32(r.NormFloat64())
	}
	return s
}

// bruteKNN returns the sorted Euclidean distances of patch q of test to every train patch.
func bruteKNN(train, test *features.Set, q int) []float64 {
	d := train.D
	out := make([]float64, train.Patches())
	for j := range out {
		var s float64
		for c := 0; c < d; c++ {
			v := float64(test.Data[q*d+c]) - float64(train.Data[j*d+c])
			s += v * v
		}
		out[j] = math.Sqrt(s)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j-1] > out[j]; j-- {
			out[j-1], out[j] = out[j], out[j-1]
		}
	}
	return out
}

func TestBankScoresMatchBruteForce(t *testing.T) {
	train, test := randSet(4, 3, 3, 6, 1), randSet(2, 3, 3, 6, 2)
	ctx := context.Background()
	for _, tc := range []struct {
		f    Func
		want func(sorted []float64) float64
	}{
		{NearestL2{}, func(s []float64) float64 { return s[0] }},
		{KNNMean{K: 3}, func(s []float64) float64 { return (s[0] + s[1] + s[2]) / 3 }},
	} {
		got, err := tc.f.Score(ctx, train, test)
		if err != nil {
			t.Fatal(err)
		}
		for q := range got {
			w := tc.want(bruteKNN(train, test, q))
			if math.Abs(float64(got[q])-w) > 1e-4*(1+w) {
				t.Fatalf("%s: patch %d = %v, want %v", tc.f.Name(), q, got[q], w)
			}
		}
	}
	// Cosine: 1 - max cosine similarity, checked directly.
	got, err := Cosine{}.Score(ctx, train, test)
	if err != nil {
		t.Fatal(err)
	}
	d := train.D
	for q := range got {
		best := -2.0
		for j := 0; j < train.Patches(); j++ {
			var ab, aa, bb float64
			for c := 0; c < d; c++ {
				a, b := float64(test.Data[q*d+c]), float64(train.Data[j*d+c])
				ab, aa, bb = ab+a*b, aa+a*a, bb+b*b
			}
			best = math.Max(best, ab/math.Sqrt(aa*bb))
		}
		if math.Abs(float64(got[q])-(1-best)) > 1e-4 {
			t.Fatalf("cosine: patch %d = %v, want %v", q, got[q], 1-best)
		}
	}
}

func TestMahalanobisMatchesDirect(t *testing.T) {
	train, test := randSet(12, 2, 2, 5, 3), randSet(3, 2, 2, 5, 4)
	got, err := Mahalanobis{Dims: -1, Eps: 0.01}.Score(context.Background(), train, test)
	if err != nil {
		t.Fatal(err)
	}
	d, npos := 5, 4
	for p := 0; p < npos; p++ {
		mean := make([]float64, d)
		for i := 0; i < train.N; i++ {
			for c := 0; c < d; c++ {
				mean[c] += float64(train.Data[(i*npos+p)*d+c]) / float64(train.N)
			}
		}
		cov := make([][]float64, d)
		for a := range cov {
			cov[a] = make([]float64, d)
			for b := range cov[a] {
				for i := 0; i < train.N; i++ {
					cov[a][b] += (float64(train.Data[(i*npos+p)*d+a]) - mean[a]) * (float64(train.Data[(i*npos+p)*d+b]) - mean[b])
				}
				cov[a][b] /= float64(train.N - 1)
			}
			cov[a][a] += 0.01
		}
		inv := invert(cov)
		for i := 0; i < test.N; i++ {
			x := make([]float64, d)
			for c := range x {
				x[c] = float64(test.Data[(i*npos+p)*d+c]) - mean[c]
			}
			var m float64
			for a := 0; a < d; a++ {
				for b := 0; b < d; b++ {
					m += x[a] * inv[a][b] * x[b]
				}
			}
			if g := float64(got[i*npos+p]); math.Abs(g-math.Sqrt(m)) > 1e-3*(1+math.Sqrt(m)) {
				t.Fatalf("image %d position %d: %v, want %v", i, p, g, math.Sqrt(m))
			}
		}
	}
	// Wrong grid and too few images are errors.
	if _, err := (Mahalanobis{}).Score(context.Background(), train, randSet(1, 3, 3, 5, 1)); err == nil {
		t.Error("test grid differing from train accepted")
	}
	if _, err := (Mahalanobis{}).Score(context.Background(), randSet(1, 2, 2, 5, 1), test); err == nil {
		t.Error("one train image accepted")
	}
}

// invert inverts a small matrix by Gauss-Jordan elimination with partial pivoting.
func invert(a [][]float64) [][]float64 {
	n := len(a)
	m := make([][]float64, n)
	for i := range m {
		m[i] = make([]float64, 2*n)
		copy(m[i], a[i])
		m[i][n+i] = 1
	}
	for c := 0; c < n; c++ {
		p := c
		for r := c + 1; r < n; r++ {
			if math.Abs(m[r][c]) > math.Abs(m[p][c]) {
				p = r
			}
		}
		m[c], m[p] = m[p], m[c]
		pv := m[c][c]
		for j := range m[c] {
			m[c][j] /= pv
		}
		for r := 0; r < n; r++ {
			if r != c {
				f := m[r][c]
				for j := range m[r] {
					m[r][j] -= f * m[c][j]
				}
			}
		}
	}
	out := make([][]float64, n)
	for i := range out {
		out[i] = m[i][n:]
	}
	return out
}

func TestGraphScoreMatchesGo(t *testing.T) {
	train, test := randSet(3, 4, 4, 8, 5), randSet(2, 4, 4, 8, 6)
	ctx := context.Background()
	want, _ := NearestL2{}.Score(ctx, train, test)
	// Nearest neighbour as a graph, with an uneven last chunk (32 patches in chunks of 10).
	g := &GraphScore{Label: "graph NN", Chunk: 10, Fn: func(bank, q *graph.Node) *graph.Node {
		d, _ := knn.Nearest(q, bank, 1, 0)
		return graph.Reshape(d, q.Shape().Dimensions[0])
	}}
	got, err := g.Score(ctx, train, test)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-3*(1+float64(want[i])) {
			t.Fatalf("patch %d: graph %v, Go %v", i, got[i], want[i])
		}
	}
	// A user-defined score in a few lines: mean distance to every bank patch.
	meanDist := Graph("mean distance", func(bank, q *graph.Node) *graph.Node {
		return graph.ReduceMean(graph.Sqrt(knn.SquaredDistances(q, bank)), 1)
	})
	md, err := meanDist.Score(ctx, train, test)
	if err != nil {
		t.Fatal(err)
	}
	all := bruteKNN(train, test, 5)
	var mean float64
	for _, v := range all {
		mean += v / float64(len(all))
	}
	if math.Abs(float64(md[5])-mean) > 1e-3*(1+mean) {
		t.Fatalf("mean distance of patch 5: %v, want %v", md[5], mean)
	}
	// A graph returning the wrong shape is an error, not a panic.
	bad := Graph("bad", func(bank, q *graph.Node) *graph.Node { return knn.SquaredDistances(q, bank) })
	if _, err := bad.Score(ctx, train, test); err == nil {
		t.Error("wrong output shape accepted")
	}
}

func TestPredictionsAndCoreset(t *testing.T) {
	train, test := randSet(5, 4, 4, 8, 8), randSet(2, 4, 4, 8, 9)
	ctx := context.Background()
	full, _ := NearestL2{}.Score(ctx, train, test)
	core, err := NearestL2{Ratio: 0.25}.Score(ctx, train, test)
	if err != nil {
		t.Fatal(err)
	}
	for i := range full {
		if core[i] < full[i]-1e-5 {
			t.Fatalf("coreset distance %v below full-bank distance %v", core[i], full[i])
		}
	}
	preds, err := Predictions(full, test, 32, 32, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(preds) != 2 || preds[0].Map.H != 32 || preds[0].Map.W != 32 || preds[0].Map.C != 1 {
		t.Fatalf("unexpected predictions %d, map %dx%dx%d", len(preds), preds[0].Map.H, preds[0].Map.W, preds[0].Map.C)
	}
	if _, err := Predictions(full[:3], test, 32, 32, 4); err == nil {
		t.Error("short score slice accepted")
	}
	if _, err := (NearestL2{}).Score(ctx, train, randSet(1, 4, 4, 7, 1)); err == nil {
		t.Error("dimension mismatch accepted")
	}
}
