package datasets

import (
	"bytes"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hidden wraps an image so FromGoImage cannot see its concrete type and takes the generic path.
type hidden struct{ image.Image }

func TestFromGoImageFastPathsMatchGeneric(t *testing.T) {
	const w, h = 7, 5
	nrgba := image.NewNRGBA(image.Rect(0, 0, w, h))
	rgba := image.NewRGBA(image.Rect(0, 0, w, h))
	gray := image.NewGray(image.Rect(0, 0, w, h))
	gray16 := image.NewGray16(image.Rect(0, 0, w, h))
	nrgba64 := image.NewNRGBA64(image.Rect(0, 0, w, h))
	rgba64 := image.NewRGBA64(image.Rect(0, 0, w, h))
	cmyk := image.NewCMYK(image.Rect(0, 0, w, h))
	pal := image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{color.Black, color.NRGBA{200, 100, 50, 255}, color.NRGBA{10, 250, 90, 128}, color.White})
	ycc := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.NRGBA{uint8(30 * x), uint8(40 * y), uint8(255 - 20*x), uint8(255 - 30*((x+y)%3))}
			nrgba.SetNRGBA(x, y, c)
			rgba.Set(x, y, c)
			gray.SetGray(x, y, color.Gray{uint8(30*x + 7*y)})
			gray16.SetGray16(x, y, color.Gray16{uint16(9000*x + 1234*y)})
			nrgba64.SetNRGBA64(x, y, color.NRGBA64{uint16(9000 * x), uint16(11000 * y), 40000, uint16(65535 - 7000*y)})
			rgba64.Set(x, y, color.NRGBA64{uint16(9000 * x), uint16(11000 * y), 40000, uint16(65535 - 7000*y)})
			cmyk.SetCMYK(x, y, color.CMYK{uint8(30 * x), uint8(40 * y), 20, 10})
			pal.SetColorIndex(x, y, uint8((x+y)%4))
			ycc.Y[ycc.YOffset(x, y)] = uint8(30*x + 5*y)
			ycc.Cb[ycc.COffset(x, y)] = uint8(100 + 10*x)
			ycc.Cr[ycc.COffset(x, y)] = uint8(90 + 20*y)
		}
	}
	// Sub-images exercise non-zero bounds.
	sub := nrgba.SubImage(image.Rect(2, 1, 6, 4))
	subYCC := ycc.SubImage(image.Rect(1, 1, 6, 4))
	for _, tc := range []struct {
		name string
		g    image.Image
	}{
		{"NRGBA", nrgba}, {"RGBA", rgba}, {"Gray", gray}, {"Gray16", gray16}, {"NRGBA64", nrgba64},
		{"RGBA64", rgba64}, {"CMYK", cmyk}, {"Paletted", pal}, {"YCbCr", ycc}, {"SubNRGBA", sub}, {"SubYCbCr", subYCC},
	} {
		for _, ch := range []int{1, 3} {
			fast, err := FromGoImage(tc.g, ch)
			if err != nil {
				t.Fatal(err)
			}
			slow, err := FromGoImage(hidden{tc.g}, ch)
			if err != nil {
				t.Fatal(err)
			}
			b := tc.g.Bounds()
			if fast.H != b.Dy() || fast.W != b.Dx() || fast.C != ch {
				t.Fatalf("%s: got %dx%dx%d", tc.name, fast.H, fast.W, fast.C)
			}
			for i := range fast.Pix {
				if d := math.Abs(float64(fast.Pix[i] - slow.Pix[i])); d > 1.5/255 {
					t.Fatalf("%s/%dch: value %d fast %g generic %g", tc.name, ch, i, fast.Pix[i], slow.Pix[i])
				}
			}
		}
	}
}

