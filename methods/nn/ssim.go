package nn

import (
	"math"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// SSIMConfig configures the structural similarity index (Wang, Bovik, Sheikh and Simoncelli, "Image
// Quality Assessment: From Error Visibility to Structural Similarity", IEEE TIP 2004). DefaultSSIM is
// the paper's (and pytorch_msssim's, scikit-image's with gaussian_weights=True) setting.
type SSIMConfig struct {
	// Window is the side of the Gaussian window (odd); Sigma its standard deviation. Paper: 11 and 1.5.
	Window int
	Sigma  float64
	// DataRange is the dynamic range L of the pixel values (1 for images in [0, 1]).
	DataRange float64
	// K1 and K2 set the stabilising constants C1 = (K1*L)², C2 = (K2*L)². Paper: 0.01 and 0.03.
	K1, K2 float64
}

// DefaultSSIM returns Wang et al.'s setting: an 11x11 Gaussian window of sigma 1.5, K1 0.01, K2 0.03,
// for images in [0, 1].
func DefaultSSIM() SSIMConfig {
	return SSIMConfig{Window: 11, Sigma: 1.5, DataRange: 1, K1: 0.01, K2: 0.03}
}

// SSIM returns the mean structural similarity of each pair of images x, y [N,H,W,C] over the positions
// where the whole window fits (no padding) and over channels: [N]. This is the quantity pytorch_msssim's
// ssim(..., size_average=False) and scikit-image's structural_similarity(gaussian_weights=True,
// sigma=1.5, use_sample_covariance=False) report. It is differentiable: 1 - SSIM is the training loss
// of SSIM autoencoders (Bergmann et al., VISAPP 2019) and part of DRAEM's (Zavrtanik et al., ICCV 2021).
func SSIM(x, y *graph.Node, cfg SSIMConfig) *graph.Node {
	m := ssimMap(x, y, cfg, false)
	return graph.ReduceMean(m, 1, 2)
}

// SSIMMap returns the per-pixel SSIM of x and y [N,H,W,C], averaged over channels: [N,H,W], the same
// size as the inputs. Near the border, where the window does not fit, the Gaussian statistics are taken
// over the part of the window inside the image (the window renormalised to sum to one); elsewhere the
// map equals the unpadded one of SSIM. Bergmann et al. (2019) score a pixel anomalous by 1 - SSIMMap of
// the image and its reconstruction.
func SSIMMap(x, y *graph.Node, cfg SSIMConfig) *graph.Node {
	return ssimMap(x, y, cfg, true)
}

func ssimMap(x, y *graph.Node, cfg SSIMConfig, same bool) *graph.Node {
	if x.Rank() != 4 || !x.Shape().Equal(y.Shape()) {
		panicf("nn.SSIM: want two images [N,H,W,C] of the same shape, got %s and %s", x.Shape(), y.Shape())
	}
	if cfg.Window < 1 || cfg.Window%2 == 0 || cfg.Sigma <= 0 || cfg.DataRange <= 0 {
		panicf("nn.SSIM: invalid configuration %+v (odd Window, positive Sigma and DataRange)", cfg)
	}
	d := x.Shape().Dimensions
	n, h, w, c := d[0], d[1], d[2], d[3]
	k := cfg.Window
	if !same && (h < k || w < k) {
		panicf("nn.SSIM: images %dx%d are smaller than the %d-pixel window", w, h, k)
	}
	g := x.Graph()
	dt := x.DType()
	pad := 0
	if same {
		pad = k / 2
	}
	ho, wo := h-k+1+2*pad, w-k+1+2*pad
	// The Gaussian window is separable: filtering is a product with a band matrix along each axis, two
	// matrix products (fast on every backend, with nn.MatMul's cheap gradient) instead of a 121-tap
	// single-channel convolution. In "same" mode each band row is renormalised to the part of the
	// window inside the image, which for a separable window is exactly the 2D renormalisation.
	bandW := graph.ConvertDType(graph.Const(g, cfg.band(w, pad)), dt) // [W, Wo]
	bandH := graph.ConvertDType(graph.Const(g, cfg.band(h, pad)), dt) // [H, Ho]
	filt := func(t *graph.Node) *graph.Node {
		t = graph.Reshape(graph.TransposeAllDims(t, 0, 3, 1, 2), n*c*h, w) // rows of [N,C,H,W]
		t = graph.Reshape(MatMul(t, bandW), n*c, h, wo)                    // filtered along W
		t = graph.Reshape(graph.TransposeAllDims(t, 0, 2, 1), n*c*wo, h)   // [N*C, Wo, H]
		t = graph.Reshape(MatMul(t, bandH), n*c, wo, ho)                   // filtered along H
		return graph.Reshape(graph.TransposeAllDims(t, 0, 2, 1), n, c, ho, wo)
	}
	mx, my, exx, eyy, exy := filt(x), filt(y), filt(graph.Mul(x, x)), filt(graph.Mul(y, y)), filt(graph.Mul(x, y))
	mx2, my2, mxy := graph.Mul(mx, mx), graph.Mul(my, my), graph.Mul(mx, my)
	vx, vy, cxy := graph.Sub(exx, mx2), graph.Sub(eyy, my2), graph.Sub(exy, mxy)
	c1 := math.Pow(cfg.K1*cfg.DataRange, 2)
	c2 := math.Pow(cfg.K2*cfg.DataRange, 2)
	num := graph.Mul(graph.AddScalar(graph.MulScalar(mxy, 2), c1), graph.AddScalar(graph.MulScalar(cxy, 2), c2))
	den := graph.Mul(graph.AddScalar(graph.Add(mx2, my2), c1), graph.AddScalar(graph.Add(vx, vy), c2))
	return graph.ReduceMean(graph.Div(num, den), 1) // [N, ho, wo]
}

// band returns the [n, n-k+1+2*pad] matrix whose column o holds the 1D Gaussian taps of output o
// (input rows o-pad .. o-pad+k-1 inside 0..n-1), renormalised to sum to one when pad clips them.
func (c SSIMConfig) band(n, pad int) *tensors.Tensor {
	k := c.Window
	g := make([]float64, k)
	for i := range g {
		d := float64(i - k/2)
		g[i] = math.Exp(-d * d / (2 * c.Sigma * c.Sigma))
	}
	out := n - k + 1 + 2*pad
	m := make([]float64, n*out)
	for o := range out {
		var mass float64
		for t := range k {
			if q := o - pad + t; q >= 0 && q < n {
				mass += g[t]
			}
		}
		for t := range k {
			if q := o - pad + t; q >= 0 && q < n {
				m[q*out+o] = g[t] / mass
			}
		}
	}
	return tensors.FromFlatDataAndDimensions(m, n, out)
}
