package viz

import (
	"fmt"
	"image"
	"image/color"
	"math"

	"github.com/gonomaly/gonomaly/datasets"
)

// ToImage converts a datasets.Image (HWC, values in [0, 1]) to an image.Image: C == 1 gives *image.Gray,
// C == 3 or 4 gives *image.RGBA (a fourth channel is alpha). Values are clamped to [0, 1]; NaN becomes 0.
func ToImage(im datasets.Image) (image.Image, error) {
	if err := im.Validate(); err != nil {
		return nil, fmt.Errorf("viz: %w", err)
	}
	switch im.C {
	case 1:
		g := image.NewGray(image.Rect(0, 0, im.W, im.H))
		for i, v := range im.Pix {
			g.Pix[i] = unit8(float64(v))
		}
		return g, nil
	case 3, 4:
		return toRGBA(im), nil
	default:
		return nil, fmt.Errorf("viz: image has %d channels, want 1, 3 or 4", im.C)
	}
}

// toRGBA converts a validated image with 1, 3 or 4 channels to RGBA (grey is replicated).
func toRGBA(im datasets.Image) *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, im.W, im.H))
	for p := 0; p < im.H*im.W; p++ {
		o := out.Pix[4*p : 4*p+4]
		in := im.Pix[p*im.C : (p+1)*im.C]
		switch im.C {
		case 1:
			v := unit8(float64(in[0]))
			o[0], o[1], o[2], o[3] = v, v, v, 255
		case 3:
			o[0], o[1], o[2], o[3] = unit8(float64(in[0])), unit8(float64(in[1])), unit8(float64(in[2])), 255
		default:
			// image.RGBA holds premultiplied alpha.
			a := clamp01(float64(in[3]))
			o[0] = unit8(clamp01(float64(in[0])) * a)
			o[1] = unit8(clamp01(float64(in[1])) * a)
			o[2] = unit8(clamp01(float64(in[2])) * a)
			o[3] = unit8(a)
		}
	}
	return out
}

func clamp01(v float64) float64 {
	if math.IsNaN(v) || v < 0 {
		return 0
	}
	if v > 1 {
		return 1
	}
	return v
}

func unit8(v float64) uint8 { return uint8(math.Round(clamp01(v) * 255)) }

// MapImage colours a one-channel anomaly map with cmap after normalising [lo, hi] to [0, 1].
// When lo and hi are both NaN the map's own finite minimum and maximum are used.
func MapImage(amap datasets.Image, cmap Colormap, lo, hi float64) (*image.RGBA, error) {
	if err := checkMap("anomaly map", amap); err != nil {
		return nil, err
	}
	lo, hi, err := resolveRange(lo, hi, amap.Pix)
	if err != nil {
		return nil, err
	}
	out := image.NewRGBA(image.Rect(0, 0, amap.W, amap.H))
	for i, v := range amap.Pix {
		c := cmap.At(normalise(float64(v), lo, hi))
		copy(out.Pix[4*i:4*i+4], []uint8{c.R, c.G, c.B, 255})
	}
	return out, nil
}

// checkMap validates a one-channel image.
func checkMap(what string, m datasets.Image) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("viz: %s: %w", what, err)
	}
	if m.C != 1 {
		return fmt.Errorf("viz: %s has %d channels, want 1", what, m.C)
	}
	return nil
}

// resolveRange returns [lo, hi], filling NaN ends from the finite values of pix.
func resolveRange(lo, hi float64, pix []float32) (float64, float64, error) {
	if math.IsNaN(lo) || math.IsNaN(hi) {
		mn, mx := math.Inf(1), math.Inf(-1)
		for _, v := range pix {
			f := float64(v)
			if math.IsNaN(f) || math.IsInf(f, 0) {
				continue
			}
			mn, mx = math.Min(mn, f), math.Max(mx, f)
		}
		if math.IsInf(mn, 1) {
			mn, mx = 0, 1
		}
		if math.IsNaN(lo) {
			lo = mn
		}
		if math.IsNaN(hi) {
			hi = mx
		}
	}
	if math.IsInf(lo, 0) || math.IsInf(hi, 0) || lo > hi {
		return 0, 0, fmt.Errorf("viz: invalid normalisation range [%g, %g]", lo, hi)
	}
	return lo, hi, nil
}

// normalise maps v from [lo, hi] to [0, 1], clamped; a flat range maps everything to 0.
func normalise(v, lo, hi float64) float64 {
	if hi <= lo {
		return 0
	}
	return clamp01((v - lo) / (hi - lo))
}

// MaskImage draws a 0/1 mask (values >= 0.5 count as set) as white on black.
func MaskImage(mask datasets.Image) (*image.Gray, error) {
	if err := checkMap("mask", mask); err != nil {
		return nil, err
	}
	g := image.NewGray(image.Rect(0, 0, mask.W, mask.H))
	for i, v := range mask.Pix {
		if v >= 0.5 {
			g.Pix[i] = 255
		}
	}
	return g, nil
}

// Threshold returns the binary prediction map (1 where amap >= t, else 0).
func Threshold(amap datasets.Image, t float64) (datasets.Image, error) {
	if err := checkMap("anomaly map", amap); err != nil {
		return datasets.Image{}, err
	}
	if math.IsNaN(t) {
		return datasets.Image{}, fmt.Errorf("viz: threshold is NaN")
	}
	out := datasets.NewImage(amap.H, amap.W, 1)
	for i, v := range amap.Pix {
		if float64(v) >= t {
			out.Pix[i] = 1
		}
	}
	return out, nil
}

// ContourPixels reports, for each pixel of mask, whether it lies on the inner boundary of the set
// region: set itself, with at least one of its four neighbours inside the image unset.
func ContourPixels(mask datasets.Image) ([]bool, error) { return ContourBand(mask, 1) }

// ContourBand is ContourPixels widened inwards to a band of width pixels: the set pixels that erosion by
// the 4-neighbourhood, width times, removes (pixels outside the image count as set, so the image border
// is not drawn as a contour). Width 1 is ContourPixels.
func ContourBand(mask datasets.Image, width int) ([]bool, error) {
	if err := checkMap("mask", mask); err != nil {
		return nil, err
	}
	if width < 1 {
		return nil, fmt.Errorf("viz: contour width %d, want >= 1", width)
	}
	h, w := mask.H, mask.W
	cur := make([]bool, h*w)
	for i, v := range mask.Pix {
		cur[i] = v >= 0.5
	}
	next := make([]bool, h*w)
	for range width {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				i := y*w + x
				next[i] = cur[i] && (y == 0 || cur[i-w]) && (y == h-1 || cur[i+w]) &&
					(x == 0 || cur[i-1]) && (x == w-1 || cur[i+1])
			}
		}
		cur, next = next, cur
	}
	out := make([]bool, h*w)
	for i, v := range mask.Pix {
		out[i] = v >= 0.5 && !cur[i]
	}
	return out, nil
}

// blend returns a*(1-alpha) + b*alpha per channel.
func blend(a, b color.RGBA, alpha float64) color.RGBA {
	mix := func(x, y uint8) uint8 { return uint8(math.Round(float64(x)*(1-alpha) + float64(y)*alpha)) }
	return color.RGBA{R: mix(a.R, b.R), G: mix(a.G, b.G), B: mix(a.B, b.B), A: 255}
}