func TestFromGoImageConversions(t *testing.T) {
	rgb := rgbPattern(4, 3)
	one, _ := FromGoImage(rgb, 1)
	three, _ := FromGoImage(rgb, 3)
	for y := 0; y < 3; y++ {
		for x := 0; x < 4; x++ {
			r, g, b := float64(16*x)/255, float64(16*y)/255, 128.0/255
			if got := three.At(y, x, 1); math.Abs(float64(got)-g) > 1e-6 {
				t.Fatalf("green at (%d,%d) = %g, want %g", y, x, got, g)
			}
			if got, want := float64(one.At(y, x, 0)), 0.299*r+0.587*g+0.114*b; math.Abs(got-want) > 1e-6 {
				t.Fatalf("luma at (%d,%d) = %g, want %g", y, x, got, want)
			}
		}
	}
	gr, _ := FromGoImage(grayPattern(3, 2), 3)
	for i := 0; i < 6; i++ {
		if gr.Pix[3*i] != gr.Pix[3*i+1] || gr.Pix[3*i] != gr.Pix[3*i+2] {
			t.Fatalf("grey to RGB did not replicate pixel %d: %v", i, gr.Pix[3*i:3*i+3])
		}
	}
	if _, err := FromGoImage(rgb, 2); err == nil {
		t.Error("2 channels: want error")
	}
}

// TestDecodeFormats round-trips images through every encoder and checks the decoded values.
func TestDecodeFormats(t *testing.T) {
	g16 := image.NewGray16(image.Rect(0, 0, 5, 4))
	for i := 0; i < 20; i++ {
		g16.SetGray16(i%5, i/5, color.Gray16{uint16(i * 3001)})
	}
	rgba := image.NewNRGBA(image.Rect(0, 0, 5, 4))
	for i := 0; i < 20; i++ {
		rgba.SetNRGBA(i%5, i/5, color.NRGBA{uint8(i * 12), 200, uint8(255 - i), uint8(i * 13)})
	}
	pal := image.NewPaletted(image.Rect(0, 0, 5, 4), color.Palette{color.Gray{0}, color.Gray{255}, color.RGBA{255, 0, 0, 255}})
	for i := 0; i < 20; i++ {
		pal.SetColorIndex(i%5, i/5, uint8(i%3))
	}
	tests := []struct {
		name, ext string
		g         image.Image
		tol       float64
	}{
		{"png-rgb", ".png", rgbPattern(5, 4), 1e-6},
		{"png-gray", ".png", grayPattern(5, 4), 1e-6},
		{"png-gray16", ".png", g16, 1e-6},
		{"png-rgba", ".png", rgba, 1e-6},
		{"png-paletted", ".png", pal, 1e-6},
		{"bmp-rgb", ".bmp", rgbPattern(5, 4), 1e-6},
		{"bmp-gray", ".bmp", grayPattern(5, 4), 1e-6},
		{"tiff-rgb", ".tif", rgbPattern(5, 4), 1e-6},
		{"tiff-gray16", ".tif", g16, 1e-6},
		{"tiff-rgba", ".tif", rgba, 1.5 / 255}, // TIFF stores it premultiplied
		{"jpeg-rgb", ".jpg", rgbPattern(16, 16), 0.1},
		{"jpeg-gray", ".jpg", grayPattern(16, 16), 0.03},
	}
	for _, tc := range tests {
		data := encode(t, tc.ext, tc.g)
		want, _ := FromGoImage(hidden{tc.g}, 3)
		for _, ch := range []int{3, 1} {
			got, err := DecodeBytes(data, ch, Limits{})
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if err := got.Validate(); err != nil || got.C != ch || got.H != want.H || got.W != want.W {
				t.Fatalf("%s: got %dx%dx%d (%v)", tc.name, got.H, got.W, got.C, err)
			}
			if ch == 1 {
				continue // luma checked in TestFromGoImageConversions
			}
			if tc.name == "tiff-rgba" {
				// Fully transparent pixels lose their colour in premultiplied storage.
				for i := 0; i < 20; i++ {
					if i*13 < 40 {
						copy(want.Pix[3*i:3*i+3], got.Pix[3*i:3*i+3])
					}
				}
			}
			var worst float64
			for i := range want.Pix {
				worst = max(worst, math.Abs(float64(got.Pix[i]-want.Pix[i])))
			}
			if worst > tc.tol {
				t.Errorf("%s: max difference %g > %g", tc.name, worst, tc.tol)
			}
		}
	}
}

