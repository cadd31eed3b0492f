package anomalysynth

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gonomaly/gonomaly/datasets"
)

// CutPaste configures CutPaste (Li, Sohn, Yoon, Pfister, CVPR 2021, Sec. 3.1): a patch cut from the
// image itself, colour-jittered and pasted elsewhere. Start from DefaultCutPaste.
type CutPaste struct {
	// AreaRatio bounds the patch area as a fraction of the image (patch variant). Paper: [0.02, 0.15].
	AreaRatio [2]float64
	// AspectRatio bounds the patch aspect ratio, drawn log-uniformly (patch variant). Paper: [0.3, 1/0.3].
	AspectRatio [2]float64
	// ScarWidth and ScarHeight bound the scar size in pixels at a 256-pixel image side, scaled with the
	// image (scar variant). Paper: [2, 16] and [10, 25].
	ScarWidth, ScarHeight [2]float64
	// ScarRotation bounds the scar rotation in degrees. Paper: [-45, 45].
	ScarRotation [2]float64
	// Jitter is the colour jitter strength for brightness, contrast, saturation and hue (torchvision
	// ColorJitter semantics). Paper code: 0.1.
	Jitter float64
}

// DefaultCutPaste returns the paper's settings.
func DefaultCutPaste() CutPaste {
	return CutPaste{
		AreaRatio: [2]float64{0.02, 0.15}, AspectRatio: [2]float64{0.3, 1 / 0.3},
		ScarWidth: [2]float64{2, 16}, ScarHeight: [2]float64{10, 25}, ScarRotation: [2]float64{-45, 45},
		Jitter: 0.1,
	}
}

func (c CutPaste) check(img datasets.Image) error {
	if err := checkImage(img); err != nil {
		return err
	}
	if img.H < 4 || img.W < 4 {
		return fmt.Errorf("anomalysynth: CutPaste needs an image of at least 4x4, got %dx%d", img.H, img.W)
	}
	ok := func(b [2]float64, lo float64) bool { return b[0] >= lo && b[1] >= b[0] && !math.IsNaN(b[0]+b[1]) }
	if !ok(c.AreaRatio, 0) || c.AreaRatio[1] > 1 || !ok(c.AspectRatio, 1e-3) || !ok(c.ScarWidth, 0.5) ||
		!ok(c.ScarHeight, 0.5) || !ok(c.ScarRotation, -360) || c.Jitter < 0 || c.Jitter > 1 {
		return fmt.Errorf("anomalysynth: invalid CutPaste settings %+v", c)
	}
	return nil
}

// Patch applies the patch variant: a rectangle of the drawn area and aspect ratio is cut at a random
// place, jittered and pasted at another random place. The mask is the pasted rectangle.
func (c CutPaste) Patch(img datasets.Image, seed uint64) (Result, error) {
	if err := c.check(img); err != nil {
		return Result{}, err
	}
	r := newRand(seed)
	area := uniform(r, c.AreaRatio[0], c.AreaRatio[1]) * float64(img.H*img.W)
	aspect := math.Exp(uniform(r, math.Log(c.AspectRatio[0]), math.Log(c.AspectRatio[1])))
	w := min(img.W-1, max(1, int(math.Round(math.Sqrt(area*aspect)))))
	h := min(img.H-1, max(1, int(math.Round(math.Sqrt(area/aspect)))))
	sy, sx := r.IntN(img.H-h+1), r.IntN(img.W-w+1)
	ty, tx := r.IntN(img.H-h+1), r.IntN(img.W-w+1)
	patch := jitter(datasets.Crop(img, sy, sx, h, w), c.Jitter, r)
	out := img.Clone()
	mask := datasets.NewImage(img.H, img.W, 1)
	for y := range h {
		copy(out.Pix[((ty+y)*img.W+tx)*img.C:((ty+y)*img.W+tx+w)*img.C], patch.Pix[y*w*img.C:(y+1)*w*img.C])
		for x := range w {
			mask.Pix[(ty+y)*img.W+tx+x] = 1
		}
	}
	return Result{Image: out, Mask: mask, Anomalous: true}, nil
}

