package viz

import (
	"bytes"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gonomaly/gonomaly/datasets"
)

func TestScoreHistogram(t *testing.T) {
	var normal, anomalous []float64
	for i := 0; i < 200; i++ {
		normal = append(normal, math.Sin(float64(i))*0.5)
	}
	for i := 0; i < 40; i++ {
		anomalous = append(anomalous, 2+math.Cos(float64(i))*0.5)
	}
	c, err := ScoreHistogram(normal, anomalous, 1.25)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := c.PNG()
	img := decodePNG(t, data)
	// Bars are translucent fills of the two series colours over white.
	for i := range 2 {
		col := SeriesColors[i]
		fill := blend(color.RGBA{255, 255, 255, 255}, col, 110.0/255)
		if n := countNear(img, fill, 6); n < 2000 {
			t.Errorf("bars of group %d: %d fill pixels near %v, want >= 2000", i, n, fill)
		}
	}
	// The threshold line adds dark pixels over the same chart drawn without it (axes and text are dark
	// in both).
	plain, err := ScoreHistogram(normal, anomalous, math.NaN())
	if err != nil {
		t.Fatal(err)
	}
	plainData, _ := plain.PNG()
	dark := color.RGBA{20, 20, 20, 255}
	with, without := countNear(img, dark, 25), countNear(decodePNG(t, plainData), dark, 25)
	if with-without < 150 {
		t.Errorf("threshold line adds %d dark pixels (%d vs %d), want >= 150", with-without, with, without)
	}
	svg, _ := c.SVG()
	texts := svgTexts(t, svg)
	for _, w := range []string{"normal (n=200)", "anomalous (n=40)", "threshold 1.25", "anomaly score"} {
		if !strings.Contains(texts, w) {
			t.Errorf("SVG lacks %q", w)
		}
	}
	// NaN threshold: no line, no legend entry.
	c, err = ScoreHistogram(normal, nil, math.NaN())
	if err != nil {
		t.Fatal(err)
	}
	svg, _ = c.SVG()
	if texts := svgTexts(t, svg); strings.Contains(texts, "threshold") || !strings.Contains(texts, "anomalous (none)") {
		t.Errorf("NaN threshold / empty group legend wrong:\n%s", texts)
	}
}

