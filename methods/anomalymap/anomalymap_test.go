package anomalymap

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/gonomaly/gonomaly/datasets"
)

type goldenCase struct {
	H, W, OH, OW int
	Sigma        float64
	In, Out      []float32
}

func loadGolden(t *testing.T) map[string][]goldenCase {
	raw, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g map[string][]goldenCase
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// Both operations must match torch within 1e-5 absolute (values are in [0,1]).
const tol = 1e-5

func TestUpsampleMatchesTorch(t *testing.T) {
	for _, c := range loadGolden(t)["upsample"] {
		got := Upsample(datasets.Image{H: c.H, W: c.W, C: 1, Pix: c.In}, c.OH, c.OW)
		for i, want := range c.Out {
			if d := math.Abs(float64(got.Pix[i] - want)); d > tol {
				t.Fatalf("%dx%d->%dx%d: pixel %d = %v, torch %v", c.H, c.W, c.OH, c.OW, i, got.Pix[i], want)
			}
		}
	}
}

func TestUpsampleAlignCornersMatchesTorch(t *testing.T) {
	cases := loadGolden(t)["upsample_aligned"]
	if len(cases) == 0 {
		t.Fatal("no golden cases")
	}
	for _, c := range cases {
		got := UpsampleAlignCorners(datasets.Image{H: c.H, W: c.W, C: 1, Pix: c.In}, c.OH, c.OW)
		for i, want := range c.Out {
			if d := math.Abs(float64(got.Pix[i] - want)); d > tol {
				t.Fatalf("%dx%d->%dx%d: pixel %d = %v, torch %v", c.H, c.W, c.OH, c.OW, i, got.Pix[i], want)
			}
		}
	}
}

func TestGaussianBlurMatchesTorch(t *testing.T) {
	for _, c := range loadGolden(t)["blur"] {
		got := GaussianBlur(datasets.Image{H: c.H, W: c.W, C: 1, Pix: c.In}, c.Sigma)
		for i, want := range c.Out {
			if d := math.Abs(float64(got.Pix[i] - want)); d > tol {
				t.Fatalf("blur sigma %v: pixel %d = %v, torch %v", c.Sigma, i, got.Pix[i], want)
			}
		}
	}
}

func TestKernelSize(t *testing.T) {
	for sigma, want := range map[float64]int{4: 33, 1: 9, 2: 17, 0.5: 5} {
		if got := KernelSize(sigma); got != want {
			t.Errorf("KernelSize(%v) = %d, want %d", sigma, got, want)
		}
	}
}

func TestBlurPreservesMassAndHandlesTinyMaps(t *testing.T) {
	m := datasets.NewImage(3, 2, 1) // kernel (33 taps) far wider than the map: reflect must fold
	for i := range m.Pix {
		m.Pix[i] = float32(i)
	}
	out := GaussianBlur(m, 4)
	for _, v := range out.Pix {
		if v < 0 || v > 5 || math.IsNaN(float64(v)) {
			t.Fatalf("blurred value %v outside the input range [0,5]", v)
		}
	}
	one := GaussianBlur(datasets.Image{H: 1, W: 1, C: 1, Pix: []float32{3}}, 4)
	if math.Abs(float64(one.Pix[0]-3)) > 1e-6 {
		t.Fatalf("1x1 blur = %v, want 3", one.Pix[0])
	}
}

func TestScores(t *testing.T) {
	m := datasets.Image{H: 2, W: 3, C: 1, Pix: []float32{1, 5, 2, 9, 3, 4}}
	if got := ScoreMax(m); got != 9 {
		t.Errorf("ScoreMax = %v, want 9", got)
	}
	if got := ScoreTopKMean(m, 2); got != 7 {
		t.Errorf("ScoreTopKMean(2) = %v, want 7", got)
	}
	if got := ScoreTopKMean(m, 100); math.Abs(float64(got)-4) > 1e-6 {
		t.Errorf("ScoreTopKMean(100) = %v, want 4 (mean of all)", got)
	}
}

func BenchmarkToInput28to224(b *testing.B) {
	m := datasets.NewImage(28, 28, 1)
	for i := range m.Pix {
		m.Pix[i] = float32(i % 17)
	}
	for b.Loop() {
		ToInput(m, 224, 224, DefaultSigma)
	}
}
