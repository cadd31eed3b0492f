package viz

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func powCurve(name string, q float64, n int) Series {
	s := Series{Name: name}
	for i := 0; i <= n; i++ {
		x := float64(i) / float64(n)
		s.X = append(s.X, x)
		s.Y = append(s.Y, math.Pow(x, q))
	}
	return s
}

func TestAreas(t *testing.T) {
	tests := []struct {
		name string
		f    func() (float64, error)
		want float64
	}{
		{"trapezoid diagonal", func() (float64, error) {
			return TrapezoidArea(Series{X: []float64{0, 1}, Y: []float64{0, 1}})
		}, 0.5},
		{"trapezoid step with tie segment", func() (float64, error) {
			// ROC of scores {0.9 pos, 0.5 pos, 0.5 neg, 0.1 neg}: the tie is a diagonal segment.
			return TrapezoidArea(Series{X: []float64{0, 0, 0.5, 1}, Y: []float64{0, 0.5, 1, 1}})
		}, 0.875},
		{"trapezoid descending x", func() (float64, error) {
			return TrapezoidArea(Series{X: []float64{1, 0.5, 0, 0}, Y: []float64{1, 1, 0.5, 0}})
		}, 0.875},
		{"average precision", func() (float64, error) {
			// recall 0.5 at precision 1, recall 1 at precision 2/3: AP = 0.5*1 + 0.5*2/3.
			return AveragePrecision(Series{X: []float64{1, 0.5, 0}, Y: []float64{2.0 / 3, 1, 1}})
		}, 0.5 + 1.0/3},
		{"partial area interpolates at limit", func() (float64, error) {
			// y = x on [0, 1]; area on [0, 0.3] is 0.045, normalised 0.15.
			return PartialArea(Series{X: []float64{0, 1}, Y: []float64{0, 1}}, 0.3)
		}, 0.15},
		{"partial area of a flat curve", func() (float64, error) {
			return PartialArea(Series{X: []float64{0, 0.1, 0.5, 1}, Y: []float64{0.8, 0.8, 0.8, 0.8}}, 0.3)
		}, 0.8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.f()
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("got %.15g, want %.15g", got, tc.want)
			}
		})
	}
}