func TestHistogramBadInput(t *testing.T) {
	for name, f := range map[string]func() error{
		"all empty":  func() error { _, err := ScoreHistogram(nil, nil, 0); return err },
		"NaN score":  func() error { _, err := ScoreHistogram([]float64{1, math.NaN()}, nil, 0); return err },
		"inf thresh": func() error { _, err := ScoreHistogram([]float64{1}, nil, math.Inf(1)); return err },
		"no groups":  func() error { _, err := LogLikelihoodHistogram(); return err },
		"inf loglik": func() error { _, err := LogLikelihoodHistogram(Group{Values: []float64{math.Inf(-1)}}); return err },
		"grid 1x1": func() error {
			_, err := GridFunc(0, 1, 0, 1, 1, 1, func(x, y float64) float64 { return 0 })
			return err
		},
		"grid empty": func() error {
			_, err := GridFunc(1, 1, 0, 1, 4, 4, func(x, y float64) float64 { return 0 })
			return err
		},
		"no latent":    func() error { _, err := LatentDensity(nil); return err },
		"latent sizes": func() error { _, err := LatentDensity(nil, PointGroup{X: []float64{1}, Y: nil}); return err },
		"latent NaN grid": func() error {
			g, _ := GridFunc(0, 1, 0, 1, 3, 3, func(x, y float64) float64 { return math.NaN() })
			_, err := LatentDensity(g)
			return err
		},
	} {
		if err := f(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// A single repeated value still draws (the range is widened, not divided by zero).
	if _, err := Histograms("t", "x", Group{Name: "flat", Values: []float64{3, 3, 3}}); err != nil {
		t.Errorf("flat values: %v", err)
	}
}

func TestLatentDensity(t *testing.T) {
	g, err := GridFunc(-3, 3, -3, 3, 60, 60, func(x, y float64) float64 { return -(x*x + y*y) / 2 })
	if err != nil {
		t.Fatal(err)
	}
	c, err := LatentDensity(g,
		PointGroup{Name: "normal", X: []float64{0, 0.5, -0.5}, Y: []float64{0, 0.2, -0.3}},
		PointGroup{Name: "anomalous", X: []float64{2, 2.5}, Y: []float64{2, -2}})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := c.PNG()
	img := decodePNG(t, data)
	// The density peak is the colormap's top (yellow); the corners its bottom (dark violet).
	if n := countNear(img, Viridis.At(1), 12); n < 200 {
		t.Errorf("peak colour: %d pixels, want >= 200", n)
	}
	if n := countNear(img, Viridis.At(0), 12); n < 200 {
		t.Errorf("low-density colour: %d pixels, want >= 200", n)
	}
	if n := countNear(img, SeriesColors[1], 12); n < 20 {
		t.Errorf("anomalous points: %d pixels, want >= 20", n)
	}
	svg, _ := c.SVG()
	texts := svgTexts(t, svg)
	if !strings.Contains(texts, "anomalous (n=2)") || !strings.Contains(texts, "normal (n=3)") {
		t.Errorf("legend wrong:\n%s", texts)
	}
}

func TestLatentDensityInfiniteAndFlat(t *testing.T) {
	// -Inf far out (a log-density of zero) must not swallow the colour range.
	g, _ := GridFunc(-1, 1, -1, 1, 20, 20, func(x, y float64) float64 {
		if x > 0.5 {
			return math.Inf(-1)
		}
		return x
	})
	c, err := LatentDensity(g)
	if err != nil {
		t.Fatal(err)
	}
	data, err := c.PNG()
	if err != nil {
		t.Fatal(err)
	}
	img := decodePNG(t, data)
	if n := countNear(img, Viridis.At(1), 6); n < 500 {
		t.Errorf("top colour: %d pixels, want >= 500", n)
	}
	flat, _ := GridFunc(-1, 1, -1, 1, 4, 4, func(x, y float64) float64 { return 2 })
	if c, err = LatentDensity(flat); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PNG(); err != nil {
		t.Errorf("flat density: %v", err)
	}
}

func TestSampleGrid(t *testing.T) {
	img, amap, mask := scene()
	d, err := SampleGrid(
		Sample{Image: img, Map: amap, Mask: mask, Score: 0.9, Truth: datasets.Anomalous, Defect: "scratch"},
		Sample{Image: img, Map: amap, Score: 0.7, Truth: datasets.Normal},
	).PixelThreshold(0.5).ScoreThreshold(0.8).CellSize(64).Title("grid").Done()
	if err != nil {
		t.Fatal(err)
	}
	data, err := d.PNG()
	if err != nil {
		t.Fatal(err)
	}
	got := decodePNG(t, data)
	// 5 columns of 64 px plus gaps, margins and the text column; 2 rows under header and title.
	wantW := 2*gridMargin + 5*64 + 5*gridGap + gridTextW
	wantH := gridMargin + gridTitle + gridHeader + 2*(64+gridGap) + gridMargin - gridGap
	if b := got.Bounds(); b.Dx() != wantW || b.Dy() != wantH {
		t.Errorf("grid is %dx%d, want %dx%d", b.Dx(), b.Dy(), wantW, wantH)
	}
	if f := inkFraction(got); f < 0.2 {
		t.Errorf("non-white fraction %.3f, want the pictures (>= 0.2)", f)
	}
	// Text column: rendered letters leave dark pixels right of the pictures.
	x0 := gridMargin + 5*(64+gridGap)
	dark := 0
	for y := 0; y < got.Bounds().Dy(); y++ {
		for x := x0; x < got.Bounds().Dx(); x++ {
			if r, g, b := rgb(got.At(x, y)); r+g+b < 200 {
				dark++
			}
		}
	}
	if dark < 200 {
		t.Errorf("text column has %d dark pixels, want the labels (>= 200)", dark)
	}
	// Both verdicts are right: 0.9 >= 0.8 on an anomalous image, 0.7 < 0.8 on a normal one.
	svg, err := d.SVG()
	if err != nil {
		t.Fatal(err)
	}
	texts := svgTexts(t, svg)
	for _, w := range []string{"anomalous: scratch", "score 0.9", "predicted anomalous (correct)",
		"normal", "score 0.7", "predicted normal (correct)", "map >= 0.5", "ground truth", "overlay"} {
		if !strings.Contains(texts, w) {
			t.Errorf("SVG text lacks %q; has:\n%s", w, texts)
		}
	}
	if strings.Count(string(svg), "<image") != 10 {
		t.Errorf("SVG has %d images, want 10", strings.Count(string(svg), "<image"))
	}
}

func TestSampleGridBadInput(t *testing.T) {
	img, amap, mask := scene()
	small := datasets.NewImage(5, 5, 1)
	tests := []struct {
		name string
		b    *SampleGridBuilder
		want string
	}{
		{"none", SampleGrid(), "no samples"},
		{"map size", SampleGrid(Sample{Image: img, Map: small}), "anomaly map is 5x5"},
		{"mask size", SampleGrid(Sample{Image: img, Map: amap, Mask: small}), "mask is 5x5"},
		{"NaN score", SampleGrid(Sample{Image: img, Map: amap, Mask: mask, Score: math.NaN()}), "score is NaN"},
		{"no map", SampleGrid(Sample{Image: img}), "anomaly map"},
		{"cell", SampleGrid(Sample{Image: img, Map: amap}).CellSize(2), "cell size"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.b.Done()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want error containing %q", err, tc.want)
			}
		})
	}
}

