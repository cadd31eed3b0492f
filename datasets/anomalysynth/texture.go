package anomalysynth

import (
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/datasets/synth"
)

// TextureSource supplies the images anomalies are cut from. Implementations must be safe for
// concurrent use and draw all randomness from r.
type TextureSource interface {
	// Texture returns an h x w RGB image with values in [0, 1].
	Texture(r *rand.Rand, h, w int) (datasets.Image, error)
}

type procedural struct{}

// Procedural returns a source of procedural textures (the texture categories of datasets/synth, with a
// random category and seed per call): DRAEM's texture source when no DTD folder is at hand.
func Procedural() TextureSource { return procedural{} }

func (procedural) Texture(r *rand.Rand, h, w int) (datasets.Image, error) {
	names := synth.Textures()
	n := max(h, w)
	t, err := synth.Texture(names[r.IntN(len(names))], n, r.Uint64())
	if err != nil {
		return datasets.Image{}, err
	}
	if n == h && n == w {
		return t, nil
	}
	return datasets.Crop(t, (n-h)/2, (n-w)/2, h, w), nil
}

// DTD is a texture source reading images from a folder tree, such as the Describable Textures Dataset
// (Cimpoi et al., "Describing textures in the wild", CVPR 2014) that DRAEM uses: every JPEG or PNG
// file below the root, one drawn at random per call, decoded and resized to the requested size.
type DTD struct {
	// Files are the image paths found, sorted.
	Files []string
	// Limits bounds accepted image sizes. Default: datasets' defaults.
	Limits datasets.Limits
}

// NewDTD lists the JPEG and PNG files below root (e.g. dtd/images). It is an error if there are none.
func NewDTD(root string) (*DTD, error) {
	d := &DTD{}
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".jpg", ".jpeg", ".png":
			if !e.IsDir() {
				d.Files = append(d.Files, p)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("anomalysynth: reading texture folder %s: %w", root, err)
	}
	if len(d.Files) == 0 {
		return nil, fmt.Errorf("anomalysynth: texture folder %s has no .jpg or .png images", root)
	}
	slices.Sort(d.Files)
	return d, nil
}

// Texture decodes a random file and resizes it to h x w (DRAEM resizes the whole texture image).
func (d *DTD) Texture(r *rand.Rand, h, w int) (datasets.Image, error) {
	p := d.Files[r.IntN(len(d.Files))]
	im, err := datasets.DecodeFile(p, 3, d.Limits)
	if err != nil {
		return datasets.Image{}, fmt.Errorf("anomalysynth: texture %s: %w", p, err)
	}
	if im.H != h || im.W != w {
		im = datasets.Resize(im, h, w)
	}
	return im, nil
}

// Augmentation names of RandAugment, in DRAEM's order.
var augmentations = []string{"gamma", "brightness", "sharpness", "hue-saturation", "solarize",
	"posterize", "invert", "autocontrast", "equalize", "rotate"}

// Augmentations returns the names of the texture augmentations RandAugment chooses from.
func Augmentations() []string { return slices.Clone(augmentations) }

// RandAugment applies k distinct augmentations, chosen at random in random order, to an RGB texture, as
// DRAEM does with three of: per-channel gamma in [0.5, 2]; brightness ×U(0.8, 1.2) + U(-30, 30)/255;
// sharpness factor U(0, 2); hue and saturation shifts of U(-50, 50)/255 (of a turn, of full saturation);
// solarize (p = 0.5, threshold U(32, 128)/255); posterize to 1..8 bits; invert; autocontrast;
// histogram equalisation; rotation U(-45°, 45°) with black fill.
func RandAugment(im datasets.Image, r *rand.Rand, k int) datasets.Image {
	out := im.Clone()
	for _, a := range r.Perm(len(augmentations))[:min(k, len(augmentations))] {
		out = Augment(out, augmentations[a], r)
	}
	return out
}

