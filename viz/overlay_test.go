package viz

import (
	"image"
	"image/color"
	"math"
	"strings"
	"testing"

	"github.com/gonomaly/gonomaly/datasets"
)

// scene returns a 40x50 grey-gradient RGB image, a map that is 1 inside a disc and 0 outside, and the
// disc's mask.
func scene() (img, amap, mask datasets.Image) {
	h, w := 40, 50
	img, amap, mask = datasets.NewImage(h, w, 3), datasets.NewImage(h, w, 1), datasets.NewImage(h, w, 1)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := float32(0.2 + 0.6*float64(x)/float64(w))
			img.Set(y, x, 0, v)
			img.Set(y, x, 1, v)
			img.Set(y, x, 2, v)
			if math.Hypot(float64(y-20), float64(x-25)) < 9 {
				amap.Set(y, x, 0, 1)
				mask.Set(y, x, 0, 1)
			}
		}
	}
	return img, amap, mask
}

func TestOverlayPixels(t *testing.T) {
	img, amap, mask := scene()
	r, err := Overlay(img, amap).Colormap(Inferno).Alpha(0.6).AlphaByValue(true).Mask(mask).Done()
	if err != nil {
		t.Fatal(err)
	}
	data, err := r.PNG()
	if err != nil {
		t.Fatal(err)
	}
	got := decodePNG(t, data)
	if b := got.Bounds(); b.Dx() != 50 || b.Dy() != 40 {
		t.Fatalf("overlay is %dx%d, want 50x40 (pixel exact)", b.Dx(), b.Dy())
	}
	plain, _ := ToImage(img)
	contour, _ := ContourPixels(mask)
	hot := Inferno.At(1)
	nContour := 0
	for y := 0; y < 40; y++ {
		for x := 0; x < 50; x++ {
			i := y*50 + x
			px := got.At(x, y)
			switch {
			case contour[i]:
				nContour++
				if !near(px, DefaultContourColor, 0) {
					t.Fatalf("contour pixel (%d,%d) is %v, want %v", x, y, px, DefaultContourColor)
				}
			case amap.Pix[i] == 1:
				// High map: blended 60% towards the hottest colour, so it differs from the image.
				if near(px, plain.At(x, y), 10) {
					t.Fatalf("pixel (%d,%d) with high map %v equals the image %v", x, y, px, plain.At(x, y))
				}
				want := blend(color.RGBAModel.Convert(plain.At(x, y)).(color.RGBA), hot, 0.6)
				if !near(px, want, 1) {
					t.Fatalf("pixel (%d,%d) = %v, want %v", x, y, px, want)
				}
			default:
				// Zero map with alpha by value: the image shows through unchanged.
				if !near(px, plain.At(x, y), 0) {
					t.Fatalf("pixel (%d,%d) with zero map is %v, want the image %v", x, y, px, plain.At(x, y))
				}
			}
		}
	}
	if nContour < 30 {
		t.Errorf("only %d contour pixels around a disc of radius 9", nContour)
	}
	// Every contour pixel is in the mask with an unset 4-neighbour, and every such pixel is contour.
	for y := 0; y < 40; y++ {
		for x := 0; x < 50; x++ {
			in := func(yy, xx int) bool { return mask.At(yy, xx, 0) == 1 }
			boundary := in(y, x) && (!in(y-1, x) || !in(y+1, x) || !in(y, x-1) || !in(y, x+1))
			if boundary != contour[y*50+x] {
				t.Fatalf("contour at (%d,%d) = %v, boundary = %v", x, y, contour[y*50+x], boundary)
			}
		}
	}
	svg, err := r.SVG()
	if err != nil {
		t.Fatal(err)
	}
	svgTexts(t, svg)
	if !strings.Contains(string(svg), "data:image/png;base64,") {
		t.Error("raster SVG does not embed the PNG")
	}
	big := r.Scaled(3)
	if b := big.Image.Bounds(); b.Dx() != 150 || b.Dy() != 120 || big.Image.At(3*25+1, 3*20+2) != got.At(25, 20) {
		t.Errorf("Scaled(3) is %v and does not repeat pixels", b)
	}
}

func TestOverlayUniformAlphaAndRange(t *testing.T) {
	img, amap, _ := scene()
	// With range [0, 2] a map value of 1 is the colormap's middle.
	r, err := Overlay(img, amap).Colormap(Viridis).Alpha(1).Range(0, 2).Done()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.Image.At(25, 20), Viridis.At(0.5); !near(got, want, 0) {
		t.Errorf("alpha 1, map 1 of [0,2]: %v, want %v", got, want)
	}
	if got, want := r.Image.At(0, 0), Viridis.At(0); !near(got, want, 0) {
		t.Errorf("alpha 1, map 0: %v, want %v", got, want)
	}
}

func TestOverlayBadInput(t *testing.T) {
	img, amap, mask := scene()
	small := datasets.NewImage(10, 10, 1)
	tests := []struct {
		name string
		b    *OverlayBuilder
		want string
	}{
		{"map size", Overlay(img, small), "anomaly map is 10x10 but image is 40x50"},
		{"mask size", Overlay(img, amap).Mask(small), "mask is 10x10"},
		{"map channels", Overlay(img, img), "3 channels, want 1"},
		{"alpha", Overlay(img, amap).Alpha(1.5), "alpha"},
		{"range", Overlay(img, amap).Range(2, 1), "range"},
		{"pix length", Overlay(datasets.Image{H: 4, W: 4, C: 3, Pix: make([]float32, 5)}, amap), "has 5 values"},
		{"empty image", Overlay(datasets.Image{}, amap), "invalid size"},
		{"mask channels", Overlay(img, amap).Mask(img), "mask has 3 channels"},
	}
	_ = mask
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.b.Done()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want error containing %q", err, tc.want)
			}
		})
	}
}

