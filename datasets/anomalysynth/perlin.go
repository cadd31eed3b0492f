package anomalysynth

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/datasets/synth"
)

// Perlin configures DRAEM's anomaly generator (Zavrtanik et al., ICCV 2021, Sec. 3.3, Fig. 4): a
// Perlin noise field with 2^U{MinScaleExp..MaxScaleExp-1} lattice periods per axis, rotated by
// U(-90°, 90°) and thresholded at Threshold, selects the anomaly region; the region is filled from a
// texture passed through three random augmentations, blended with opacity: out = beta*image +
// (1-beta)*texture inside the mask, beta ~ U(0, MaxBeta) (Eq. 1). A CleanProbability fraction of the
// calls returns the image untouched with an empty mask. Start from DefaultPerlin.
type Perlin struct {
	// Source supplies the anomaly textures. Default (nil): Procedural().
	Source TextureSource
	// MinScaleExp and MaxScaleExp bound the noise scale exponent: scale = 2^k, k ~ U{Min..Max-1}, drawn
	// per axis. DRAEM: 0 and 6.
	MinScaleExp, MaxScaleExp int
	// Threshold on the noise field; DRAEM: 0.5.
	Threshold float64
	// MaxBeta is the largest weight of the original image inside the mask; DRAEM: 0.8.
	MaxBeta float64
	// CleanProbability is the probability of leaving the image clean; DRAEM: 0.5.
	CleanProbability float64
	// NoTextureAugment skips the three random texture augmentations (DRAEM applies them).
	NoTextureAugment bool
}

// DefaultPerlin returns DRAEM's recipe with procedural textures.
func DefaultPerlin() Perlin {
	return Perlin{MinScaleExp: 0, MaxScaleExp: 6, Threshold: 0.5, MaxBeta: 0.8, CleanProbability: 0.5}
}

func (p Perlin) check() error {
	switch {
	case p.MinScaleExp < 0 || p.MaxScaleExp <= p.MinScaleExp || p.MaxScaleExp > 12:
		return fmt.Errorf("anomalysynth: Perlin scale exponents [%d, %d) invalid (want 0 <= min < max <= 12)", p.MinScaleExp, p.MaxScaleExp)
	case p.MaxBeta < 0 || p.MaxBeta >= 1 || math.IsNaN(p.MaxBeta):
		return fmt.Errorf("anomalysynth: Perlin MaxBeta %v out of range [0, 1)", p.MaxBeta)
	case p.CleanProbability < 0 || p.CleanProbability > 1 || math.IsNaN(p.CleanProbability):
		return fmt.Errorf("anomalysynth: Perlin CleanProbability %v out of range [0, 1]", p.CleanProbability)
	case math.IsNaN(p.Threshold):
		return fmt.Errorf("anomalysynth: Perlin Threshold is NaN")
	}
	return nil
}

// Mask draws only the thresholded, rotated Perlin field of an h x w image (1 inside, 0 outside).
func (p Perlin) Mask(h, w int, seed uint64) (datasets.Image, error) {
	if err := p.check(); err != nil {
		return datasets.Image{}, err
	}
	return p.mask(newRand(seed), h, w), nil
}

func (p Perlin) mask(r *rand.Rand, h, w int) datasets.Image {
	sx := 1 << (p.MinScaleExp + r.IntN(p.MaxScaleExp-p.MinScaleExp))
	sy := 1 << (p.MinScaleExp + r.IntN(p.MaxScaleExp-p.MinScaleExp))
	angle := uniform(r, -math.Pi/2, math.Pi/2)
	noise := synth.PerlinNoise(r, h, w, sy, sx, angle)
	m := datasets.NewImage(h, w, 1)
	th := float32(p.Threshold)
	for i, v := range noise {
		if v > th {
			m.Pix[i] = 1
		}
	}
	return m
}

// Apply makes one DRAEM training sample from a normal image (C == 1 or 3, values in [0, 1]).
func (p Perlin) Apply(img datasets.Image, seed uint64) (Result, error) {
	if err := checkImage(img); err != nil {
		return Result{}, err
	}
	if img.C != 1 && img.C != 3 {
		return Result{}, fmt.Errorf("anomalysynth: Perlin needs 1 or 3 channels, got %d", img.C)
	}
	if err := p.check(); err != nil {
		return Result{}, err
	}
	r := newRand(seed)
	if r.Float64() < p.CleanProbability {
		return cleanResult(img), nil
	}
	mask := p.mask(r, img.H, img.W)
	src := p.Source
	if src == nil {
		src = Procedural()
	}
	tex, err := src.Texture(r, img.H, img.W)
	if err != nil {
		return Result{}, err
	}
	if !p.NoTextureAugment {
		tex = RandAugment(tex, r, 3)
	}
	if img.C == 1 {
		tex = toGray(tex)
	}
	beta := r.Float64() * p.MaxBeta
	out := img.Clone()
	hit := false
	b := float32(beta)
	for i, m := range mask.Pix {
		if m == 0 {
			continue
		}
		hit = true
		for k := range img.C {
			j := i*img.C + k
			out.Pix[j] = b*img.Pix[j] + (1-b)*tex.Pix[j]
		}
	}
	if !hit {
		return Result{Image: out, Mask: mask, Beta: beta}, nil
	}
	return Result{Image: out, Mask: mask, Anomalous: true, Beta: beta}, nil
}

// toGray converts RGB to luma (ITU-R BT.601 weights).
func toGray(im datasets.Image) datasets.Image {
	out := datasets.NewImage(im.H, im.W, 1)
	for i := range out.Pix {
		out.Pix[i] = 0.299*im.Pix[3*i] + 0.587*im.Pix[3*i+1] + 0.114*im.Pix[3*i+2]
	}
	return out
}