// Scar applies the scar variant: a thin rectangle (ScarWidth x ScarHeight) is cut, jittered, rotated
// and pasted at a random place. The mask is the rotated rectangle's footprint, sampled with nearest
// neighbour so every mask pixel holds a patch pixel.
func (c CutPaste) Scar(img datasets.Image, seed uint64) (Result, error) {
	if err := c.check(img); err != nil {
		return Result{}, err
	}
	r := newRand(seed)
	k := float64(min(img.H, img.W)) / 256
	w := min(img.W-1, max(1, int(math.Round(uniform(r, c.ScarWidth[0], c.ScarWidth[1])*k))))
	h := min(img.H-1, max(1, int(math.Round(uniform(r, c.ScarHeight[0], c.ScarHeight[1])*k))))
	sy, sx := r.IntN(img.H-h+1), r.IntN(img.W-w+1)
	patch := jitter(datasets.Crop(img, sy, sx, h, w), c.Jitter, r)
	a := uniform(r, c.ScarRotation[0], c.ScarRotation[1]) * math.Pi / 180
	ca, sa := math.Cos(a), math.Sin(a)
	// Half extents of the rotated rectangle, to keep it inside the image.
	ex := (math.Abs(ca)*float64(w) + math.Abs(sa)*float64(h)) / 2
	ey := (math.Abs(sa)*float64(w) + math.Abs(ca)*float64(h)) / 2
	cx := uniform(r, min(ex, float64(img.W)/2), max(float64(img.W)-ex, float64(img.W)/2))
	cy := uniform(r, min(ey, float64(img.H)/2), max(float64(img.H)-ey, float64(img.H)/2))
	out := img.Clone()
	mask := datasets.NewImage(img.H, img.W, 1)
	y0, y1 := max(0, int(cy-ey)-1), min(img.H, int(cy+ey)+2)
	x0, x1 := max(0, int(cx-ex)-1), min(img.W, int(cx+ex)+2)
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			dx, dy := float64(x)+0.5-cx, float64(y)+0.5-cy
			// Inverse rotation into the patch frame.
			u := ca*dx + sa*dy + float64(w)/2
			v := -sa*dx + ca*dy + float64(h)/2
			if u < 0 || v < 0 || u >= float64(w) || v >= float64(h) {
				continue
			}
			pu, pv := int(u), int(v)
			copy(out.Pix[(y*img.W+x)*img.C:(y*img.W+x+1)*img.C], patch.Pix[(pv*w+pu)*img.C:(pv*w+pu+1)*img.C])
			mask.Pix[y*img.W+x] = 1
		}
	}
	return Result{Image: out, Mask: mask, Anomalous: true}, nil
}

// jitter applies torchvision-style ColorJitter(s, s, s, s) in a random order: brightness and contrast
// factors U(1-s, 1+s), saturation factor U(1-s, 1+s) (RGB only), hue shift U(-s, s) turns (RGB only).
func jitter(im datasets.Image, s float64, r *rand.Rand) datasets.Image {
	out := im.Clone()
	if s == 0 {
		return out
	}
	px := out.Pix
	for _, op := range r.Perm(4) {
		switch op {
		case 0:
			f := float32(uniform(r, 1-s, 1+s))
			for i := range px {
				px[i] = clamp01(px[i] * f)
			}
		case 1:
			f := float32(uniform(r, 1-s, 1+s))
			var mean float32
			for i := 0; i < len(px); i += out.C {
				mean += luma(px[i:i+out.C]) / float32(out.H*out.W)
			}
			for i := range px {
				px[i] = clamp01(mean + f*(px[i]-mean))
			}
		case 2:
			f := float32(uniform(r, 1-s, 1+s))
			if out.C == 3 {
				for i := 0; i < len(px); i += 3 {
					g := luma(px[i : i+3])
					for k := range 3 {
						px[i+k] = clamp01(g + f*(px[i+k]-g))
					}
				}
			}
		case 3:
			dh := float32(uniform(r, -s, s))
			if out.C == 3 {
				for i := 0; i < len(px); i += 3 {
					h, sat, v := rgbToHSV(px[i], px[i+1], px[i+2])
					h += dh
					h -= float32(math.Floor(float64(h)))
					px[i], px[i+1], px[i+2] = hsvToRGB(h, sat, v)
				}
			}
		}
	}
	return out
}

// luma is the grey value of a 1- or 3-channel pixel (BT.601).
func luma(p []float32) float32 {
	if len(p) < 3 {
		return p[0]
	}
	return 0.299*p[0] + 0.587*p[1] + 0.114*p[2]
}

// GaussianNoise adds i.i.d. N(0, sigma²) noise to a feature map or image, as SimpleNet's anomalous
// feature generator (Liu et al., CVPR 2023, Sec. 3.3, sigma = 0.015 on adapted features). region, when
// it has pixels (C == 1, same H and W), limits the noise to its non-zero pixels; otherwise every pixel
// is noised. Values are not clamped (features are unbounded). The mask is the noised region.
func GaussianNoise(x datasets.Image, sigma float64, region datasets.Image, seed uint64) (Result, error) {
	if err := checkImage(x); err != nil {
		return Result{}, err
	}
	if sigma < 0 || math.IsNaN(sigma) || math.IsInf(sigma, 0) {
		return Result{}, fmt.Errorf("anomalysynth: GaussianNoise sigma %v must be finite and >= 0", sigma)
	}
	all := len(region.Pix) == 0
	if !all && (region.H != x.H || region.W != x.W || region.C != 1 || len(region.Pix) != x.H*x.W) {
		return Result{}, fmt.Errorf("anomalysynth: GaussianNoise region is %dx%dx%d, want %dx%dx1", region.H, region.W, region.C, x.H, x.W)
	}
	r := newRand(seed)
	out := x.Clone()
	mask := datasets.NewImage(x.H, x.W, 1)
	hit := false
	for i := range x.H * x.W {
		if !all && region.Pix[i] == 0 {
			continue
		}
		mask.Pix[i] = 1
		hit = true
		for k := range x.C {
			out.Pix[i*x.C+k] += float32(sigma * r.NormFloat64())
		}
	}
	return Result{Image: out, Mask: mask, Anomalous: hit && sigma > 0}, nil
}

// GaussianNoiseFloats is GaussianNoise on a raw feature slice (e.g. a [N, D] tensor's data): a noised
// copy.
func GaussianNoiseFloats(x []float32, sigma float64, seed uint64) []float32 {
	r := newRand(seed)
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = v + float32(sigma*r.NormFloat64())
	}
	return out
}
