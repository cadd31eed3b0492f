package features

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gonomaly/gonomaly/datasets"
)

// PCA is a k-dimensional principal-component projection of feature rows, for looking at features
// (2-D scatter plots in notebooks), not for scoring.
type PCA struct {
	Dim  int
	Mean []float64
	// Components are k unit vectors of length Dim, by decreasing variance; Variance holds their variances.
	Components [][]float64
	Variance   []float64
}

// FitPCA finds the k leading principal components of rows (row-major, dim columns) by power iteration
// with deflation on the covariance matrix (dim x dim, float64), seeded and deterministic.
func FitPCA(rows []float32, dim, k int, seed uint64) (*PCA, error) {
	if dim <= 0 || len(rows) == 0 || len(rows)%dim != 0 {
		return nil, fmt.Errorf("features: PCA of %d values in rows of %d", len(rows), dim)
	}
	if k < 1 || k > dim {
		return nil, fmt.Errorf("features: PCA with %d components of %d dimensions", k, dim)
	}
	n := len(rows) / dim
	p := &PCA{Dim: dim, Mean: make([]float64, dim)}
	for i := 0; i < n; i++ {
		for j, v := range rows[i*dim : (i+1)*dim] {
			p.Mean[j] += float64(v) / float64(n)
		}
	}
	cov := make([]float64, dim*dim)
	x := make([]float64, dim)
	for i := 0; i < n; i++ {
		for j, v := range rows[i*dim : (i+1)*dim] {
			x[j] = float64(v) - p.Mean[j]
		}
		for a := 0; a < dim; a++ {
			xa := x[a]
			if xa == 0 {
				continue
			}
			r := cov[a*dim : (a+1)*dim]
			for b, xb := range x {
				r[b] += xa * xb
			}
		}
	}
	for i := range cov {
		cov[i] /= float64(max(n-1, 1))
	}
	r := rand.New(rand.NewPCG(seed, 11))
	for c := 0; c < k; c++ {
		v := make([]float64, dim)
		for i := range v {
			v[i] = r.NormFloat64()
		}
		var lambda float64
		w := make([]float64, dim)
		for it := 0; it < 300; it++ {
			normalize(v)
			for a := 0; a < dim; a++ {
				var s float64
				for b, vb := range v {
					s += cov[a*dim+b] * vb
				}
				w[a] = s
			}
			var l float64
			for a := range w {
				l += w[a] * v[a]
			}
			copy(v, w)
			if it > 10 && math.Abs(l-lambda) <= 1e-10*math.Abs(l) {
				lambda = l
				break
			}
			lambda = l
		}
		normalize(v)
		p.Components = append(p.Components, v)
		p.Variance = append(p.Variance, lambda)
		// Deflate: remove this component's variance.
		for a := 0; a < dim; a++ {
			for b := 0; b < dim; b++ {
				cov[a*dim+b] -= lambda * v[a] * v[b]
			}
		}
	}
	return p, nil
}

func normalize(v []float64) {
	var s float64
	for _, x := range v {
		s += x * x
	}
	s = math.Sqrt(s)
	if s == 0 {
		return
	}
	for i := range v {
		v[i] /= s
	}
}

// Transform projects rows onto the components: one slice of coordinates per component.
func (p *PCA) Transform(rows []float32) [][]float64 {
	n := len(rows) / p.Dim
	out := make([][]float64, len(p.Components))
	for c := range out {
		out[c] = make([]float64, n)
	}
	for i := 0; i < n; i++ {
		row := rows[i*p.Dim : (i+1)*p.Dim]
		for c, comp := range p.Components {
			var s float64
			for j, v := range row {
				s += (float64(v) - p.Mean[j]) * comp[j]
			}
			out[c][i] = s
		}
	}
	return out
}

// MaskToGrid returns, for every cell of a gh x gw patch grid laid over mask (C == 1), the fraction of
// its pixels that are defective: the ground truth of a patch.
func MaskToGrid(mask datasets.Image, gh, gw int) ([]float32, error) {
	if err := mask.Validate(); err != nil || mask.C != 1 {
		return nil, fmt.Errorf("features: MaskToGrid needs a one-channel mask (%v)", err)
	}
	out := make([]float32, gh*gw)
	cnt := make([]float32, gh*gw)
	for y := 0; y < mask.H; y++ {
		gy := min(y*gh/mask.H, gh-1)
		for x := 0; x < mask.W; x++ {
			gx := min(x*gw/mask.W, gw-1)
			out[gy*gw+gx] += mask.Pix[y*mask.W+x]
			cnt[gy*gw+gx]++
		}
	}
	for i := range out {
		if cnt[i] > 0 {
			out[i] /= cnt[i]
		}
	}
	return out, nil
}
