package datasets

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

// goldenPattern rebuilds the input of testdata/gen_golden.py.
func goldenPattern(h, w int) Image {
	im := NewImage(h, w, 1)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			im.Set(y, x, 0, float32((y*7919+x*104729)%257)/256)
		}
	}
	return im
}

func TestResizeMatchesPIL(t *testing.T) {
	data, err := os.ReadFile("testdata/resize_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		SrcH  int `json:"src_h"`
		SrcW  int `json:"src_w"`
		Cases []struct {
			H, W              int
			Bilinear, Nearest []float32
		}
	}
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	src := goldenPattern(g.SrcH, g.SrcW)
	if len(g.Cases) == 0 {
		t.Fatal("no golden cases")
	}
	for _, c := range g.Cases {
		for _, kind := range []struct {
			name string
			got  Image
			want []float32
		}{
			{"bilinear", Resize(src, c.H, c.W), c.Bilinear},
			{"nearest", ResizeNearest(src, c.H, c.W), c.Nearest},
		} {
			if kind.got.H != c.H || kind.got.W != c.W || len(kind.got.Pix) != len(kind.want) {
				t.Fatalf("%s %dx%d: got %dx%d with %d values, want %d", kind.name, c.H, c.W, kind.got.H, kind.got.W, len(kind.got.Pix), len(kind.want))
			}
			var worst float64
			for i, v := range kind.want {
				worst = max(worst, math.Abs(float64(kind.got.Pix[i]-v)))
			}
			if worst > 2e-5 {
				t.Errorf("%s to %dx%d: max abs difference from PIL %g", kind.name, c.H, c.W, worst)
			}
		}
	}
}

func TestResizeProperties(t *testing.T) {
	// A constant image stays constant at any size and channel count.
	c := NewImage(17, 9, 3)
	for i := range c.Pix {
		c.Pix[i] = []float32{0.2, 0.5, 0.9}[i%3]
	}
	for _, sz := range [][2]int{{4, 4}, {17, 30}, {50, 3}, {1, 1}} {
		r := Resize(c, sz[0], sz[1])
		for i, v := range r.Pix {
			if want := []float32{0.2, 0.5, 0.9}[i%3]; math.Abs(float64(v-want)) > 1e-6 {
				t.Fatalf("constant image resized to %v: pixel %d = %g, want %g", sz, i, v, want)
			}
		}
	}
	// Antialiasing: a one-pixel checkerboard shrunk by 4 averages to 0.5 (plain bilinear sampling
	// would alias to 0 or 1).
	cb := NewImage(64, 64, 1)
	for y := 0; y < 64; y++ {
		for x := 0; x < 64; x++ {
			cb.Set(y, x, 0, float32((x+y)%2))
		}
	}
	r := Resize(cb, 16, 16)
	for y := 2; y < 14; y++ {
		for x := 2; x < 14; x++ {
			if v := r.At(y, x, 0); math.Abs(float64(v)-0.5) > 0.02 {
				t.Fatalf("checkerboard shrunk: pixel (%d,%d) = %g, want ~0.5", y, x, v)
			}
		}
	}
	// Same size returns an independent copy.
	cp := Resize(cb, 64, 64)
	cp.Pix[0] = 7
	if cb.Pix[0] == 7 {
		t.Fatal("Resize to the same size aliased its input")
	}
}

func TestResizeNearestKeepsMaskBinary(t *testing.T) {
	m := NewImage(30, 40, 1)
	for y := 10; y < 20; y++ {
		for x := 5; x < 25; x++ {
			m.Set(y, x, 0, 1)
		}
	}
	for _, sz := range [][2]int{{14, 18}, {64, 100}} {
		r := ResizeNearest(m, sz[0], sz[1])
		ones := 0
		for _, v := range r.Pix {
			if v != 0 && v != 1 {
				t.Fatalf("nearest resize produced %g", v)
			}
			if v == 1 {
				ones++
			}
		}
		// The defect keeps roughly its area fraction (200/1200 = 1/6).
		frac := float64(ones) / float64(len(r.Pix))
		if math.Abs(frac-1.0/6) > 0.06 {
			t.Errorf("resize to %v: defect fraction %g, want ~0.167", sz, frac)
		}
	}
}

