package anomalysynth

import (
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/datasets/synth"
)

// normal returns a deterministic test image: a synthetic carpet sample.
func normal(t testing.TB, n int) datasets.Image {
	t.Helper()
	src, err := synth.NewSource("carpet", synth.Options{Size: n, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	s, err := src.Load(src.Item("train", datasets.GoodDefect, 0))
	if err != nil {
		t.Fatal(err)
	}
	return s.Image
}

func same(a, b datasets.Image) bool {
	return a.H == b.H && a.W == b.W && a.C == b.C && slices.Equal(a.Pix, b.Pix)
}

// outsideUnchanged reports whether every pixel outside the mask equals the input.
func outsideUnchanged(in datasets.Image, res Result) bool {
	for i, m := range res.Mask.Pix {
		if m != 0 {
			continue
		}
		for k := range in.C {
			if res.Image.Pix[i*in.C+k] != in.Pix[i*in.C+k] {
				return false
			}
		}
	}
	return true
}

func area(m datasets.Image) int {
	n := 0
	for _, v := range m.Pix {
		if v != 0 {
			if v != 1 {
				panic("mask value not 0/1")
			}
			n++
		}
	}
	return n
}

func TestPerlinStatistics(t *testing.T) {
	img := normal(t, 64)
	p := DefaultPerlin()
	const draws = 400
	anomalous := 0
	minB, maxB := 1.0, 0.0
	var cover float64
	for s := range uint64(draws) {
		res, err := p.Apply(img, s)
		if err != nil {
			t.Fatal(err)
		}
		if !outsideUnchanged(img, res) {
			t.Fatalf("seed %d: pixels outside the mask changed", s)
		}
		a := area(res.Mask)
		if !res.Anomalous {
			if a != 0 || !same(res.Image, img) {
				t.Fatalf("seed %d: a clean sample has mask area %d or a changed image", s, a)
			}
			continue
		}
		anomalous++
		if a == 0 {
			t.Fatalf("seed %d: anomalous with an empty mask", s)
		}
		if res.Beta < 0 || res.Beta >= 0.8 {
			t.Errorf("seed %d: beta %v outside [0, 0.8)", s, res.Beta)
		}
		minB, maxB = min(minB, res.Beta), max(maxB, res.Beta)
		cover += float64(a) / float64(64*64)
		// Inside the mask the image is a blend, and the texture makes most pixels differ.
		diff := 0
		for i, m := range res.Mask.Pix {
			if m == 1 && (res.Image.Pix[3*i] != img.Pix[3*i] || res.Image.Pix[3*i+1] != img.Pix[3*i+1]) {
				diff++
			}
		}
		if diff < a*9/10 {
			t.Errorf("seed %d: only %d of %d mask pixels changed", s, diff, a)
		}
	}
	frac := float64(anomalous) / draws
	if frac < 0.42 || frac > 0.58 {
		t.Errorf("anomalous fraction %.3f over %d draws, want about 0.5", frac, draws)
	}
	if minB > 0.05 || maxB < 0.75 {
		t.Errorf("beta range [%.3f, %.3f] does not span [0, 0.8)", minB, maxB)
	}
	mean := cover / float64(anomalous)
	if mean < 0.02 || mean > 0.4 {
		t.Errorf("mean anomalous mask coverage %.3f outside [0.02, 0.4]", mean)
	}
	t.Logf("anomalous %.3f, beta [%.3f, %.3f], mean coverage %.3f", frac, minB, maxB, mean)
}

func TestPerlinDeterminismAndOptions(t *testing.T) {
	img := normal(t, 48)
	p := DefaultPerlin()
	p.CleanProbability = 0
	a, _ := p.Apply(img, 3)
	b, _ := p.Apply(img, 3)
	c, _ := p.Apply(img, 4)
	if !same(a.Image, b.Image) || !same(a.Mask, b.Mask) {
		t.Error("same seed gave different results")
	}
	if same(a.Image, c.Image) {
		t.Error("seeds 3 and 4 gave the same image")
	}
	gray := toGray(img)
	g, err := p.Apply(gray, 3)
	if err != nil || g.Image.C != 1 || !outsideUnchanged(gray, g) {
		t.Errorf("grey image: C %d, err %v", g.Image.C, err)
	}
	for _, bad := range []Perlin{
		{MinScaleExp: 3, MaxScaleExp: 3, MaxBeta: 0.5},
		{MinScaleExp: 0, MaxScaleExp: 6, MaxBeta: 1.5},
		{MinScaleExp: 0, MaxScaleExp: 6, MaxBeta: 0.5, CleanProbability: 2},
	} {
		if _, err := bad.Apply(img, 0); err == nil {
			t.Errorf("Perlin %+v accepted", bad)
		}
	}
	if _, err := p.Apply(datasets.NewImage(8, 8, 2), 0); err == nil {
		t.Error("Perlin accepted a 2-channel image")
	}
}

// transitions counts horizontal 0/1 changes in a mask: finer noise makes more of them.
func transitions(m datasets.Image) int {
	n := 0
	for y := range m.H {
		for x := 1; x < m.W; x++ {
			if m.Pix[y*m.W+x] != m.Pix[y*m.W+x-1] {
				n++
			}
		}
	}
	return n
}

func TestPerlinScale(t *testing.T) {
	coarse, fine := DefaultPerlin(), DefaultPerlin()
	coarse.MinScaleExp, coarse.MaxScaleExp = 1, 2 // 2 periods per axis
	fine.MinScaleExp, fine.MaxScaleExp = 4, 5     // 16 periods per axis
	var tc, tf, ac, af int
	for s := range uint64(30) {
		mc, _ := coarse.Mask(128, 128, s)
		mf, _ := fine.Mask(128, 128, s)
		tc, tf = tc+transitions(mc), tf+transitions(mf)
		ac, af = ac+area(mc), af+area(mf)
	}
	if tf < 3*tc {
		t.Errorf("16-period masks have %d transitions, 2-period ones %d: scale has no effect", tf, tc)
	}
	if ac == 0 || af == 0 {
		t.Errorf("empty masks: coarse area %d, fine area %d", ac, af)
	}
	noise := synth.PerlinNoise(rand.New(rand.NewPCG(1, 2)), 64, 80, 4, 8, 0.3)
	var mean float64
	for _, v := range noise {
		if v < -1.01 || v > 1.01 {
			t.Fatalf("Perlin value %v outside [-1, 1]", v)
		}
		mean += float64(v) / float64(len(noise))
	}
	if math.Abs(mean) > 0.1 {
		t.Errorf("Perlin mean %.3f, want about 0", mean)
	}
}

// findBlock reports whether the h x w block of b at (ty, tx) occurs somewhere in a.
func findBlock(a, b datasets.Image, ty, tx, h, w int) bool {
	for sy := 0; sy+h <= a.H; sy++ {
	next:
		for sx := 0; sx+w <= a.W; sx++ {
			for y := range h {
				for x := range w {
					for k := range a.C {
						if a.At(sy+y, sx+x, k) != b.At(ty+y, tx+x, k) {
							continue next
						}
					}
				}
			}
			return true
		}
	}
	return false
}

func TestCutPastePatch(t *testing.T) {
	img := normal(t, 64)
	cp := DefaultCutPaste()
	noJitter := cp
	noJitter.Jitter = 0
	for s := range uint64(40) {
		res, err := cp.Patch(img, s)
		if err != nil {
			t.Fatal(err)
		}
		a := area(res.Mask)
		frac := float64(a) / (64 * 64)
		if frac < 0.015 || frac > 0.17 || !res.Anomalous {
			t.Errorf("seed %d: patch area fraction %.3f outside [0.02, 0.15] (with rounding)", s, frac)
		}
		// The mask is a filled rectangle.
		y0, x0, y1, x1 := 64, 64, -1, -1
		for i, m := range res.Mask.Pix {
			if m == 1 {
				y0, x0, y1, x1 = min(y0, i/64), min(x0, i%64), max(y1, i/64), max(x1, i%64)
			}
		}
		if (y1-y0+1)*(x1-x0+1) != a {
			t.Errorf("seed %d: mask is not a rectangle", s)
		}
		if !outsideUnchanged(img, res) {
			t.Errorf("seed %d: pixels outside the mask changed", s)
		}
		plain, _ := noJitter.Patch(img, s)
		if !findBlock(img, plain.Image, y0, x0, y1-y0+1, x1-x0+1) {
			t.Errorf("seed %d: without jitter the pasted block is not a block of the image", s)
		}
	}
	a, _ := cp.Patch(img, 5)
	b, _ := cp.Patch(img, 5)
	if !same(a.Image, b.Image) {
		t.Error("same seed gave different patches")
	}
}

func TestCutPasteScar(t *testing.T) {
	img := normal(t, 256)
	cp := DefaultCutPaste()
	for s := range uint64(30) {
		res, err := cp.Scar(img, s)
		if err != nil {
			t.Fatal(err)
		}
		a := area(res.Mask)
		// A rotated w x h rectangle with w in [2, 16], h in [10, 25] covers about w*h pixels.
		if a < 2*10/2 || a > 16*25*3/2 {
			t.Errorf("seed %d: scar area %d outside [10, 600]", s, a)
		}
		if !outsideUnchanged(img, res) {
			t.Errorf("seed %d: pixels outside the mask changed", s)
		}
	}
	if _, err := cp.Scar(datasets.NewImage(2, 2, 3), 0); err == nil {
		t.Error("Scar accepted a 2x2 image")
	}
}

func TestGaussianNoise(t *testing.T) {
	x := normal(t, 64)
	res, err := GaussianNoise(x, 0.015, datasets.Image{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	var s2 float64
	for i := range x.Pix {
		d := float64(res.Image.Pix[i] - x.Pix[i])
		s2 += d * d
	}
	sd := math.Sqrt(s2 / float64(len(x.Pix)))
	if math.Abs(sd-0.015) > 0.001 || area(res.Mask) != 64*64 || !res.Anomalous {
		t.Errorf("noise sd %.5f (want 0.015), mask area %d", sd, area(res.Mask))
	}
	region := datasets.NewImage(64, 64, 1)
	for i := range 100 {
		region.Pix[i*7] = 1
	}
	res, _ = GaussianNoise(x, 0.5, region, 1)
	if !same(res.Mask, region) || !outsideUnchanged(x, res) {
		t.Error("region-limited noise: mask is not the region or pixels outside changed")
	}
	if _, err := GaussianNoise(x, 0.1, datasets.NewImage(3, 3, 1), 1); err == nil {
		t.Error("a region of the wrong size was accepted")
	}
	f := GaussianNoiseFloats([]float32{1, 2, 3}, 0.1, 4)
	if g := GaussianNoiseFloats([]float32{1, 2, 3}, 0.1, 4); !slices.Equal(f, g) || f[0] == 1 {
		t.Error("GaussianNoiseFloats is not a deterministic noised copy")
	}
}

func TestAugmentations(t *testing.T) {
	img := normal(t, 32)
	for _, name := range Augmentations() {
		r := rand.New(rand.NewPCG(1, 1))
		out := Augment(img, name, r)
		if out.H != 32 || out.W != 32 || out.C != 3 {
			t.Errorf("%s: shape %dx%dx%d", name, out.H, out.W, out.C)
		}
		for _, v := range out.Pix {
			if v < 0 || v > 1 || math.IsNaN(float64(v)) {
				t.Fatalf("%s: value %v outside [0, 1]", name, v)
			}
		}
		if name != "solarize" && same(out, img) { // solarize is a no-op half the time
			t.Errorf("%s left the image unchanged", name)
		}
	}
	inv := Augment(Augment(img, "invert", nil), "invert", nil)
	for i := range img.Pix {
		if math.Abs(float64(inv.Pix[i]-img.Pix[i])) > 1e-6 {
			t.Fatal("invert twice is not the identity")
		}
	}
	r1, r2 := rand.New(rand.NewPCG(3, 3)), rand.New(rand.NewPCG(3, 3))
	if !same(RandAugment(img, r1, 3), RandAugment(img, r2, 3)) {
		t.Error("RandAugment is not deterministic")
	}
	for _, c := range [][3]float32{{0.2, 0.5, 0.9}, {1, 0, 0}, {0.3, 0.3, 0.3}, {0.9, 0.8, 0.1}} {
		h, s, v := rgbToHSV(c[0], c[1], c[2])
		r, g, b := hsvToRGB(h, s, v)
		if math.Abs(float64(r-c[0]))+math.Abs(float64(g-c[1]))+math.Abs(float64(b-c[2])) > 1e-5 {
			t.Errorf("HSV round trip of %v gave %v %v %v", c, r, g, b)
		}
	}
}

func TestTextureSources(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	tex, err := Procedural().Texture(r, 40, 56)
	if err != nil || tex.H != 40 || tex.W != 56 || tex.C != 3 {
		t.Fatalf("procedural texture %dx%dx%d, %v", tex.H, tex.W, tex.C, err)
	}
	dir := t.TempDir()
	if _, err := NewDTD(dir); err == nil {
		t.Error("an empty texture folder was accepted")
	}
	// A DTD-like tree: images/<category>/<name>.jpg, plus a PNG and a non-image.
	for i, name := range []string{"images/banded/a.jpg", "images/dotted/b.png", "images/dotted/c.jpg"} {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		g := image.NewRGBA(image.Rect(0, 0, 30+i*10, 20))
		for y := range 20 {
			for x := range 30 + i*10 {
				g.Set(x, y, color.RGBA{uint8(x * 6), uint8(y * 12), uint8(i * 80), 255})
			}
		}
		f, _ := os.Create(p)
		if strings.HasSuffix(p, ".png") {
			png.Encode(f, g)
		} else {
			jpeg.Encode(f, g, nil)
		}
		f.Close()
	}
	os.WriteFile(filepath.Join(dir, "images", "labels.txt"), []byte("x"), 0o644)
	d, err := NewDTD(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Files) != 3 {
		t.Errorf("found %d texture files, want 3", len(d.Files))
	}
	for range 5 {
		tex, err := d.Texture(r, 24, 24)
		if err != nil || tex.H != 24 || tex.W != 24 || tex.C != 3 {
			t.Fatalf("DTD texture %dx%dx%d, %v", tex.H, tex.W, tex.C, err)
		}
	}
	p := DefaultPerlin()
	p.Source, p.CleanProbability = d, 0
	if res, err := p.Apply(normal(t, 32), 1); err != nil || !res.Anomalous {
		t.Errorf("Perlin with a DTD source: %v, anomalous %v", err, res.Anomalous)
	}
	bad := filepath.Join(dir, "images", "dotted", "broken.jpg")
	os.WriteFile(bad, []byte("not a jpeg"), 0o644)
	d, _ = NewDTD(dir)
	d.Files = []string{bad}
	if _, err := d.Texture(r, 8, 8); err == nil || !strings.Contains(err.Error(), "broken.jpg") {
		t.Errorf("corrupt texture: error %v does not name the file", err)
	}
}

// BenchmarkPerlin measures DRAEM sample synthesis at 256x256 with procedural textures.
func BenchmarkPerlin(b *testing.B) {
	img := normal(b, 256)
	p := DefaultPerlin()
	p.CleanProbability = 0
	start := time.Now()
	n := 0
	for b.Loop() {
		if _, err := p.Apply(img, uint64(n)); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "samples/s")
}

// BenchmarkCutPaste measures the patch variant at 256x256.
func BenchmarkCutPaste(b *testing.B) {
	img := normal(b, 256)
	cp := DefaultCutPaste()
	start := time.Now()
	n := 0
	for b.Loop() {
		if _, err := cp.Patch(img, uint64(n)); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "samples/s")
}
