package main

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gonomaly/gonomaly/datasets"
)

// gaussian2 is a 2-D Gaussian fitted to feature vectors. Whitening by its Cholesky factor is an affine
// normalising flow f -> z = L^-1 (f - mu) with z ~ N(0, I): the simplest member of the family whose
// log-likelihood pictures (per-class histograms, latent density) the flow notebooks show.
type gaussian2 struct {
	mu            [2]float64
	l11, l21, l22 float64 // lower-triangular Cholesky factor of the covariance
	logDetL       float64
}

func fitGaussian2(f [][2]float64) (gaussian2, error) {
	if len(f) < 3 {
		return gaussian2{}, fmt.Errorf("need at least 3 feature vectors to fit a 2-D Gaussian, have %d", len(f))
	}
	var g gaussian2
	for _, v := range f {
		g.mu[0] += v[0]
		g.mu[1] += v[1]
	}
	n := float64(len(f))
	g.mu[0] /= n
	g.mu[1] /= n
	var c11, c12, c22 float64
	for _, v := range f {
		a, b := v[0]-g.mu[0], v[1]-g.mu[1]
		c11 += a * a
		c12 += a * b
		c22 += b * b
	}
	// A small ridge keeps the factor defined when the features are (nearly) collinear.
	const ridge = 1e-6
	c11, c12, c22 = c11/(n-1)+ridge, c12/(n-1), c22/(n-1)+ridge
	g.l11 = math.Sqrt(c11)
	g.l21 = c12 / g.l11
	g.l22 = math.Sqrt(math.Max(c22-g.l21*g.l21, ridge))
	g.logDetL = math.Log(g.l11) + math.Log(g.l22)
	return g, nil
}

// latent maps a feature vector to z = L^-1 (f - mu).
func (g gaussian2) latent(f [2]float64) [2]float64 {
	z0 := (f[0] - g.mu[0]) / g.l11
	z1 := (f[1] - g.mu[1] - g.l21*z0) / g.l22
	return [2]float64{z0, z1}
}

// logLikelihood is log p(f) = log N(z; 0, I) - log |det L|.
func (g gaussian2) logLikelihood(f [2]float64) float64 {
	z := g.latent(f)
	return stdNormalLogPDF2(z[0], z[1]) - g.logDetL
}

func stdNormalLogPDF2(x, y float64) float64 { return -0.5*(x*x+y*y) - math.Log(2*math.Pi) }

// mapFeatures are two statistics of an anomaly map: log of its mean and log of its maximum.
func mapFeatures(m datasets.Image) [2]float64 {
	sum, top := 0.0, math.Inf(-1)
	for _, v := range m.Pix {
		sum += float64(v)
		top = math.Max(top, float64(v))
	}
	const eps = 1e-6
	return [2]float64{math.Log(sum/float64(len(m.Pix)) + eps), math.Log(top + eps)}
}

// linearAutoencoder is x -> Wd (We (x - mean)) + mean on small grey thumbnails, trained by plain SGD on
// the mean squared error: a real training run (PCA learnt by gradient descent) for the loss-curve chart.
type linearAutoencoder struct {
	d, k   int
	we, wd []float64 // k x d and d x k
	mean   []float64
}

// thumbnail averages img's channels and block-averages it to side x side.
func thumbnail(img datasets.Image, side int) []float64 {
	out := make([]float64, side*side)
	cnt := make([]float64, side*side)
	for y := 0; y < img.H; y++ {
		for x := 0; x < img.W; x++ {
			v := 0.0
			for ch := 0; ch < img.C; ch++ {
				v += float64(img.At(y, x, ch))
			}
			i := (y*side/img.H)*side + x*side/img.W
			out[i] += v / float64(img.C)
			cnt[i]++
		}
	}
	for i := range out {
		out[i] /= cnt[i]
	}
	return out
}

// trainLinearAE trains for epochs passes over xs (shuffled with seed) and returns the mean loss of each
// epoch.
func trainLinearAE(xs [][]float64, k, epochs int, lr float64, seed uint64) []float64 {
	d := len(xs[0])
	r := rand.New(rand.NewPCG(seed, 1))
	ae := linearAutoencoder{d: d, k: k, we: make([]float64, k*d), wd: make([]float64, d*k), mean: make([]float64, d)}
	for _, x := range xs {
		for i, v := range x {
			ae.mean[i] += v / float64(len(xs))
		}
	}
	for i := range ae.we {
		ae.we[i] = r.NormFloat64() * 0.1 / math.Sqrt(float64(d))
		ae.wd[i] = r.NormFloat64() * 0.1 / math.Sqrt(float64(k))
	}
	order := make([]int, len(xs))
	for i := range order {
		order[i] = i
	}
	c, z, e, dz := make([]float64, d), make([]float64, k), make([]float64, d), make([]float64, k)
	losses := make([]float64, epochs)
	for ep := range epochs {
		r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		total := 0.0
		for _, idx := range order {
			x := xs[idx]
			for i := range c {
				c[i] = x[i] - ae.mean[i]
			}
			for j := 0; j < k; j++ {
				s := 0.0
				for i := 0; i < d; i++ {
					s += ae.we[j*d+i] * c[i]
				}
				z[j] = s
			}
			loss := 0.0
			for i := 0; i < d; i++ {
				s := 0.0
				for j := 0; j < k; j++ {
					s += ae.wd[i*k+j] * z[j]
				}
				e[i] = s - c[i]
				loss += e[i] * e[i]
			}
			total += loss / float64(d)
			// Gradients of the summed squared error (the mean is reported, the sum is descended).
			for j := range dz {
				dz[j] = 0
			}
			for i := 0; i < d; i++ {
				g := 2 * e[i]
				for j := 0; j < k; j++ {
					dz[j] += ae.wd[i*k+j] * g
					ae.wd[i*k+j] -= lr * g * z[j]
				}
			}
			for j := 0; j < k; j++ {
				for i := 0; i < d; i++ {
					ae.we[j*d+i] -= lr * dz[j] * c[i]
				}
			}
		}
		losses[ep] = total / float64(len(xs))
	}
	return losses
}
