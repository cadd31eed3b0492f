// Package anomalymap is the post-processing nearly every method shares: a coarse patch-score map is
// upsampled to the input resolution, smoothed with a Gaussian, and reduced to an image score.
//
// The defaults follow the common recipe of PatchCore (Roth et al., CVPR 2022), Reverse Distillation
// (Deng and Li, CVPR 2022) and anomalib: bilinear upsampling (align_corners=false), Gaussian sigma 4 with
// a kernel of 2*floor(4*sigma+0.5)+1 taps and reflect padding, image score = max of the map.
package anomalymap

import (
	"fmt"
	"math"
	"sort"

	"github.com/gonomaly/gonomaly/datasets"
)

// DefaultSigma is the Gaussian smoothing sigma, in pixels of the input resolution.
const DefaultSigma = 4.0

// KernelSize returns the Gaussian kernel width for sigma: 2*floor(4*sigma+0.5)+1.
func KernelSize(sigma float64) int { return 2*int(math.Floor(4*sigma+0.5)) + 1 }

// Upsample resizes a single-channel map to h x w with bilinear interpolation using torch's
// align_corners=false convention (pixel centres aligned, edges clamped).
func Upsample(m datasets.Image, h, w int) datasets.Image {
	if m.C != 1 {
		panic(fmt.Sprintf("anomalymap.Upsample: map has %d channels, want 1", m.C))
	}
	if m.H == h && m.W == w {
		return datasets.Image{H: h, W: w, C: 1, Pix: append([]float32(nil), m.Pix...)}
	}
	return bilinear(m, h, w, false)
}

// UpsampleAlignCorners resizes a single-channel map to h x w with bilinear interpolation using torch's
// align_corners=true convention (corner pixels aligned), as Reverse Distillation's official code does.
func UpsampleAlignCorners(m datasets.Image, h, w int) datasets.Image {
	if m.C != 1 {
		panic(fmt.Sprintf("anomalymap.UpsampleAlignCorners: map has %d channels, want 1", m.C))
	}
	return bilinear(m, h, w, true)
}

func bilinear(m datasets.Image, h, w int, alignCorners bool) datasets.Image {
	out := datasets.NewImage(h, w, 1)
	x0s, x1s, fxs := LinearTaps(m.W, w, alignCorners)
	y0s, y1s, fys := LinearTaps(m.H, h, alignCorners)
	for y := 0; y < h; y++ {
		r0 := m.Pix[y0s[y]*m.W : (y0s[y]+1)*m.W]
		r1 := m.Pix[y1s[y]*m.W : (y1s[y]+1)*m.W]
		fy := fys[y]
		row := out.Pix[y*w : (y+1)*w]
		for x := range row {
			a := r0[x0s[x]] + (r0[x1s[x]]-r0[x0s[x]])*fxs[x]
			b := r1[x0s[x]] + (r1[x1s[x]]-r1[x0s[x]])*fxs[x]
			row[x] = a + (b-a)*fy
		}
	}
	return out
}

// LinearTaps returns, for each of out output samples, the two source indices among in samples and the
// weight of the second, for linear interpolation with torch's align_corners convention.
func LinearTaps(in, out int, alignCorners bool) (i0, i1 []int, frac []float32) {
	i0, i1, frac = make([]int, out), make([]int, out), make([]float32, out)
	for o := 0; o < out; o++ {
		var src float64
		switch {
		case alignCorners && out > 1:
			src = float64(o) * float64(in-1) / float64(out-1)
		case !alignCorners:
			src = max((float64(o)+0.5)*float64(in)/float64(out)-0.5, 0)
		}
		lo := min(int(math.Floor(src)), in-1)
		hi := min(lo+1, in-1)
		i0[o], i1[o], frac[o] = lo, hi, float32(src-float64(lo))
	}
	return
}

// GaussianKernel returns the normalised 1-D Gaussian of KernelSize(sigma) taps.
func GaussianKernel(sigma float64) []float32 {
	n := KernelSize(sigma)
	k := make([]float32, n)
	var sum float64
	half := n / 2
	vals := make([]float64, n)
	for i := range vals {
		d := float64(i - half)
		vals[i] = math.Exp(-d * d / (2 * sigma * sigma))
		sum += vals[i]
	}
	for i := range k {
		k[i] = float32(vals[i] / sum)
	}
	return k
}

// reflect maps an out-of-range index into [0, n) by mirroring without repeating the edge (numpy/torch
// "reflect"), folding repeatedly when the kernel is wider than the map.
func reflect(i, n int) int {
	if n == 1 {
		return 0
	}
	period := 2 * (n - 1)
	i %= period
	if i < 0 {
		i += period
	}
	if i >= n {
		i = period - i
	}
	return i
}

// GaussianBlur smooths a single-channel map with a separable Gaussian of the given sigma (reflect
// padding). sigma <= 0 returns a copy.
func GaussianBlur(m datasets.Image, sigma float64) datasets.Image {
	if m.C != 1 {
		panic(fmt.Sprintf("anomalymap.GaussianBlur: map has %d channels, want 1", m.C))
	}
	out := datasets.Image{H: m.H, W: m.W, C: 1, Pix: append([]float32(nil), m.Pix...)}
	if sigma <= 0 {
		return out
	}
	k := GaussianKernel(sigma)
	half := len(k) / 2
	tmp := make([]float32, len(m.Pix))
	// Horizontal pass.
	for y := 0; y < m.H; y++ {
		src := m.Pix[y*m.W : (y+1)*m.W]
		dst := tmp[y*m.W : (y+1)*m.W]
		for x := range dst {
			var acc float32
			for t, kv := range k {
				acc += kv * src[reflect(x+t-half, m.W)]
			}
			dst[x] = acc
		}
	}
	// Vertical pass.
	for y := 0; y < m.H; y++ {
		dst := out.Pix[y*m.W : (y+1)*m.W]
		for x := range dst {
			dst[x] = 0
		}
		for t, kv := range k {
			src := tmp[reflect(y+t-half, m.H)*m.W:]
			for x := range dst {
				dst[x] += kv * src[x]
			}
		}
	}
	return out
}

// ToInput turns a coarse patch-score map into an anomaly map at the input resolution: bilinear upsampling
// to h x w, then Gaussian smoothing with sigma (DefaultSigma in most recipes).
func ToInput(patch datasets.Image, h, w int, sigma float64) datasets.Image {
	return GaussianBlur(Upsample(patch, h, w), sigma)
}

// ScoreMax is the image score most methods use: the maximum of the anomaly map.
func ScoreMax(m datasets.Image) float32 {
	best := float32(math.Inf(-1))
	for _, v := range m.Pix {
		if v > best {
			best = v
		}
	}
	return best
}

// ScoreTopKMean is the mean of the k largest values of the map, a score less sensitive to a single
// noisy pixel than the maximum. k is clamped to [1, len(map)].
func ScoreTopKMean(m datasets.Image, k int) float32 {
	n := len(m.Pix)
	if n == 0 {
		return float32(math.NaN())
	}
	k = max(1, min(k, n))
	vals := append([]float32(nil), m.Pix...)
	sort.Slice(vals, func(i, j int) bool { return vals[i] > vals[j] })
	var sum float64
	for _, v := range vals[:k] {
		sum += float64(v)
	}
	return float32(sum / float64(k))
}
