package coreset

import (
	"context"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"
)

// clusters returns n points of dimension dim drawn around a few well-separated centres plus a few
// far outliers: a random subset tends to miss the outliers, a k-center coreset must not.
func clusters(n, dim int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	centres := make([][]float32, 8)
	for c := range centres {
		centres[c] = make([]float32, dim)
		for j := range centres[c] {
			centres[c][j] = float32(r.NormFloat64() * 10)
		}
	}
	x := make([]float32, n*dim)
	for i := 0; i < n; i++ {
		c := centres[r.IntN(len(centres))]
		spread := 1.0
		if i%97 == 0 {
			spread = 8 // rare outliers
		}
		for j := 0; j < dim; j++ {
			x[i*dim+j] = c[j] + float32(r.NormFloat64()*spread)
		}
	}
	return x
}

func TestGreedyKCenterCoversBetterThanRandom(t *testing.T) {
	for _, tc := range []struct {
		name   string
		n, dim int
		k      int
		opts   Options
	}{
		{"sparse-projection", 3000, 256, 60, Options{Seed: 1}},
		{"gaussian-projection", 3000, 256, 60, Options{Seed: 2, Gaussian: true}},
		{"no-projection", 2000, 32, 40, Options{Seed: 3, NoProjection: true}},
		{"jl-dim", 2000, 512, 40, Options{Seed: 4, Dim: JLDim}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := clusters(tc.n, tc.dim, 7)
			idx, err := GreedyKCenter(context.Background(), x, tc.dim, tc.k, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(idx) != tc.k {
				t.Fatalf("got %d indices, want %d", len(idx), tc.k)
			}
			seen := map[int]bool{}
			for _, i := range idx {
				if i < 0 || i >= tc.n || seen[i] {
					t.Fatalf("index %d out of range or repeated", i)
				}
				seen[i] = true
			}
			greedy := CoveringRadius(x, tc.dim, idx)
			// Compare with the best of several random subsets of the same size.
			r := rand.New(rand.NewPCG(9, 9))
			bestRandom := float32(math.Inf(1))
			for trial := 0; trial < 5; trial++ {
				rnd := r.Perm(tc.n)[:tc.k]
				bestRandom = min(bestRandom, CoveringRadius(x, tc.dim, rnd))
			}
			t.Logf("covering radius: greedy %.2f, best random %.2f", greedy, bestRandom)
			if !(greedy < 0.8*bestRandom) {
				t.Errorf("greedy covering radius %.3f is not clearly below random's %.3f", greedy, bestRandom)
			}
		})
	}
}

func TestGreedyKCenterDeterministic(t *testing.T) {
	x := clusters(5000, 64, 3)
	a, err := GreedyKCenter(context.Background(), x, 64, 100, Options{Seed: 5, Dim: 16})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := GreedyKCenter(context.Background(), x, 64, 100, Options{Seed: 5, Dim: 16, Workers: 1})
	if !slices.Equal(a, b) {
		t.Fatalf("same seed gave different coresets (workers 2 vs 1)")
	}
	c, _ := GreedyKCenter(context.Background(), x, 64, 100, Options{Seed: 6, Dim: 16})
	if slices.Equal(a, c) {
		t.Fatalf("different seeds gave the same coreset")
	}
}