func TestToImage(t *testing.T) {
	g := datasets.Image{H: 1, W: 3, C: 1, Pix: []float32{-1, 0.5, float32(math.NaN())}}
	im, err := ToImage(g)
	if err != nil {
		t.Fatal(err)
	}
	gray := im.(*image.Gray)
	if want := []uint8{0, 128, 0}; string(gray.Pix) != string(want) {
		t.Errorf("gray pixels %v, want %v (clamped, NaN as 0)", gray.Pix, want)
	}
	c := datasets.Image{H: 1, W: 1, C: 3, Pix: []float32{1, 0, 2}}
	im, _ = ToImage(c)
	if got := im.At(0, 0); !near(got, color.RGBA{255, 0, 255, 255}, 0) {
		t.Errorf("RGB pixel %v", got)
	}
	if _, err := ToImage(datasets.Image{H: 1, W: 1, C: 2, Pix: []float32{0, 0}}); err == nil {
		t.Error("two-channel image accepted")
	}
	th, err := Threshold(datasets.Image{H: 1, W: 3, C: 1, Pix: []float32{0.2, 0.5, 0.9}}, 0.5)
	if err != nil || th.Pix[0] != 0 || th.Pix[1] != 1 || th.Pix[2] != 1 {
		t.Errorf("Threshold = %v, %v", th.Pix, err)
	}
}

func TestColormaps(t *testing.T) {
	ends := []struct {
		m        Colormap
		lo, hi   color.RGBA
		monotone bool // relative luminance rises along the map
	}{
		{Viridis, hex(0x440154), hex(0xFDE725), true},
		{Inferno, hex(0x000004), hex(0xFCFFA4), true},
		{Turbo, hex(0x30123B), hex(0x7A0403), false},
		{Gray, hex(0), hex(0xFFFFFF), true},
	}
	for _, tc := range ends {
		t.Run(tc.m.Name(), func(t *testing.T) {
			if tc.m.At(0) != tc.lo || tc.m.At(1) != tc.hi || tc.m.At(-3) != tc.lo || tc.m.At(7) != tc.hi || tc.m.At(math.NaN()) != tc.lo {
				t.Errorf("ends/clamping wrong: %v %v", tc.m.At(0), tc.m.At(1))
			}
			if !tc.monotone {
				return
			}
			prev := -1.0
			for i := 0; i <= 255; i++ {
				r, g, b := rgb(tc.m.At(float64(i) / 255))
				l := 0.2126*float64(r) + 0.7152*float64(g) + 0.0722*float64(b)
				if l < prev-0.5 {
					t.Fatalf("luminance falls at %d/255: %.1f < %.1f", i, l, prev)
				}
				prev = l
			}
		})
	}
	if _, err := NewColormap("one", hex(0)); err == nil {
		t.Error("one-stop colormap accepted")
	}
	two, err := NewColormap("red-blue", hex(0xFF0000), hex(0x0000FF))
	if err != nil || two.At(0.5) != (color.RGBA{R: 128, B: 128, A: 255}) {
		t.Errorf("two-stop colormap middle %v, %v", two.At(0.5), err)
	}
	if n := len(Viridis.Palette(256).Colors()); n != 256 {
		t.Errorf("palette has %d colours", n)
	}
}

func TestContourBand(t *testing.T) {
	// A 7x7 square in a 11x11 mask: width 1 is its 24-pixel ring, width 2 adds the 16-pixel ring
	// inside, width 4 is the whole square; pixels outside stay clear.
	mask := datasets.NewImage(11, 11, 1)
	for y := 2; y < 9; y++ {
		for x := 2; x < 9; x++ {
			mask.Set(y, x, 0, 1)
		}
	}
	for _, tc := range []struct{ width, want int }{{1, 24}, {2, 40}, {3, 48}, {4, 49}, {9, 49}} {
		band, err := ContourBand(mask, tc.width)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for i, on := range band {
			if on {
				n++
				if mask.Pix[i] != 1 {
					t.Fatalf("width %d: contour pixel %d outside the mask", tc.width, i)
				}
			}
		}
		if n != tc.want {
			t.Errorf("width %d: %d contour pixels, want %d", tc.width, n, tc.want)
		}
	}
	// A mask touching the image border has no contour along the border.
	full := datasets.NewImage(4, 4, 1)
	for i := range full.Pix {
		full.Pix[i] = 1
	}
	band, _ := ContourBand(full, 1)
	for i, on := range band {
		if on {
			t.Fatalf("full mask: pixel %d drawn as contour", i)
		}
	}
	if _, err := ContourBand(mask, 0); err == nil {
		t.Error("width 0 accepted")
	}
	img, amap, _ := scene()
	if _, err := Overlay(img, amap).Mask(mask).ContourWidth(2).Done(); err == nil {
		t.Error("11x11 mask on a 40x50 image accepted")
	}
}