func TestTable(t *testing.T) {
	tb := NewTable("Results <image>", "method", "AUROC")
	if err := tb.AddRow("<script>alert(1)</script> & co", 0.98765); err != nil {
		t.Fatal(err)
	}
	if err := tb.AddRow("nan", math.NaN()); err != nil {
		t.Fatal(err)
	}
	if err := tb.AddRow("short"); err == nil {
		t.Error("row with too few cells accepted")
	}
	h := tb.HTML()
	if strings.Contains(h, "<script>") || !strings.Contains(h, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co") {
		t.Errorf("HTML does not escape cells:\n%s", h)
	}
	if !strings.Contains(h, "Results &lt;image&gt;") || !strings.Contains(h, ">0.988</td>") || !strings.Contains(h, ">-</td>") {
		t.Errorf("HTML content wrong:\n%s", h)
	}
	txt := tb.Text()
	lines := strings.Split(strings.TrimRight(txt, "\n"), "\n")
	if len(lines) != 5 || !strings.HasSuffix(lines[3], "0.988") || !strings.HasPrefix(lines[2], "-----") {
		t.Errorf("text table wrong:\n%s", txt)
	}
	for _, l := range lines[1:] {
		if len(l) != len(lines[1]) {
			t.Errorf("text lines not aligned:\n%s", txt)
			break
		}
	}
}

// captureStdout runs f and returns what it wrote to os.Stdout.
func captureStdout(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan []byte)
	go func() { b, _ := io.ReadAll(r); done <- b }()
	f()
	os.Stdout = old
	w.Close()
	return string(<-done)
}

func TestDisplayOutsideNotebookIsSilent(t *testing.T) {
	if InNotebook() {
		t.Fatal("tests must run outside a GoNB kernel (GONB_PIPE is set)")
	}
	c, err := ROC(powCurve("a", 0.5, 10))
	if err != nil {
		t.Fatal(err)
	}
	img, amap, _ := scene()
	ov, _ := Overlay(img, amap).Done()
	out := captureStdout(t, func() {
		for _, err := range []error{Display(c), DisplaySVG(ov), DisplayHTML(NewTable("t", "a")), Display(nil)} {
			if err != nil {
				t.Errorf("Display outside a notebook returned %v, want nil", err)
			}
		}
	})
	if out != "" {
		t.Errorf("Display wrote %q to stdout outside a notebook", out)
	}
}

