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

// gaussianWindow returns the normalised 2D Gaussian window [k, k, 1, 1] (outer product of the 1D one).
func (c SSIMConfig) gaussianWindow() []float64 {
	k := c.Window
	g := make([]float64, k)
	var sum float64
	for i := range g {
		d := float64(i - k/2)
		g[i] = math.Exp(-d * d / (2 * c.Sigma * c.Sigma))
		sum += g[i]
	}
	w := make([]float64, k*k)
	for i := range k {
		for j := range k {
			w[i*k+j] = g[i] * g[j] / (sum * sum)
		}
	}
	return w
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
	kernel := graph.ConvertDType(graph.Const(g, tensors.FromFlatDataAndDimensions(cfg.gaussianWindow(), k, k, 1, 1)), dt)
	pad := 0
	if same {
		pad = k / 2
	}
	ho, wo := h-k+1+2*pad, w-k+1+2*pad
	var mass *graph.Node
	if same {
		// Zero padding lowers the window's weight inside the image near the border: divide it out.
		mass = graph.ConvertDType(graph.Const(g, windowMass(cfg, h, w)), dt)
	}
	// Each local statistic goes through one single-channel convolution with the channels folded into
	// the batch, [N,H,W,C] -> [N*C,H,W,1]. Five separate convolutions rather than one on the
	// concatenated statistics: the gradient of slicing them apart needs Pad, which simplego lacks.
	filt := func(t *graph.Node) *graph.Node {
		f := Conv2D(graph.Reshape(graph.TransposeAllDims(t, 0, 3, 1, 2), n*c, h, w, 1), kernel, ConvConfig{Padding: pad})
		if same {
			f = graph.Div(f, mass)
		}
		return graph.Reshape(f, n, c, ho, wo)
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

// windowMass is the sum of the Gaussian window's weights that fall inside an h x w image, for a window
// centred at each pixel: [1, h, w, 1].
func windowMass(cfg SSIMConfig, h, w int) *tensors.Tensor {
	k, r := cfg.Window, cfg.Window/2
	win := cfg.gaussianWindow()
	// The window is separable, so its mass is the product of the row and column masses.
	g := make([]float64, k)
	for i := range k {
		for j := range k {
			g[i] += win[i*k+j]
		}
	}
	mass1 := func(n int) []float64 {
		out := make([]float64, n)
		for p := range n {
			for t := range k {
				if q := p + t - r; q >= 0 && q < n {
					out[p] += g[t]
				}
			}
		}
		return out
	}
	rows, cols := mass1(h), mass1(w)
	m := make([]float64, h*w)
	for i := range h {
		for j := range w {
			m[i*w+j] = rows[i] * cols[j]
		}
	}
	return tensors.FromFlatDataAndDimensions(m, 1, h, w, 1)
}