func TestGreedyKCenterAllPointsAndDuplicates(t *testing.T) {
	// 50 copies of 3 distinct points: asking for all 150 must return each index once.
	x := make([]float32, 0, 150*2)
	for i := 0; i < 50; i++ {
		x = append(x, 0, 0, 1, 1, 5, 5)
	}
	idx, err := GreedyKCenter(context.Background(), x, 2, 150, Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	s := slices.Clone(idx)
	slices.Sort(s)
	for i, v := range s {
		if v != i {
			t.Fatalf("selecting all points: sorted indices[%d] = %d", i, v)
		}
	}
	// The first three picks must cover the three distinct points.
	three, _ := GreedyKCenter(context.Background(), x, 2, 3, Options{Seed: 1})
	if r := CoveringRadius(x, 2, three); r != 0 {
		t.Fatalf("3 centres over 3 distinct points leave covering radius %v", r)
	}
}

func TestGreedyKCenterErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := GreedyKCenter(ctx, make([]float32, 10), 3, 1, Options{}); err == nil {
		t.Error("ragged input accepted")
	}
	if _, err := GreedyKCenter(ctx, make([]float32, 12), 3, 5, Options{}); err == nil {
		t.Error("k > n accepted")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := GreedyKCenter(cctx, clusters(100, 4, 1), 4, 10, Options{}); err == nil {
		t.Error("cancelled context ignored")
	}
}

// TestGreedyKCenterLinearMemory checks that no NxN matrix is built: 20,000 points would need 1.6 GB
// for one; the selection must allocate little more than the projection and one distance vector.
func TestGreedyKCenterLinearMemory(t *testing.T) {
	const n, dim = 20000, 32
	x := clusters(n, dim, 2)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, err := GreedyKCenter(context.Background(), x, dim, 50, Options{Seed: 1, NoProjection: true}); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	limit := uint64(n*4*4 + 1<<20) // a few N-vectors and slack
	if allocated > limit {
		t.Fatalf("allocated %d bytes for N=%d, more than the O(N) bound %d", allocated, n, limit)
	}
}

func TestProjectPreservesDistances(t *testing.T) {
	const n, dim, p = 200, 1024, 128
	x := clusters(n, dim, 4)
	for _, gaussian := range []bool{false, true} {
		z := Project(x, dim, p, gaussian, 11, 2)
		var ratios []float64
		for i := 0; i < 50; i++ {
			j := (i*37 + 11) % n
			if i == j {
				continue
			}
			orig := sqDist(x[i*dim:(i+1)*dim], x[j*dim:(j+1)*dim])
			proj := sqDist(z[i*p:(i+1)*p], z[j*p:(j+1)*p])
			if orig > 0 {
				ratios = append(ratios, float64(proj/orig))
			}
		}
		var mean float64
		for _, r := range ratios {
			mean += r
		}
		mean /= float64(len(ratios))
		if mean < 0.8 || mean > 1.2 {
			t.Errorf("gaussian=%v: mean squared-distance ratio %.3f, want about 1", gaussian, mean)
		}
	}
}

// BenchmarkGreedyKCenter is the reference case: 20,000 x 128 features to 2,000 points
// (PyTorch on this machine, 2 threads: 9.6 s). The features are already 128-d, so no projection.
func BenchmarkGreedyKCenter(b *testing.B) {
	const n, dim, k = 20000, 128, 2000
	x := clusters(n, dim, 1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := GreedyKCenter(context.Background(), x, dim, k, Options{Seed: uint64(i)}); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "s/coreset")
	}
	// Each selection step computes n distances of dim dimensions: 3 flops per element.
	b.ReportMetric(float64(n)*dim*k*3/1e9/(b.Elapsed().Seconds()/float64(b.N)), "GFLOP/s")
}

// BenchmarkProject measures the sparse projection of a PatchCore-sized bank, 20,000 x 1,024 to 128.
func BenchmarkProject(b *testing.B) {
	const n, dim = 20000, 1024
	x := clusters(n, dim, 1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Project(x, dim, 128, false, 1, 0)
	}
}

func TestUpdateMinKernelsAgree(t *testing.T) {
	for _, dim := range []int{16, 128, 33} {
		z := clusters(50, dim, 9)
		center := z[7*dim : 8*dim]
		a := make([]float32, 50)
		for i := range a {
			a[i] = float32(i * 40)
		}
		a[3] = -1
		b := slices.Clone(a)
		updateMin(z, center, a, dim)
		updateMinGo(z, center, b, dim)
		for i := range a {
			if math.Abs(float64(a[i]-b[i])) > 1e-3*(1+math.Abs(float64(b[i]))) {
				t.Fatalf("dim %d row %d: kernel %v, plain Go %v", dim, i, a[i], b[i])
			}
		}
		if a[3] != -1 || a[7] != 0 {
			t.Fatalf("dim %d: selected row changed (%v) or centre not at 0 (%v)", dim, a[3], a[7])
		}
	}
}

// TestCoveringRadiusMatchesPairwise: the SGEMM-backed search gives the radius of the direct pairwise
// comparison, on rows with a large common offset (where ||q||² - 2q·b + ||b||² loses digits).
func TestCoveringRadiusMatchesPairwise(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const n, dim = 900, 37
	x := make([]float32, n*dim)
	for i := range x {
		x[i] = 50 + float32(r.NormFloat64())
	}
	for _, k := range []int{1, 10, 200, n} {
		centers := r.Perm(n)[:k]
		got, want := CoveringRadius(x, dim, centers), pairwiseCoveringRadius(x, dim, centers)
		if math.Abs(float64(got-want)) > 1e-5*math.Max(1, float64(want)) {
			t.Errorf("%d centres: covering radius %v, pairwise %v", k, got, want)
		}
	}
}

// BenchmarkCoveringRadius: 8,000 rows, 800 centres (10%), 1,024 dimensions; -bench Pairwise for the
// direct comparison.
func BenchmarkCoveringRadius(b *testing.B) {
	x, centers := radiusBenchData()
	for b.Loop() {
		CoveringRadius(x, 1024, centers)
	}
}

func BenchmarkCoveringRadiusPairwise(b *testing.B) {
	x, centers := radiusBenchData()
	for b.Loop() {
		pairwiseCoveringRadius(x, 1024, centers)
	}
}

func radiusBenchData() ([]float32, []int) {
	r := rand.New(rand.NewPCG(5, 6))
	x := make([]float32, 8000*1024)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x, r.Perm(8000)[:800]
}