func TestSave(t *testing.T) {
	dir := t.TempDir()
	c, _ := ROC(powCurve("a", 0.5, 10))
	if err := c.Save(filepath.Join(dir, "x.pdf")); err == nil || !strings.Contains(err.Error(), "unknown extension") {
		t.Errorf("saving .pdf: %v", err)
	}
	if err := c.Save(filepath.Join(dir, "missing", "x.png")); err == nil {
		t.Error("saving into a missing directory succeeded")
	}
	p := filepath.Join(dir, "roc.png")
	if err := c.Save(p); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p)
	decodePNG(t, data)
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only roc.png (no temp files)", len(entries))
	}
	// A custom size and resolution.
	c.Width, c.Height, c.DPI = 200, 100, 72
	data, _ = c.PNG()
	if b := decodePNG(t, data).Bounds(); b.Dx() != 200 || b.Dy() != 100 {
		t.Errorf("200x100 pt at 72 dpi gave %v", b)
	}
	var empty Drawing
	if _, err := empty.PNG(); err == nil {
		t.Error("Drawing without Draw rendered")
	}
	var nilRaster *Raster
	if _, err := nilRaster.SVG(); err == nil {
		t.Error("nil Raster rendered")
	}
	if !bytes.HasPrefix(data, []byte("\x89PNG")) {
		t.Error("PNG magic missing")
	}
}

func TestChartRenderingIsRepeatableAndConcurrent(t *testing.T) {
	c, err := ROC(powCurve("a", 0.5, 50), powCurve("b", 0.3, 50))
	if err != nil {
		t.Fatal(err)
	}
	first, err := c.PNG()
	if err != nil {
		t.Fatal(err)
	}
	results := make(chan []byte, 2)
	for range 2 {
		go func() { d, _ := c.PNG(); results <- d }()
	}
	for range 2 {
		if d := <-results; !bytes.Equal(d, first) {
			t.Fatal("rendering the same chart again gave different pixels (legend or axes mutated?)")
		}
	}
	svg, _ := c.SVG()
	if texts := svgTexts(t, svg); !strings.Contains(texts, "a (AUROC") {
		t.Errorf("legend lost after rendering:\n%s", texts)
	}
}

func TestNewRaster(t *testing.T) {
	img, _, mask := scene()
	r, err := NewRaster(img)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := r.PNG()
	got := decodePNG(t, data)
	if got.Bounds().Dx() != 50 || !near(got.At(49, 0), color.RGBA{200, 200, 200, 255}, 2) {
		t.Errorf("raster %v, pixel %v", got.Bounds(), got.At(49, 0))
	}
	if _, err := NewRaster(datasets.Image{H: 2, W: 2, C: 1}); err == nil {
		t.Error("image without pixels accepted")
	}
	m, _ := NewRaster(mask)
	if g := m.Image.At(25, 20); !near(g, color.White, 0) {
		t.Errorf("mask centre is %v, want white", g)
	}
}

// Degenerate but valid input renders; nothing panics (rendering turns a gonum panic into an error,
// which this test would report).
func TestDegenerateInputsRender(t *testing.T) {
	one := Series{Name: "one", X: []float64{0.5}, Y: []float64{0.5}}
	flatX := Series{Name: "flat", X: []float64{0.3, 0.3, 0.3}, Y: []float64{0, 0.5, 1}}
	grey := datasets.NewImage(8, 8, 1)
	gmap := datasets.NewImage(8, 8, 1) // all zero: flat range
	figs := map[string]func() (Figure, error){
		"ROC one point":     func() (Figure, error) { return ROC(one) },
		"PR vertical":       func() (Figure, error) { return PR(flatX) },
		"PRO one point":     func() (Figure, error) { return PRO(0.3, one) },
		"loss one point":    func() (Figure, error) { return LossCurves(true, Series{X: []float64{1}, Y: []float64{0.5}}) },
		"loss flat":         func() (Figure, error) { return LossCurves(false, Series{X: []float64{1, 2}, Y: []float64{3, 3}}) },
		"histogram one":     func() (Figure, error) { return ScoreHistogram([]float64{1}, nil, 1) },
		"overlay grey flat": func() (Figure, error) { return Overlay(grey, gmap).Mask(gmap).Done() },
		"grid grey flat": func() (Figure, error) {
			return SampleGrid(Sample{Image: grey, Map: gmap}).PixelThreshold(0).Done()
		},
		"latent points only": func() (Figure, error) {
			return LatentDensity(nil, PointGroup{X: []float64{1}, Y: []float64{1}})
		},
	}
	for name, f := range figs {
		t.Run(name, func(t *testing.T) {
			fig, err := f()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := fig.PNG(); err != nil {
				t.Fatalf("PNG: %v", err)
			}
			svg, err := fig.SVG()
			if err != nil {
				t.Fatalf("SVG: %v", err)
			}
			svgTexts(t, svg)
		})
	}
}
