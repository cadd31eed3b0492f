package rd

import (
	"math/rand/v2"

	"github.com/gonomaly/gonomaly/datasets"
)

// addNoisePatch makes an RD++ pseudo-anomaly (Tien et al., section 3.3, official data pipeline): a
// rectangle of side U[10, size/8) pixels at 256 px (scaled to the image size) at a random place gets
// 0.2 x fractal noise (6 octaves, persistence 0.6) added to every channel, unclipped.
func addNoisePatch(im datasets.Image, rng *rand.Rand) datasets.Image {
	out := datasets.Image{H: im.H, W: im.W, C: im.C, Pix: append([]float32(nil), im.Pix...)}
	scale := float64(min(im.H, im.W)) / 256
	lo := max(2, int(10*scale))
	hi := max(lo+1, min(im.H, im.W)/8)
	h := lo + rng.IntN(hi-lo)
	w := lo + rng.IntN(hi-lo)
	y0 := 1 + rng.IntN(max(1, im.H-h-1))
	x0 := 1 + rng.IntN(max(1, im.W-w-1))
	for c := 0; c < im.C; c++ {
		noise := fractalNoise(rng, h, w, 6, 0.6)
		for y := 0; y < h && y0+y < im.H; y++ {
			for x := 0; x < w && x0+x < im.W; x++ {
				out.Pix[((y0+y)*im.W+x0+x)*im.C+c] += 0.2 * noise[y*w+x]
			}
		}
	}
	return out
}

// fractalNoise sums octaves of smoothly interpolated lattice noise (values in about [-1, 1]): octave o
// has 2^o cells across the patch and amplitude persistence^o, normalised by the total amplitude.
func fractalNoise(rng *rand.Rand, h, w, octaves int, persistence float64) []float32 {
	out := make([]float32, h*w)
	amp, total := 1.0, 0.0
	for o := 0; o < octaves; o++ {
		cells := 1 << o
		lattice := make([]float64, (cells+1)*(cells+1))
		for i := range lattice {
			lattice[i] = rng.Float64()*2 - 1
		}
		for y := 0; y < h; y++ {
			fy := float64(y) / float64(h) * float64(cells)
			iy := int(fy)
			ty := smooth(fy - float64(iy))
			for x := 0; x < w; x++ {
				fx := float64(x) / float64(w) * float64(cells)
				ix := int(fx)
				tx := smooth(fx - float64(ix))
				at := func(j, i int) float64 { return lattice[j*(cells+1)+i] }
				a := at(iy, ix) + (at(iy, ix+1)-at(iy, ix))*tx
				b := at(iy+1, ix) + (at(iy+1, ix+1)-at(iy+1, ix))*tx
				out[y*w+x] += float32(amp * (a + (b-a)*ty))
			}
		}
		total += amp
		amp *= persistence
	}
	for i := range out {
		out[i] /= float32(total)
	}
	return out
}

// smooth is Perlin's quintic fade curve.
func smooth(t float64) float64 { return t * t * t * (t*(t*6-15) + 10) }