func TestCurveChartsBadInput(t *testing.T) {
	good := powCurve("good", 0.5, 10)
	tests := []struct {
		name string
		f    func() error
		want string
	}{
		{"ROC no series", func() error { _, err := ROC(); return err }, "no series"},
		{"ROC empty", func() error { _, err := ROC(Series{Name: "e"}); return err }, "empty"},
		{"ROC mismatched", func() error {
			_, err := ROC(Series{Name: "m", X: []float64{0, 1}, Y: []float64{0}})
			return err
		}, "2 x values and 1 y values"},
		{"ROC NaN", func() error {
			_, err := ROC(Series{Name: "n", X: []float64{0, math.NaN()}, Y: []float64{0, 1}})
			return err
		}, "not finite"},
		{"ROC outside unit square", func() error {
			_, err := ROC(Series{Name: "o", X: []float64{0, 2}, Y: []float64{0, 1}})
			return err
		}, "outside [0, 1]"},
		{"ROC not monotone", func() error {
			_, err := ROC(good, Series{Name: "zig", X: []float64{0, 0.6, 0.3, 1}, Y: []float64{0, 0.5, 0.7, 1}})
			return err
		}, "not monotone"},
		{"PR empty", func() error { _, err := PR(Series{}); return err }, "empty"},
		{"PRO bad limit", func() error { _, err := PRO(0, good); return err }, "limit"},
		{"PRO no series", func() error { _, err := PRO(0.3); return err }, "no series"},
		{"loss log of zero", func() error {
			_, err := LossCurves(true, Series{Name: "l", X: []float64{0, 1}, Y: []float64{1, 0}})
			return err
		}, "log scale"},
		{"loss empty", func() error { _, err := LossCurves(false); return err }, "no series"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.f()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestROCRendersCurvesAndLegend(t *testing.T) {
	a, b := powCurve("mean-image distance", 0.2, 200), powCurve("z<score>", 0.5, 200)
	chart, err := ROC(a, b)
	if err != nil {
		t.Fatal(err)
	}
	data, err := chart.PNG()
	if err != nil {
		t.Fatal(err)
	}
	img := decodePNG(t, data)
	// 15 cm x 10 cm at 120 dpi.
	if w, h := img.Bounds().Dx(), img.Bounds().Dy(); w != 709 || h != 472 {
		t.Errorf("PNG is %dx%d, want 709x472", w, h)
	}
	if f := inkFraction(img); f < 0.03 || f > 0.5 {
		t.Errorf("non-white fraction %.3f, want a drawn chart (0.03..0.5)", f)
	}
	for i := range 2 {
		if n := countNear(img, SeriesColors[i], 10); n < 500 {
			t.Errorf("series %d colour %v: only %d pixels, want the curve (>= 500)", i, SeriesColors[i], n)
		}
	}
	if n := countNear(img, SeriesColors[2], 10); n > 20 {
		t.Errorf("third series colour appears %d times with only two series", n)
	}
	svg, err := chart.SVG()
	if err != nil {
		t.Fatal(err)
	}
	texts := svgTexts(t, svg)
	if !strings.Contains(string(svg), "font-family:'Liberation Sans',Arial") {
		t.Error("SVG text has no metric-compatible font fallback")
	}
	wantA, _ := TrapezoidArea(a)
	wantB, _ := TrapezoidArea(b)
	for _, want := range []string{
		"mean-image distance (AUROC " + format3(wantA) + ")",
		"z<score> (AUROC " + format3(wantB) + ")",
		"false-positive rate", "true-positive rate", "chance",
	} {
		if !strings.Contains(texts, want) {
			t.Errorf("SVG text lacks %q; has:\n%s", want, texts)
		}
	}
	// The exact integral of x^q on [0, 1] is 1/(q+1); the trapezoid rule on 200 points is close.
	if math.Abs(wantB-1/1.5) > 2e-3 {
		t.Errorf("AUROC of x^0.5 = %.4f, want about %.4f", wantB, 1/1.5)
	}
}

func format3(v float64) string { return formatFloat(v, 3) }

func TestPRAndPROAndLoss(t *testing.T) {
	a := powCurve("A", 0.3, 100)
	pr := Series{Name: "A", X: a.X, Y: make([]float64, len(a.X))}
	for i, x := range a.X {
		pr.Y[i] = 1 - 0.5*x*x
	}
	prChart, err := PR(pr)
	if err != nil {
		t.Fatal(err)
	}
	proChart, err := PRO(DefaultPROLimit, a)
	if err != nil {
		t.Fatal(err)
	}
	lossChart, err := LossCurves(true, Series{Name: "train", X: []float64{0, 1, 2, 3}, Y: []float64{2, 1, 0.5, 0.25}})
	if err != nil {
		t.Fatal(err)
	}
	ap, _ := AveragePrecision(pr)
	pro, _ := PartialArea(a, 0.3)
	tests := []struct {
		name  string
		chart *Chart
		texts []string
	}{
		{"pr", prChart, []string{"A (AP " + format3(ap) + ")", "recall", "precision"}},
		{"pro", proChart, []string{"A (AUPRO@0.3 " + format3(pro) + ")", "FPR limit 0.3", "per-region overlap"}},
		{"loss", lossChart, []string{"train (final 0.25)", "step", "loss"}},
	}
	dir := t.TempDir()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, ext := range []string{".png", ".SVG"} {
				if err := tc.chart.Save(filepath.Join(dir, tc.name+ext)); err != nil {
					t.Fatal(err)
				}
			}
			data, err := os.ReadFile(filepath.Join(dir, tc.name+".png"))
			if err != nil {
				t.Fatal(err)
			}
			img := decodePNG(t, data)
			if n := countNear(img, SeriesColors[0], 10); n < 300 {
				t.Errorf("curve colour: %d pixels, want >= 300", n)
			}
			svg, err := os.ReadFile(filepath.Join(dir, tc.name+".SVG"))
			if err != nil {
				t.Fatal(err)
			}
			texts := svgTexts(t, svg)
			for _, w := range tc.texts {
				if !strings.Contains(texts, w) {
					t.Errorf("SVG text lacks %q; has:\n%s", w, texts)
				}
			}
		})
	}
	// The PRO chart shades [0, limit]: light grey pixels fill a good part of the plot.
	data, _ := proChart.PNG()
	if n := countNear(decodePNG(t, data), shadeColor, 0); n < 20000 {
		t.Errorf("PRO limit shading: %d pixels, want >= 20000", n)
	}
}

func TestThinKeepsEndsAndBoundsPoints(t *testing.T) {
	n := 1_000_000
	xs, ys := make([]float64, n), make([]float64, n)
	for i := range xs {
		xs[i] = float64(i) / float64(n-1)
		ys[i] = math.Sqrt(xs[i])
	}
	pts := thin(xs, ys, 1e-3)
	if len(pts) > 3000 || len(pts) < 500 {
		t.Errorf("thinned to %d points, want 500..3000", len(pts))
	}
	if pts[0].X != 0 || pts[len(pts)-1].X != 1 {
		t.Errorf("thinning dropped an end point: %v .. %v", pts[0], pts[len(pts)-1])
	}
}
