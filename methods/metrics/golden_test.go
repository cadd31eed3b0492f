package metrics

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/gonomaly/gonomaly/datasets"
)

type goldenCurve struct{ X, Y, T []float64 }

type goldenImage struct {
	Name             string
	Scores           []float64
	Labels           []bool
	AUROC, AP, F1Max float64
	F1Threshold      float64
	ROC, PR          goldenCurve
}

type goldenPixel struct {
	Name        string
	Maps        [][][]float64
	Masks       [][][]float64
	AUROC, AP   float64
	F1Max       float64
	F1Threshold float64
	Regions     int
	AUPRO       map[string]float64
	AUPROF32    float64 `json:"aupro_float32fpr"`
	PRO         goldenCurve
}

type golden struct {
	Image []goldenImage
	Pixel []goldenPixel
}

func loadGolden(t *testing.T) golden {
	t.Helper()
	b, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Image) == 0 || len(g.Pixel) == 0 {
		t.Fatal("golden.json has no cases")
	}
	return g
}

func toImages(a [][][]float64) []datasets.Image {
	out := make([]datasets.Image, len(a))
	for i, rows := range a {
		im := datasets.NewImage(len(rows), len(rows[0]), 1)
		for y, r := range rows {
			for x, v := range r {
				im.Set(y, x, 0, float32(v))
			}
		}
		out[i] = im
	}
	return out
}

const tol = 1e-6

func near(a, b float64) bool { return math.Abs(a-b) <= tol }

func checkCurve(t *testing.T, what string, got Curve, x, y, thr []float64) {
	t.Helper()
	if len(got.X) != len(x) || len(got.Y) != len(y) {
		t.Fatalf("%s: %d points, want %d", what, len(got.X), len(x))
	}
	for i := range x {
		if !near(got.X[i], x[i]) || !near(got.Y[i], y[i]) {
			t.Fatalf("%s point %d: got (%v, %v), want (%v, %v)", what, i, got.X[i], got.Y[i], x[i], y[i])
		}
		if thr != nil && i < len(thr) && !near(got.Thresholds[i], thr[i]) {
			t.Fatalf("%s threshold %d: got %v, want %v", what, i, got.Thresholds[i], thr[i])
		}
	}
}

func TestImageGolden(t *testing.T) {
	for _, c := range loadGolden(t).Image {
		t.Run(c.Name, func(t *testing.T) {
			auroc, err := AUROC(c.Scores, c.Labels)
			if err != nil || !near(auroc, c.AUROC) {
				t.Errorf("AUROC = %v, %v; want %v", auroc, err, c.AUROC)
			}
			ap, err := AveragePrecision(c.Scores, c.Labels)
			if err != nil || !near(ap, c.AP) {
				t.Errorf("AP = %v, %v; want %v", ap, err, c.AP)
			}
			f1, thr, err := F1Max(c.Scores, c.Labels)
			if err != nil || !near(f1, c.F1Max) || !near(thr, c.F1Threshold) {
				t.Errorf("F1Max = %v @ %v, %v; want %v @ %v", f1, thr, err, c.F1Max, c.F1Threshold)
			}
			roc, err := ROC(c.Scores, c.Labels)
			if err != nil {
				t.Fatal(err)
			}
			checkCurve(t, "ROC", roc, c.ROC.X, c.ROC.Y, c.ROC.T)
			pr, err := PR(c.Scores, c.Labels)
			if err != nil {
				t.Fatal(err)
			}
			// scikit-learn gives the final (recall 0, precision 1) point no threshold.
			checkCurve(t, "PR", pr, c.PR.X, c.PR.Y, c.PR.T)
			if len(pr.Thresholds) != len(pr.X) {
				t.Errorf("PR has %d thresholds for %d points", len(pr.Thresholds), len(pr.X))
			}
		})
	}
}

func TestPixelGolden(t *testing.T) {
	for _, c := range loadGolden(t).Pixel {
		maps, masks := toImages(c.Maps), toImages(c.Masks)
		for _, mode := range []struct {
			name string
			opts []PixelOption
		}{
			{"exact", []PixelOption{WithCurvePoints(-1)}},
			{"exact-1worker-tinywindow", []PixelOption{WithCurvePoints(-1), WithWorkers(1), withWindow(7)}},
			{"exact-3workers", []PixelOption{WithCurvePoints(-1), WithWorkers(3), withWindow(100)}},
		} {
			t.Run(c.Name+"/"+mode.name, func(t *testing.T) {
				r, err := Pixel(maps, masks, mode.opts...)
				if err != nil {
					t.Fatal(err)
				}
				if !near(r.AUROC, c.AUROC) || !near(r.AP, c.AP) {
					t.Errorf("AUROC, AP = %v, %v; want %v, %v", r.AUROC, r.AP, c.AUROC, c.AP)
				}
				if !near(r.F1Max, c.F1Max) || !near(r.F1Threshold, c.F1Threshold) {
					t.Errorf("F1Max = %v @ %v; want %v @ %v", r.F1Max, r.F1Threshold, c.F1Max, c.F1Threshold)
				}
				if r.Regions != c.Regions {
					t.Errorf("Regions = %d, want %d", r.Regions, c.Regions)
				}
				if !near(r.AUPRO, c.AUPRO["0.3"]) {
					t.Errorf("AUPRO = %v, want %v", r.AUPRO, c.AUPRO["0.3"])
				}
				if !near(r.AUPRO, c.AUPROF32) {
					t.Errorf("AUPRO = %v, official float32-FPR variant %v", r.AUPRO, c.AUPROF32)
				}
				checkCurve(t, "PRO", r.PRO, c.PRO.X, c.PRO.Y, nil)
				for lim, want := range map[float64]float64{0.3: c.AUPRO["0.3"], 1: c.AUPRO["1.0"], 0.05: c.AUPRO["0.05"]} {
					got, err := AUPRO(maps, masks, lim, mode.opts...)
					if err != nil || !near(got, want) {
						t.Errorf("AUPRO(limit %v) = %v, %v; want %v", lim, got, err, want)
					}
				}
			})
		}
	}
}