func TestDecodeHostileFiles(t *testing.T) {
	dir := t.TempDir()
	good := encode(t, ".png", rgbPattern(16, 16))
	files := map[string][]byte{
		"truncated.png": good[:len(good)/2],
		"bomb.png":      pngHeaderOnly(100000, 100000),
		"text.png":      []byte("this is not an image at all\n"),
		"empty.png":     nil,
		"zero.png":      pngHeaderOnly(0, 5),
		"cut.jpg":       encode(t, ".jpg", rgbPattern(32, 32))[:300],
		"cut.bmp":       encode(t, ".bmp", rgbPattern(32, 32))[:200],
		"cut.tif":       encode(t, ".tif", rgbPattern(32, 32))[:200],
	}
	for name, data := range files {
		writeFile(t, filepath.Join(dir, name), data)
	}
	tests := []struct {
		file, wantIn string
	}{
		{"truncated.png", "truncated"},
		{"bomb.png", "exceeds the limit"},
		{"text.png", "not a readable image"},
		{"empty.png", "empty file (0 bytes)"}, // issue 15: not "unknown format"
		{"zero.png", "not a readable image"},
		{"cut.jpg", ""},
		{"cut.bmp", ""},
		{"cut.tif", ""},
		{"missing.png", "no such file"},
	}
	for _, tc := range tests {
		path := filepath.Join(dir, tc.file)
		for _, decode := range []func() error{
			func() error { _, err := DecodeFile(path, 3, Limits{}); return err },
			func() error { _, err := DecodeMaskFile(path, Limits{}); return err },
		} {
			err := decode()
			if err == nil {
				t.Errorf("%s: decoded without error", tc.file)
				continue
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("%s: error does not name the file: %v", tc.file, err)
			}
			if !strings.Contains(err.Error(), tc.wantIn) {
				t.Errorf("%s: error %q does not say %q", tc.file, err, tc.wantIn)
			}
		}
	}
	// DecodeConfigFile rejects the bomb from its header alone.
	if _, err := DecodeConfigFile(filepath.Join(dir, "bomb.png"), Limits{}); err == nil || !strings.Contains(err.Error(), "100000x100000") {
		t.Errorf("DecodeConfigFile(bomb) = %v, want a size error", err)
	}
}

func TestLimits(t *testing.T) {
	data := encode(t, ".png", rgbPattern(64, 40))
	tests := []struct {
		lim Limits
		ok  bool
	}{
		{Limits{}, true},
		{Limits{MaxSide: 64}, true},
		{Limits{MaxSide: 63}, false},
		{Limits{MaxPixels: 64 * 40}, true},
		{Limits{MaxPixels: 64*40 - 1}, false},
	}
	for _, tc := range tests {
		_, err := DecodeBytes(data, 3, tc.lim)
		if (err == nil) != tc.ok {
			t.Errorf("limits %+v: err = %v, want ok=%v", tc.lim, err, tc.ok)
		}
	}
}

