package datasets

import (
	"fmt"
	"image"
	"math"
)

// Resize returns im resized to h x w with bilinear interpolation. When shrinking, the triangle filter is
// widened by the scale factor so every input pixel contributes (antialiasing), as PIL's
// Image.resize(BILINEAR) and torchvision's Resize(antialias=True) do; when enlarging it is plain bilinear
// interpolation with half-pixel centres (align_corners=False). The two axes are filtered separably.
//
// See also ResizeNearest for masks.
func Resize(im Image, h, w int) Image {
	if h <= 0 || w <= 0 {
		panic(fmt.Sprintf("datasets.Resize: invalid target size %dx%d", h, w))
	}
	if im.H == h && im.W == w {
		return im.Clone()
	}
	rowLen := im.W * im.C
	return resizeRows(func(y int) []float32 { return im.Pix[y*rowLen : (y+1)*rowLen] }, im.H, im.W, im.C, h, w)
}

// ResizeGo converts a Go image to channels (1 or 3; 0 means 3) and resizes it to h x w like Resize,
// converting and filtering row by row so the full-size float image is never held in memory.
func ResizeGo(g image.Image, channels, h, w int) (Image, error) {
	if h <= 0 || w <= 0 {
		return Image{}, fmt.Errorf("invalid target size %dx%d", h, w)
	}
	conv, W, H, c, err := rowConverter(g, channels)
	if err != nil {
		return Image{}, err
	}
	buf := make([]float32, W*c)
	return resizeRows(func(y int) []float32 { conv(y, buf); return buf }, H, W, c, h, w), nil
}

// resizeRows resizes an H x W x c image given row by row (row(y) may reuse its buffer between calls;
// each row is read exactly once, in order) to h x w. The horizontal pass runs first, on each input row
// as it arrives, then the vertical pass on the narrowed image.
func resizeRows(row func(y int) []float32, H, W, c, h, w int) Image {
	tmp := NewImage(H, w, c)
	if w == W {
		for y := 0; y < H; y++ {
			copy(tmp.Pix[y*w*c:(y+1)*w*c], row(y))
		}
	} else {
		wt := bilinearWeights(W, w)
		for y := 0; y < H; y++ {
			filterRow(row(y), tmp.Pix[y*w*c:(y+1)*w*c], wt, c)
		}
	}
	if h == H {
		return tmp
	}
	wt := bilinearWeights(H, h)
	rowLen := w * c
	out := NewImage(h, w, c)
	for y := 0; y < h; y++ {
		dst := out.Pix[y*rowLen : (y+1)*rowLen]
		for k, wk := range wt.w[y] {
			src := tmp.Pix[(wt.first[y]+k)*rowLen : (wt.first[y]+k+1)*rowLen]
			for i, v := range src {
				dst[i] += wk * v
			}
		}
	}
	return out
}

// filterRow applies horizontal resampling weights to one row of c-channel pixels.
func filterRow(src, dst []float32, wt resampleWeights, c int) {
	w := len(dst) / c
	switch c {
	case 1:
		for x := 0; x < w; x++ {
			p := src[wt.first[x]:]
			var s float32
			for k, wk := range wt.w[x] {
				s += wk * p[k]
			}
			dst[x] = s
		}
	case 3: // the common case: one pass over the taps for all three channels
		for x := 0; x < w; x++ {
			p := src[wt.first[x]*3:]
			var r, g, b float32
			for k, wk := range wt.w[x] {
				q := p[3*k : 3*k+3 : 3*k+3]
				r += wk * q[0]
				g += wk * q[1]
				b += wk * q[2]
			}
			dst[3*x], dst[3*x+1], dst[3*x+2] = r, g, b
		}
	default:
		for x := 0; x < w; x++ {
			ws := wt.w[x]
			base := wt.first[x] * c
			for ch := 0; ch < c; ch++ {
				var s float32
				for k, wk := range ws {
					s += wk * src[base+k*c+ch]
				}
				dst[x*c+ch] = s
			}
		}
	}
}

// resampleWeights holds, for each output index, the first contributing input index and the weights.
type resampleWeights struct {
	first []int
	w     [][]float32
}

// bilinearWeights computes normalised triangle-filter weights mapping n inputs to m outputs, the filter
// support scaled by n/m when shrinking (the PIL/torchvision antialiasing recipe).
func bilinearWeights(n, m int) resampleWeights {
	scale := float64(n) / float64(m)
	fscale := max(scale, 1)
	support := fscale // the triangle filter has support 1, widened when shrinking
	rw := resampleWeights{first: make([]int, m), w: make([][]float32, m)}
	buf := make([]float64, 0, int(2*support)+3)
	for i := 0; i < m; i++ {
		center := (float64(i) + 0.5) * scale
		lo := max(int(center-support+0.5), 0)
		hi := min(int(center+support+0.5), n)
		buf = buf[:0]
		var total float64
		for j := lo; j < hi; j++ {
			v := 1 - math.Abs((float64(j)+0.5-center)/fscale)
			if v < 0 {
				v = 0
			}
			buf = append(buf, v)
			total += v
		}
		// Trim zero weights at the ends so the inner loops are short.
		a, b := 0, len(buf)
		for a < b && buf[a] == 0 {
			a++
		}
		for b > a && buf[b-1] == 0 {
			b--
		}
		if a == b { // cannot happen for n, m >= 1, but never divide by zero
			rw.first[i] = min(int(center), n-1)
			rw.w[i] = []float32{1}
			continue
		}
		ws := make([]float32, b-a)
		for k := a; k < b; k++ {
			ws[k-a] = float32(buf[k] / total)
		}
		rw.first[i] = lo + a
		rw.w[i] = ws
	}
	return rw
}

