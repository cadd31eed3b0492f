package viz

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gonomaly/gonomaly/datasets"
)

// TestKSNormal: near 0 for standard normal samples, large for a uniform, a shifted or a scaled normal;
// errors on no values and non-finite ones.
func TestKSNormal(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	gen := func(f func() float64) []float64 {
		v := make([]float64, 4000)
		for i := range v {
			v[i] = f()
		}
		return v
	}
	normal, _ := KSNormal(gen(rng.NormFloat64))
	uniform, _ := KSNormal(gen(func() float64 { return 2*rng.Float64() - 1 }))
	shifted, _ := KSNormal(gen(func() float64 { return rng.NormFloat64() + 0.5 }))
	wide, _ := KSNormal(gen(func() float64 { return 3 * rng.NormFloat64() }))
	t.Logf("KS: normal %.4f, uniform %.4f, shifted %.4f, wide %.4f", normal, uniform, shifted, wide)
	if crit := 1.36 / math.Sqrt(4000); normal > crit {
		t.Errorf("KS of N(0,1) samples %.4f above the 5%% critical value %.4f", normal, crit)
	}
	// Population distances: uniform(-1, 1) against Φ is largest at x = ±1, 1 - Φ(1) = 0.159; a shift of
	// 0.5 at x = 0.25, Φ(0.25) - Φ(-0.25) = 0.197.
	if math.Abs(uniform-0.1587) > 0.03 || math.Abs(shifted-0.1974) > 0.03 || wide < 0.2 {
		t.Errorf("KS distances %.4f (uniform, want ~0.159), %.4f (shift 0.5, want ~0.197), %.4f (std 3, want > 0.2)", uniform, shifted, wide)
	}
	if _, err := KSNormal(nil); err == nil {
		t.Error("KSNormal of nothing: no error")
	}
	if _, err := KSNormal([]float64{0, math.NaN()}); err == nil || !strings.Contains(err.Error(), "value 1") {
		t.Errorf("KSNormal with NaN: %v", err)
	}
}

// TestLatentHistogram renders and refuses empty or non-finite values.
func TestLatentHistogram(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	v := make([]float64, 2000)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	c, err := LatentHistogram("", v)
	if err != nil {
		t.Fatal(err)
	}
	data, err := c.PNG()
	if err != nil {
		t.Fatal(err)
	}
	if ink := inkFraction(decodePNG(t, data)); ink < 0.05 {
		t.Errorf("histogram is almost blank (ink %.3f)", ink)
	}
	svg, err := c.SVG()
	if err != nil {
		t.Fatal(err)
	}
	if txt := svgTexts(t, svg); !strings.Contains(txt, "N(0, 1)") || !strings.Contains(txt, "KS") {
		t.Errorf("legend lacks the normal density or the KS distance: %q", txt)
	}
	if _, err := LatentHistogram("x", nil); err == nil {
		t.Error("empty latents: no error")
	}
	if _, err := LatentHistogram("x", []float64{1, math.Inf(1)}); err == nil {
		t.Error("infinite latent: no error")
	}
}