func TestDecodeMaskBinarises(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.png")
	m := maskImage(6, 4, 1, 1, 3, 3, 255)
	m.SetGray(5, 0, color.Gray{1}) // VisA-style class index: still a defect
	writeImage(t, path, m)
	got, err := DecodeMaskFile(path, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for i, v := range got.Pix {
		if v != 0 && v != 1 {
			t.Fatalf("mask value %g at %d", v, i)
		}
		want += int(v)
	}
	if got.C != 1 || want != 5 {
		t.Errorf("mask has C=%d and %d defect pixels, want 1 and 5", got.C, want)
	}
	// RGB masks: any non-zero channel is a defect.
	rgb := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	rgb.SetNRGBA(1, 0, color.NRGBA{0, 0, 3, 255})
	rgb.SetNRGBA(0, 0, color.NRGBA{0, 0, 0, 255})
	writeImage(t, path, rgb)
	if got, err = DecodeMaskFile(path, Limits{}); err != nil || got.Pix[0] != 0 || got.Pix[1] != 1 {
		t.Errorf("RGB mask = %v, %v; want [0 1]", got.Pix, err)
	}
}

func TestWritePNGRoundTrip(t *testing.T) {
	dir := t.TempDir()
	im := NewImage(3, 4, 3)
	for i := range im.Pix {
		im.Pix[i] = float32(i%7) / 6
	}
	path := filepath.Join(dir, "sub", "x.png")
	if err := WritePNG(path, im); err != nil {
		t.Fatal(err)
	}
	got, err := DecodeFile(path, 3, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range im.Pix {
		if math.Abs(float64(got.Pix[i]-im.Pix[i])) > 0.5/255+1e-6 {
			t.Fatalf("value %d: wrote %g read %g", i, im.Pix[i], got.Pix[i])
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("WritePNG left temporary files: %v", entries)
	}
}

// FuzzDecode checks that no input makes the decoders panic, and that whatever decodes is a valid image
// with values in [0, 1].
func FuzzDecode(f *testing.F) {
	for _, ext := range []string{".png", ".jpg", ".bmp", ".tif"} {
		data := encode(f, ext, rgbPattern(8, 6))
		f.Add(data)
		f.Add(data[:len(data)*2/3])
	}
	f.Add(encode(f, ".png", grayPattern(5, 5)))
	f.Add(pngHeaderOnly(100000, 100000))
	f.Add([]byte("GIF89a not really"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := Limits{MaxSide: 2048, MaxPixels: 1 << 20}
		for _, ch := range []int{1, 3} {
			im, err := DecodeBytes(data, ch, lim)
			if err != nil {
				continue
			}
			if err := im.Validate(); err != nil {
				t.Fatal(err)
			}
			for _, v := range im.Pix {
				if !(v >= 0 && v <= 1) {
					t.Fatalf("decoded value %g outside [0,1]", v)
				}
			}
		}
		if g, err := decodeGo(bytes.NewReader(data), lim); err == nil {
			m := maskFromGoImage(g)
			if err := m.Validate(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestMaskFastPathsMatchGeneric checks every mask fast path against the generic per-pixel rule.
func TestMaskFastPathsMatchGeneric(t *testing.T) {
	const w, h = 6, 5
	gray := image.NewGray(image.Rect(0, 0, w, h))
	gray16 := image.NewGray16(image.Rect(0, 0, w, h))
	nrgba := image.NewNRGBA(image.Rect(0, 0, w, h))
	rgba := image.NewRGBA(image.Rect(0, 0, w, h))
	pal := image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{color.Black, color.White, color.Gray{1}})
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			on := (x*y+x)%3 == 0
			v := uint8(0)
			if on {
				v = uint8(1 + x)
			}
			gray.SetGray(x, y, color.Gray{v})
			gray16.SetGray16(x, y, color.Gray16{uint16(v)})
			nrgba.SetNRGBA(x, y, color.NRGBA{0, v, 0, 255})
			rgba.SetRGBA(x, y, color.RGBA{0, 0, v, 255})
			pal.SetColorIndex(x, y, uint8(x%3))
		}
	}
	for _, tc := range []struct {
		name string
		g    image.Image
	}{{"Gray", gray}, {"Gray16", gray16}, {"NRGBA", nrgba}, {"RGBA", rgba}, {"Paletted", pal}, {"SubGray", gray.SubImage(image.Rect(1, 1, 5, 4))}} {
		fast, slow := maskFromGoImage(tc.g), maskFromGoImage(hidden{tc.g})
		ones := 0
		for i := range fast.Pix {
			if fast.Pix[i] != slow.Pix[i] {
				t.Fatalf("%s: pixel %d fast %g generic %g", tc.name, i, fast.Pix[i], slow.Pix[i])
			}
			ones += int(fast.Pix[i])
		}
		if ones == 0 || ones == len(fast.Pix) {
			t.Errorf("%s: %d of %d pixels set; the test pattern should mix", tc.name, ones, len(fast.Pix))
		}
	}
}
