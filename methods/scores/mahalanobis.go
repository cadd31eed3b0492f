package scores

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/gonomaly/gonomaly/methods/features"
)

// Mahalanobis is PaDiM's score (Defard et al., "PaDiM: a Patch Distribution Modeling Framework for
// Anomaly Detection and Localization", ICPR 2021 workshops, Sec. 3.2-3.3): every grid position (y, x)
// gets its own Gaussian N(mu_yx, Sigma_yx + eps I) fitted on the train images' patches at that
// position, and a test patch scores its Mahalanobis distance to it. It needs train and test on the same
// grid and more train images than one.
type Mahalanobis struct {
	// Dims keeps a seeded random subset of this many feature dimensions (PaDiM's random
	// dimensionality reduction; 100 for ResNet-18 in the paper). 0 means 100; -1 keeps all.
	Dims int
	// Eps is the regularisation added to each covariance's diagonal; default 0.01 (the paper's).
	Eps float64
	// Seed chooses the dimensions.
	Seed uint64
}

// Name implements Func.
func (s Mahalanobis) Name() string { return "Mahalanobis (PaDiM)" }

// Gaussians are the per-position Gaussians of a fitted Mahalanobis score.
type Gaussians struct {
	H, W, D int
	// Dims are the feature dimensions kept (indices into the features).
	Dims []int
	// Mean is [H*W, D]; Chol is [H*W, D, D]: the lower Cholesky factor of each regularised covariance.
	Mean []float64
	Chol []float64
}

// Fit estimates the per-position Gaussians from train.
func (s Mahalanobis) Fit(train *features.Set) (*Gaussians, error) {
	if err := train.Validate(); err != nil {
		return nil, err
	}
	if train.N < 2 {
		return nil, fmt.Errorf("scores: Mahalanobis needs at least 2 train images, got %d", train.N)
	}
	eps := s.Eps
	if eps <= 0 {
		eps = 0.01
	}
	dims := s.pickDims(train.D)
	d := len(dims)
	npos := train.H * train.W
	g := &Gaussians{H: train.H, W: train.W, D: d, Dims: dims, Mean: make([]float64, npos*d), Chol: make([]float64, npos*d*d)}
	var firstErr error
	var mu sync.Mutex
	parallel(npos, func(p int) {
		mean := g.Mean[p*d : (p+1)*d]
		cov := g.Chol[p*d*d : (p+1)*d*d]
		x := make([]float64, d)
		for i := 0; i < train.N; i++ {
			row := train.Data[(i*npos+p)*train.D:]
			for j, c := range dims {
				mean[j] += float64(row[c])
			}
		}
		for j := range mean {
			mean[j] /= float64(train.N)
		}
		for i := 0; i < train.N; i++ {
			row := train.Data[(i*npos+p)*train.D:]
			for j, c := range dims {
				x[j] = float64(row[c]) - mean[j]
			}
			for a := 0; a < d; a++ {
				xa := x[a]
				r := cov[a*d : a*d+a+1]
				for b := range r {
					r[b] += xa * x[b]
				}
			}
		}
		for a := 0; a < d; a++ {
			for b := 0; b <= a; b++ {
				cov[a*d+b] /= float64(train.N - 1)
			}
			cov[a*d+a] += eps
		}
		if err := cholesky(cov, d); err != nil {
			mu.Lock()
			if firstErr == nil {
				firstErr = fmt.Errorf("scores: Mahalanobis at position %d: %w", p, err)
			}
			mu.Unlock()
		}
	})
	return g, firstErr
}

func (s Mahalanobis) pickDims(total int) []int {
	n := s.Dims
	if n == 0 {
		n = 100
	}
	if n < 0 || n >= total {
		out := make([]int, total)
		for i := range out {
			out[i] = i
		}
		return out
	}
	r := rand.New(rand.NewPCG(s.Seed, 0x9adf))
	perm := r.Perm(total)[:n]
	// Sorted, so reading a row walks memory forward.
	for i := 1; i < len(perm); i++ {
		for j := i; j > 0 && perm[j-1] > perm[j]; j-- {
			perm[j-1], perm[j] = perm[j], perm[j-1]
		}
	}
	return perm
}

// Distances returns the Mahalanobis distance of every test patch to its position's Gaussian.
func (g *Gaussians) Distances(test *features.Set) ([]float32, error) {
	if test.H != g.H || test.W != g.W {
		return nil, fmt.Errorf("scores: Mahalanobis fitted on a %dx%d grid, test features are %dx%d", g.H, g.W, test.H, test.W)
	}
	npos := g.H * g.W
	d := g.D
	out := make([]float32, test.Patches())
	parallel(npos, func(p int) {
		z := make([]float64, d)
		mean := g.Mean[p*d : (p+1)*d]
		l := g.Chol[p*d*d : (p+1)*d*d]
		for i := 0; i < test.N; i++ {
			row := test.Data[(i*npos+p)*test.D:]
			// Solve L z = x - mu; the distance is |z|.
			var sum float64
			for a := 0; a < d; a++ {
				v := float64(row[g.Dims[a]]) - mean[a]
				la := l[a*d : a*d+a]
				for b, lv := range la {
					v -= lv * z[b]
				}
				v /= l[a*d+a]
				z[a] = v
				sum += v * v
			}
			out[i*npos+p] = float32(math.Sqrt(sum))
		}
	})
	return out, nil
}

// Score implements Func: Fit on train, then Distances of test.
func (s Mahalanobis) Score(ctx context.Context, train, test *features.Set) ([]float32, error) {
	if err := checkSets(train, test); err != nil {
		return nil, fmt.Errorf("scores: %s: %w", s.Name(), err)
	}
	g, err := s.Fit(train)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return g.Distances(test)
}

// cholesky overwrites the lower triangle of the symmetric positive-definite d x d matrix a (row-major)
// with its Cholesky factor L (a = L L^T).
func cholesky(a []float64, d int) error {
	for j := 0; j < d; j++ {
		s := a[j*d+j]
		for k := 0; k < j; k++ {
			s -= a[j*d+k] * a[j*d+k]
		}
		if s <= 0 {
			return fmt.Errorf("covariance is not positive definite (pivot %d = %g)", j, s)
		}
		ljj := math.Sqrt(s)
		a[j*d+j] = ljj
		for i := j + 1; i < d; i++ {
			v := a[i*d+j]
			ri, rj := a[i*d:i*d+j], a[j*d:j*d+j]
			for k := range ri {
				v -= ri[k] * rj[k]
			}
			a[i*d+j] = v / ljj
		}
	}
	return nil
}

// parallel runs fn(0..n-1) on all cores.
func parallel(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	var wg sync.WaitGroup
	next := make(chan int, n)
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	wg.Wait()
}