// Augment applies one named augmentation (see Augmentations) with parameters drawn from r; an unknown
// name returns the image unchanged.
func Augment(im datasets.Image, name string, r *rand.Rand) datasets.Image {
	out := im.Clone()
	px := out.Pix
	switch name {
	case "gamma":
		for c := range out.C {
			g := uniform(r, 0.5, 2)
			var lut [1025]float32 // pow on a fine grid, linearly interpolated
			for k := range lut {
				lut[k] = float32(math.Pow(float64(k)/1024, g))
			}
			for i := c; i < len(px); i += out.C {
				x := clamp01(px[i]) * 1024
				k := min(int(x), 1023)
				px[i] = lut[k] + (lut[k+1]-lut[k])*(x-float32(k))
			}
		}
	case "brightness":
		m, a := float32(uniform(r, 0.8, 1.2)), float32(uniform(r, -30, 30)/255)
		for i := range px {
			px[i] = clamp01(px[i]*m + a)
		}
	case "sharpness":
		f := float32(uniform(r, 0, 2))
		sm := smooth3(im)
		for i := range px {
			px[i] = clamp01(sm.Pix[i] + f*(im.Pix[i]-sm.Pix[i]))
		}
	case "hue-saturation":
		if out.C == 3 {
			dh := float32(uniform(r, -50, 50) / 255) // fraction of a turn
			ds := float32(uniform(r, -50, 50) / 255)
			for i := 0; i < len(px); i += 3 {
				h, s, v := rgbToHSV(px[i], px[i+1], px[i+2])
				h += dh
				h -= float32(math.Floor(float64(h)))
				px[i], px[i+1], px[i+2] = hsvToRGB(h, clamp01(s+ds), v)
			}
		}
	case "solarize":
		if r.IntN(2) == 0 {
			t := float32(uniform(r, 32, 128) / 255)
			for i := range px {
				if px[i] >= t {
					px[i] = 1 - px[i]
				}
			}
		}
	case "posterize":
		levels := float32(int(1) << (1 + r.IntN(8)))
		for i := range px {
			px[i] = float32(math.Floor(float64(clamp01(px[i])*(levels-1)+0.5))) / (levels - 1)
		}
	case "invert":
		for i := range px {
			px[i] = 1 - px[i]
		}
	case "autocontrast":
		cut := uniform(r, 0, 0.2) // fraction of pixels clipped in all, per channel
		for c := range out.C {
			// Percentiles from a 1024-bin histogram (PIL works on 256 levels).
			var hist [1024]int
			for i := c; i < len(px); i += out.C {
				hist[min(int(clamp01(px[i])*1023+0.5), 1023)]++
			}
			n := out.H * out.W
			lo, hi := percentileBin(hist[:], int(cut/2*float64(n))), percentileBin(hist[:], n-1-int(cut/2*float64(n)))
			if hi <= lo {
				continue
			}
			for i := c; i < len(px); i += out.C {
				px[i] = clamp01((px[i] - lo) / (hi - lo))
			}
		}
	case "equalize":
		for c := range out.C {
			var hist [256]int
			for i := c; i < len(px); i += out.C {
				hist[int(clamp01(px[i])*255+0.5)]++
			}
			var cdf [256]float32
			sum := 0
			for b := range hist {
				sum += hist[b]
				cdf[b] = float32(sum) / float32(out.H*out.W)
			}
			for i := c; i < len(px); i += out.C {
				px[i] = cdf[int(clamp01(px[i])*255+0.5)]
			}
		}
	case "rotate":
		out = rotateBilinear(im, uniform(r, -45, 45)*math.Pi/180)
	}
	return out
}

// percentileBin returns the value (bin centre) of the k-th smallest sample of a [0, 1] histogram.
func percentileBin(hist []int, k int) float32 {
	sum := 0
	for b, h := range hist {
		sum += h
		if sum > k {
			return float32(b) / float32(len(hist)-1)
		}
	}
	return 1
}

// smooth3 is PIL's SMOOTH filter (3x3 kernel, centre 5, others 1, /13), edges replicated.
func smooth3(im datasets.Image) datasets.Image {
	out := datasets.NewImage(im.H, im.W, im.C)
	C, W := im.C, im.W
	for y := range im.H {
		ys := [3]int{max(y-1, 0), y, min(y+1, im.H-1)}
		for x := range W {
			xs := [3]int{max(x-1, 0), x, min(x+1, W-1)}
			for c := range C {
				var s float32
				for _, yy := range ys {
					row := im.Pix[yy*W*C:]
					s += row[xs[0]*C+c] + row[xs[1]*C+c] + row[xs[2]*C+c]
				}
				s += 4 * im.Pix[(y*W+x)*C+c]
				out.Pix[(y*W+x)*C+c] = s / 13
			}
		}
	}
	return out
}

// rotateBilinear rotates about the centre by angle radians, filling uncovered pixels with 0.
func rotateBilinear(im datasets.Image, angle float64) datasets.Image {
	out := datasets.NewImage(im.H, im.W, im.C)
	ca, sa := float32(math.Cos(angle)), float32(math.Sin(angle))
	cy, cx := float32(im.H-1)/2, float32(im.W-1)/2
	for y := range im.H {
		for x := range im.W {
			dx, dy := float32(x)-cx, float32(y)-cy
			sx, sy := ca*dx+sa*dy+cx, -sa*dx+ca*dy+cy
			x0, y0 := int(math.Floor(float64(sx))), int(math.Floor(float64(sy)))
			tx, ty := sx-float32(x0), sy-float32(y0)
			for c := range im.C {
				var v float32
				for _, k := range [4][3]float32{{0, 0, (1 - tx) * (1 - ty)}, {1, 0, tx * (1 - ty)}, {0, 1, (1 - tx) * ty}, {1, 1, tx * ty}} {
					xx, yy := x0+int(k[0]), y0+int(k[1])
					if xx >= 0 && yy >= 0 && xx < im.W && yy < im.H {
						v += k[2] * im.At(yy, xx, c)
					}
				}
				out.Set(y, x, c, v)
			}
		}
	}
	return out
}

// rgbToHSV converts RGB in [0, 1] to hue (fraction of a turn), saturation and value in [0, 1].
func rgbToHSV(r, g, b float32) (h, s, v float32) {
	mx, mn := max(r, g, b), min(r, g, b)
	v = mx
	d := mx - mn
	if mx <= 0 || d <= 0 {
		return 0, 0, v
	}
	s = d / mx
	switch mx {
	case r:
		h = (g - b) / d
	case g:
		h = 2 + (b-r)/d
	default:
		h = 4 + (r-g)/d
	}
	h /= 6
	if h < 0 {
		h++
	}
	return h, s, v
}

// hsvToRGB is the inverse of rgbToHSV.
func hsvToRGB(h, s, v float32) (float32, float32, float32) {
	if s <= 0 {
		return v, v, v
	}
	h6 := h * 6
	i := int(h6) % 6
	f := h6 - float32(int(h6))
	p, q, t := v*(1-s), v*(1-s*f), v*(1-s*(1-f))
	switch i {
	case 0:
		return v, t, p
	case 1:
		return q, v, p
	case 2:
		return p, v, t
	case 3:
		return p, q, v
	case 4:
		return t, p, v
	}
	return v, p, q
}