// TestSplitByMask splits map values by mask, with a stride and a missing mask, and names bad inputs.
func TestSplitByMask(t *testing.T) {
	m := datasets.Image{H: 2, W: 2, C: 1, Pix: []float32{1, 2, 3, 4}}
	mask := datasets.Image{H: 2, W: 2, C: 1, Pix: []float32{0, 1, 0, 1}}
	m2 := datasets.Image{H: 1, W: 2, C: 1, Pix: []float32{5, 6}}
	normal, defective, err := SplitByMask([]datasets.Image{m, m2}, []datasets.Image{mask, {}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{1, 3, 5, 6}; len(normal) != 4 || normal[0] != want[0] || normal[1] != want[1] || normal[2] != want[2] || normal[3] != want[3] {
		t.Errorf("normal %v, want %v", normal, want)
	}
	if len(defective) != 2 || defective[0] != 2 || defective[1] != 4 {
		t.Errorf("defective %v, want [2 4]", defective)
	}
	normal, defective, _ = SplitByMask([]datasets.Image{m, m2}, []datasets.Image{mask, {}}, 2)
	if len(normal)+len(defective) != 3 || len(defective) != 0 { // pixels 0, 2 of m and 0 of m2
		t.Errorf("stride 2: normal %v defective %v", normal, defective)
	}
	if _, _, err := SplitByMask([]datasets.Image{m}, []datasets.Image{m2}, 1); err == nil || !strings.Contains(err.Error(), "map 0") {
		t.Errorf("size mismatch: %v", err)
	}
	if _, _, err := SplitByMask([]datasets.Image{m}, nil, 1); err == nil {
		t.Error("missing masks: no error")
	}
	c, err := PatchNLLHistogram([]datasets.Image{m, m2}, []datasets.Image{mask, {}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PNG(); err != nil {
		t.Fatal(err)
	}
}

// TestTapMaps: the drawing's size follows rows and columns; mismatched inputs are clear errors.
func TestTapMaps(t *testing.T) {
	img := datasets.NewImage(32, 32, 3)
	mask := datasets.NewImage(32, 32, 1)
	mask.Pix[100] = 1
	tap := func(s int) datasets.Image {
		m := datasets.NewImage(s, s, 1)
		for i := range m.Pix {
			m.Pix[i] = float32(i)
		}
		return m
	}
	final := tap(32)
	row := TapRow{Image: img, Mask: mask, Taps: []datasets.Image{tap(8), tap(4)}, Final: final}
	d, err := TapMaps([]string{"layer1", "layer2"}, 64, row, row)
	if err != nil {
		t.Fatal(err)
	}
	data, err := d.PNG()
	if err != nil {
		t.Fatal(err)
	}
	b := decodePNG(t, data).Bounds()
	wantW := 2*gridMargin + 5*64 + 4*gridGap
	wantH := gridMargin + gridHeader + 2*(64+gridGap) + gridMargin - gridGap
	if math.Abs(float64(b.Dx()-wantW)) > 2 || math.Abs(float64(b.Dy()-wantH)) > 2 {
		t.Errorf("drawing is %dx%d, want %dx%d (5 columns, 2 rows of 64 px)", b.Dx(), b.Dy(), wantW, wantH)
	}
	svg, _ := d.SVG()
	if txt := svgTexts(t, svg); !strings.Contains(txt, "layer2") || !strings.Contains(txt, "anomaly map") {
		t.Errorf("headers missing: %q", txt)
	}
	if _, err := TapMaps([]string{"one"}, 64, row); err == nil || !strings.Contains(err.Error(), "1 tap names for 2 taps") {
		t.Errorf("name count mismatch: %v", err)
	}
	short := row
	short.Taps = short.Taps[:1]
	if _, err := TapMaps(nil, 64, row, short); err == nil || !strings.Contains(err.Error(), "row 1") {
		t.Errorf("tap count mismatch: %v", err)
	}
	bad := row
	bad.Taps = []datasets.Image{tap(8), {H: 2, W: 2, C: 1, Pix: []float32{0, float32(math.NaN()), 1, 2}}}
	if _, err := TapMaps(nil, 64, bad); err == nil || !strings.Contains(err.Error(), "tap 1") {
		t.Errorf("NaN tap map: %v", err)
	}
	wrongMask := row
	wrongMask.Mask = datasets.NewImage(16, 16, 1)
	if _, err := TapMaps(nil, 64, wrongMask); err == nil || !strings.Contains(err.Error(), "mask") {
		t.Errorf("mask size mismatch: %v", err)
	}
}

// TestFlowSteps: one panel per step, laid out in rows of cols; a bad step is named.
func TestFlowSteps(t *testing.T) {
	g, err := GridFunc(-3, 3, -3, 3, 20, 20, func(x, y float64) float64 { return -(x*x + y*y) / 2 })
	if err != nil {
		t.Fatal(err)
	}
	pts := PointGroup{Name: "samples", X: []float64{0, 1, -1}, Y: []float64{0, 1, 0.5}}
	steps := []FlowStep{{Title: "data", Density: g, Points: []PointGroup{pts}}, {Title: "after coupling 1", Density: g},
		{Title: "latent", Points: []PointGroup{pts}}}
	d, err := FlowSteps(2, steps...)
	if err != nil {
		t.Fatal(err)
	}
	data, err := d.PNG()
	if err != nil {
		t.Fatal(err)
	}
	b := decodePNG(t, data).Bounds()
	if b.Dx() < int(1.9*float64(b.Dy())*0.5) || b.Dy() <= 0 {
		t.Errorf("3 panels in rows of 2: %dx%d", b.Dx(), b.Dy())
	}
	one, _ := FlowSteps(3, steps...)
	data1, _ := one.PNG()
	b1 := decodePNG(t, data1).Bounds()
	if math.Abs(float64(b1.Dx()-b.Dx()*3/2)) > 1 || math.Abs(float64(b1.Dy()-b.Dy()/2)) > 1 {
		t.Errorf("one row of 3: %dx%d; two rows of 2: %dx%d", b1.Dx(), b1.Dy(), b.Dx(), b.Dy())
	}
	bad := append([]FlowStep(nil), steps...)
	bad[1] = FlowStep{Title: "broken", Points: []PointGroup{{X: []float64{math.NaN()}, Y: []float64{0}}}}
	if _, err := FlowSteps(2, bad...); err == nil || !strings.Contains(err.Error(), "flow step 1 (broken)") {
		t.Errorf("bad step: %v", err)
	}
	if _, err := FlowSteps(2); err == nil {
		t.Error("no steps: no error")
	}
	if _, err := Panels(2, 0, 0, nil); err == nil {
		t.Error("nil panel: no error")
	}
}