// ResizeNearest returns im resized to h x w by nearest-neighbour sampling (the input pixel whose centre
// is nearest each output centre, as PIL's NEAREST). Use it for masks: values stay exactly 0 or 1.
func ResizeNearest(im Image, h, w int) Image {
	if h <= 0 || w <= 0 {
		panic(fmt.Sprintf("datasets.ResizeNearest: invalid target size %dx%d", h, w))
	}
	if im.H == h && im.W == w {
		return im.Clone()
	}
	c := im.C
	xs := make([]int, w)
	for x := range xs {
		xs[x] = min(int((float64(x)+0.5)*float64(im.W)/float64(w)), im.W-1)
	}
	out := NewImage(h, w, c)
	for y := 0; y < h; y++ {
		sy := min(int((float64(y)+0.5)*float64(im.H)/float64(h)), im.H-1)
		src := im.Pix[sy*im.W*c : (sy+1)*im.W*c]
		dst := out.Pix[y*w*c : (y+1)*w*c]
		for x, sx := range xs {
			copy(dst[x*c:(x+1)*c], src[sx*c:(sx+1)*c])
		}
	}
	return out
}

// CenterCrop returns the central h x w window of im, placed as torchvision's CenterCrop does
// (top = round((H-h)/2), left = round((W-w)/2), halves rounded to even). It returns an error when the
// crop is larger than the image.
func CenterCrop(im Image, h, w int) (Image, error) {
	if h <= 0 || w <= 0 || h > im.H || w > im.W {
		return Image{}, fmt.Errorf("centre crop %dx%d does not fit in image %dx%d", h, w, im.H, im.W)
	}
	top := int(math.RoundToEven(float64(im.H-h) / 2))
	left := int(math.RoundToEven(float64(im.W-w) / 2))
	return Crop(im, top, left, h, w), nil
}

// Crop returns the h x w window of im whose top-left corner is (top, left). It panics if the window
// is outside the image.
func Crop(im Image, top, left, h, w int) Image {
	if top < 0 || left < 0 || h <= 0 || w <= 0 || top+h > im.H || left+w > im.W {
		panic(fmt.Sprintf("datasets.Crop: window %dx%d at (%d,%d) outside image %dx%d", h, w, top, left, im.H, im.W))
	}
	c := im.C
	out := NewImage(h, w, c)
	for y := 0; y < h; y++ {
		copy(out.Pix[y*w*c:(y+1)*w*c], im.Pix[((top+y)*im.W+left)*c:((top+y)*im.W+left+w)*c])
	}
	return out
}

// Normalize returns (im - mean[c]) / std[c] per channel, e.g. with ImageNetMean and ImageNetStd.
// mean and std need one value per channel (or one value for all channels).
func Normalize(im Image, mean, std []float32) (Image, error) {
	pick := func(v []float32, ch int) (float32, error) {
		switch len(v) {
		case 1:
			return v[0], nil
		case im.C:
			return v[ch], nil
		}
		return 0, fmt.Errorf("normalisation needs 1 or %d values, got %d", im.C, len(v))
	}
	out := NewImage(im.H, im.W, im.C)
	for ch := 0; ch < im.C; ch++ {
		m, err := pick(mean, ch)
		if err != nil {
			return Image{}, err
		}
		s, err := pick(std, ch)
		if err != nil {
			return Image{}, err
		}
		if s == 0 {
			return Image{}, fmt.Errorf("normalisation std of channel %d is zero", ch)
		}
		inv := 1 / s
		for i := ch; i < len(im.Pix); i += im.C {
			out.Pix[i] = (im.Pix[i] - m) * inv
		}
	}
	return out, nil
}

// ImageNetMean and ImageNetStd are the per-channel RGB statistics that ImageNet-pretrained backbones
// expect after Normalize.
var (
	ImageNetMean = []float32{0.485, 0.456, 0.406}
	ImageNetStd  = []float32{0.229, 0.224, 0.225}
)

// Binarize returns a one-channel mask that is 1 where any channel of im is non-zero and 0 elsewhere.
func Binarize(im Image) Image {
	out := NewImage(im.H, im.W, 1)
	for i := 0; i < im.H*im.W; i++ {
		for ch := 0; ch < im.C; ch++ {
			if im.Pix[i*im.C+ch] != 0 {
				out.Pix[i] = 1
				break
			}
		}
	}
	return out
}

// Clone returns a deep copy of im.
func (im Image) Clone() Image {
	return Image{H: im.H, W: im.W, C: im.C, Pix: append([]float32(nil), im.Pix...)}
}