func TestCenterCrop(t *testing.T) {
	tests := []struct {
		h, w, ch, cw int
		top, left    int
		wantErr      bool
	}{
		{256, 256, 224, 224, 16, 16, false},
		{10, 9, 4, 4, 3, 2, false},  // (10-4)/2 = 3, (9-4)/2 = 2.5 rounds to even 2
		{11, 11, 4, 4, 4, 4, false}, // 3.5 rounds to even 4
		{5, 5, 6, 5, 0, 0, true},
	}
	for _, tc := range tests {
		im := NewImage(tc.h, tc.w, 2)
		for y := 0; y < tc.h; y++ {
			for x := 0; x < tc.w; x++ {
				im.Set(y, x, 0, float32(y))
				im.Set(y, x, 1, float32(x))
			}
		}
		got, err := CenterCrop(im, tc.ch, tc.cw)
		if tc.wantErr {
			if err == nil {
				t.Errorf("crop %dx%d of %dx%d: want error", tc.ch, tc.cw, tc.h, tc.w)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if got.H != tc.ch || got.W != tc.cw || got.At(0, 0, 0) != float32(tc.top) || got.At(0, 0, 1) != float32(tc.left) {
			t.Errorf("crop %dx%d of %dx%d: got %dx%d at (%g,%g), want at (%d,%d)", tc.ch, tc.cw, tc.h, tc.w, got.H, got.W, got.At(0, 0, 0), got.At(0, 0, 1), tc.top, tc.left)
		}
		if got.At(tc.ch-1, tc.cw-1, 0) != float32(tc.top+tc.ch-1) {
			t.Errorf("crop bottom row wrong")
		}
	}
}

func TestNormalize(t *testing.T) {
	im := NewImage(1, 2, 3)
	copy(im.Pix, []float32{0.485, 0.456, 0.406, 0.714, 0.68, 0.631})
	n, err := Normalize(im, ImageNetMean, ImageNetStd)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []float32{0, 0, 0, 1, 1, 1} {
		if math.Abs(float64(n.Pix[i]-want)) > 1e-5 {
			t.Errorf("value %d = %g, want %g", i, n.Pix[i], want)
		}
	}
	if _, err := Normalize(im, []float32{0, 0}, []float32{1, 1}); err == nil {
		t.Error("two means for three channels: want error")
	}
	if _, err := Normalize(im, []float32{0}, []float32{0}); err == nil {
		t.Error("zero std: want error")
	}
}

func TestBinarize(t *testing.T) {
	im := NewImage(1, 3, 3)
	copy(im.Pix, []float32{0, 0, 0, 0, 0.01, 0, 1, 1, 1})
	b := Binarize(im)
	for i, want := range []float32{0, 1, 1} {
		if b.Pix[i] != want {
			t.Errorf("pixel %d = %g, want %g", i, b.Pix[i], want)
		}
	}
}

// TestResizeChannelsIndependent checks the specialised 3-channel and generic paths against the
// one-channel path that the PIL golden file covers.
func TestResizeChannelsIndependent(t *testing.T) {
	for _, c := range []int{2, 3, 4} {
		im := NewImage(23, 31, c)
		planes := make([]Image, c)
		for ch := range planes {
			planes[ch] = NewImage(23, 31, 1)
		}
		for i := 0; i < 23*31; i++ {
			for ch := 0; ch < c; ch++ {
				v := float32((i*(ch+3)*7919)%263) / 263
				im.Pix[i*c+ch] = v
				planes[ch].Pix[i] = v
			}
		}
		for _, sz := range [][2]int{{8, 11}, {40, 50}, {23, 9}} {
			got := Resize(im, sz[0], sz[1])
			for ch := 0; ch < c; ch++ {
				want := Resize(planes[ch], sz[0], sz[1])
				for i, v := range want.Pix {
					if math.Abs(float64(got.Pix[i*c+ch]-v)) > 1e-6 {
						t.Fatalf("C=%d to %v: channel %d pixel %d = %g, want %g", c, sz, ch, i, got.Pix[i*c+ch], v)
					}
				}
			}
		}
	}
}

// TestResizeGoMatchesResize checks the fused convert-and-resize against conversion then Resize.
func TestResizeGoMatchesResize(t *testing.T) {
	g := rgbPattern(37, 23)
	for _, ch := range []int{1, 3} {
		full, _ := FromGoImage(g, ch)
		for _, sz := range [][2]int{{8, 11}, {23, 10}, {40, 37}, {23, 37}} {
			got, err := ResizeGo(g, ch, sz[0], sz[1])
			if err != nil {
				t.Fatal(err)
			}
			want := Resize(full, sz[0], sz[1])
			if got.H != want.H || got.W != want.W || got.C != ch {
				t.Fatalf("ResizeGo to %v: got %dx%dx%d", sz, got.H, got.W, got.C)
			}
			for i := range want.Pix {
				if math.Abs(float64(got.Pix[i]-want.Pix[i])) > 1e-6 {
					t.Fatalf("ResizeGo %dch to %v: value %d = %g, want %g", ch, sz, i, got.Pix[i], want.Pix[i])
				}
			}
		}
	}
}
