package viz

import (
	"fmt"
	"image"
	"image/color"
	"math"

	"github.com/gonomaly/gonomaly/datasets"
)

// OverlayBuilder configures an anomaly-map overlay; create it with Overlay and finish with Done.
type OverlayBuilder struct {
	img, amap  datasets.Image
	mask       *datasets.Image
	cmap       Colormap
	alpha      float64
	lo, hi     float64
	contour    color.RGBA
	width      int
	alphaByMap bool
}

// DefaultContourColor is the colour of the ground-truth outline: magenta, absent from every colormap here
// and rare in inspection images (white vanished on bright parts, red on Turbo's hot end).
var DefaultContourColor = color.RGBA{R: 255, G: 0, B: 255, A: 255}

// Overlay starts an overlay of the one-channel anomaly map amap, coloured, on the image img (1 or 3
// channels, same height and width). Defaults: Turbo colormap, alpha 0.5, range = the map's own min/max,
// no ground-truth contour.
func Overlay(img, amap datasets.Image) *OverlayBuilder {
	return &OverlayBuilder{img: img, amap: amap, cmap: Turbo, alpha: 0.5, lo: math.NaN(), hi: math.NaN(),
		contour: DefaultContourColor, width: 1}
}

// Colormap sets the colormap (default Turbo).
func (b *OverlayBuilder) Colormap(m Colormap) *OverlayBuilder { b.cmap = m; return b }

// Alpha sets the opacity of the coloured map over the image, in [0, 1] (default 0.5).
func (b *OverlayBuilder) Alpha(a float64) *OverlayBuilder { b.alpha = a; return b }

// AlphaByValue makes each pixel's opacity alpha times its normalised map value, so normal regions show
// the plain image and only anomalous regions are tinted (default false: uniform alpha).
func (b *OverlayBuilder) AlphaByValue(on bool) *OverlayBuilder { b.alphaByMap = on; return b }

// Range sets the map values drawn as the colormap's ends (default: the map's min and max). Use one range
// for every image of a method (e.g. from metrics normalisation) so colours compare across images.
func (b *OverlayBuilder) Range(lo, hi float64) *OverlayBuilder { b.lo, b.hi = lo, hi; return b }

// Mask draws the outline of the ground-truth mask (one channel, 0/1) on top.
func (b *OverlayBuilder) Mask(mask datasets.Image) *OverlayBuilder { b.mask = &mask; return b }

// ContourColor sets the outline colour (default DefaultContourColor).
func (b *OverlayBuilder) ContourColor(c color.RGBA) *OverlayBuilder { b.contour = c; return b }

// ContourWidth sets the outline width in image pixels, drawn inside the mask (default 1). Use 2 or more
// when the overlay will be shown smaller than its pixel size.
func (b *OverlayBuilder) ContourWidth(px int) *OverlayBuilder { b.width = px; return b }

// Image builds the overlay as an image.
func (b *OverlayBuilder) Image() (*image.RGBA, error) {
	if err := b.img.Validate(); err != nil {
		return nil, fmt.Errorf("viz: overlay image: %w", err)
	}
	if b.img.C != 1 && b.img.C != 3 && b.img.C != 4 {
		return nil, fmt.Errorf("viz: overlay image has %d channels, want 1, 3 or 4", b.img.C)
	}
	if err := checkMap("anomaly map", b.amap); err != nil {
		return nil, err
	}
	if b.amap.H != b.img.H || b.amap.W != b.img.W {
		return nil, fmt.Errorf("viz: anomaly map is %dx%d but image is %dx%d", b.amap.H, b.amap.W, b.img.H, b.img.W)
	}
	if math.IsNaN(b.alpha) || b.alpha < 0 || b.alpha > 1 {
		return nil, fmt.Errorf("viz: overlay alpha %g outside [0, 1]", b.alpha)
	}
	var contour []bool
	if b.mask != nil {
		if err := checkMap("mask", *b.mask); err != nil {
			return nil, err
		}
		if b.mask.H != b.img.H || b.mask.W != b.img.W {
			return nil, fmt.Errorf("viz: mask is %dx%d but image is %dx%d", b.mask.H, b.mask.W, b.img.H, b.img.W)
		}
		var err error
		if contour, err = ContourBand(*b.mask, b.width); err != nil {
			return nil, err
		}
	}
	lo, hi, err := resolveRange(b.lo, b.hi, b.amap.Pix)
	if err != nil {
		return nil, err
	}
	out := toRGBA(b.img)
	for i, v := range b.amap.Pix {
		o := out.Pix[4*i : 4*i+4]
		if contour != nil && contour[i] {
			o[0], o[1], o[2], o[3] = b.contour.R, b.contour.G, b.contour.B, 255
			continue
		}
		t := normalise(float64(v), lo, hi)
		a := b.alpha
		if b.alphaByMap {
			a *= t
		}
		c := blend(color.RGBA{R: o[0], G: o[1], B: o[2], A: 255}, b.cmap.At(t), a)
		o[0], o[1], o[2], o[3] = c.R, c.G, c.B, 255
	}
	return out, nil
}

// Done builds the overlay as a pixel-exact figure.
func (b *OverlayBuilder) Done() (*Raster, error) {
	im, err := b.Image()
	if err != nil {
		return nil, err
	}
	return &Raster{Image: im}, nil
}
