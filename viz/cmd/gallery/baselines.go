package main

import (
	"math"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/methods"
)

// The gallery scores images with deliberately simple baselines written in plain Go, so its pictures come
// from real metrics without training a network. None of them is a method of the catalogue.

// pixelStats is the per-pixel, per-channel mean and standard deviation of the normal training images.
type pixelStats struct {
	h, w, c   int
	mean, std []float64
}

func fitPixelStats(train []datasets.Sample) pixelStats {
	im0 := train[0].Image
	s := pixelStats{h: im0.H, w: im0.W, c: im0.C, mean: make([]float64, len(im0.Pix)), std: make([]float64, len(im0.Pix))}
	for _, smp := range train {
		for i, v := range smp.Image.Pix {
			s.mean[i] += float64(v)
		}
	}
	n := float64(len(train))
	for i := range s.mean {
		s.mean[i] /= n
	}
	for _, smp := range train {
		for i, v := range smp.Image.Pix {
			d := float64(v) - s.mean[i]
			s.std[i] += d * d
		}
	}
	for i := range s.std {
		s.std[i] = math.Sqrt(s.std[i] / n)
	}
	return s
}

// meanDistance is the per-pixel Euclidean distance over channels between img and the mean image.
func (s pixelStats) meanDistance(img datasets.Image) datasets.Image {
	out := datasets.NewImage(s.h, s.w, 1)
	for p := range out.Pix {
		sum := 0.0
		for ch := 0; ch < s.c; ch++ {
			d := float64(img.Pix[p*s.c+ch]) - s.mean[p*s.c+ch]
			sum += d * d
		}
		out.Pix[p] = float32(math.Sqrt(sum))
	}
	return out
}

// zScore is the per-pixel distance in units of each pixel's training standard deviation: a Gaussian per
// pixel and channel with diagonal covariance, on raw pixels.
func (s pixelStats) zScore(img datasets.Image) datasets.Image {
	const eps = 0.02 // floor on the std so perfectly constant training pixels do not explode
	out := datasets.NewImage(s.h, s.w, 1)
	for p := range out.Pix {
		sum := 0.0
		for ch := 0; ch < s.c; ch++ {
			i := p*s.c + ch
			d := (float64(img.Pix[i]) - s.mean[i]) / (s.std[i] + eps)
			sum += d * d
		}
		out.Pix[p] = float32(math.Sqrt(sum / float64(s.c)))
	}
	return out
}

// boxBlur averages m over a (2r+1) x (2r+1) window clipped at the borders.
func boxBlur(m datasets.Image, r int) datasets.Image {
	out := datasets.NewImage(m.H, m.W, 1)
	for y := 0; y < m.H; y++ {
		for x := 0; x < m.W; x++ {
			sum, n := 0.0, 0
			for yy := max(0, y-r); yy <= min(m.H-1, y+r); yy++ {
				for xx := max(0, x-r); xx <= min(m.W-1, x+r); xx++ {
					sum += float64(m.Pix[yy*m.W+xx])
					n++
				}
			}
			out.Pix[y*m.W+x] = float32(sum / float64(n))
		}
	}
	return out
}

// baseline is a named map function; the image score is the map's maximum.
type baseline struct {
	name  string
	score func(datasets.Image) datasets.Image
}

func baselines(s pixelStats) []baseline {
	return []baseline{
		{"mean-image L2 distance", s.meanDistance},
		{"per-pixel z-score", s.zScore},
		{"per-pixel z-score, 7x7 box blur", func(im datasets.Image) datasets.Image { return boxBlur(s.zScore(im), 3) }},
	}
}

func predict(b baseline, samples []datasets.Sample) []methods.Prediction {
	out := make([]methods.Prediction, len(samples))
	for i, smp := range samples {
		m := b.score(smp.Image)
		top := float32(math.Inf(-1))
		for _, v := range m.Pix {
			top = max(top, v)
		}
		out[i] = methods.Prediction{Score: top, Map: m}
	}
	return out
}
