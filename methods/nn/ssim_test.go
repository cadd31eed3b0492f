package nn

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// ssimCase mirrors testdata/ssim_golden.json, written by testdata/gen_ssim.py with scikit-image and torch.
type ssimCase struct {
	Shape    []int     `json:"shape"`
	X        []float64 `json:"x"`
	Y        []float64 `json:"y"`
	Mean     []float64 `json:"mean"`
	Interior []float64 `json:"interior"`
	Same     []float64 `json:"same"`
}

// TestSSIMGolden compares SSIM and SSIMMap with scikit-image's structural_similarity (Gaussian window 11,
// sigma 1.5, population covariance) and with a torch computation of the border rule, in float64 (tolerance
// 1e-9) and in float32, the training dtype (tolerance 1e-4: E[x²] - μ² loses digits in float32).
func TestSSIMGolden(t *testing.T) {
	raw, err := os.ReadFile("testdata/ssim_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct{ Cases []ssimCase }
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatalf("testdata/ssim_golden.json: %v", err)
	}
	if len(g.Cases) < 3 {
		t.Fatalf("testdata/ssim_golden.json has %d cases", len(g.Cases))
	}
	for _, c := range g.Cases {
		n, h, w := c.Shape[0], c.Shape[1], c.Shape[2]
		for _, f32 := range []bool{false, true} {
			x, y := tensorOf(c.X, c.Shape), tensorOf(c.Y, c.Shape)
			tol := 1e-9
			if f32 {
				x, y = toF32(c.X, c.Shape), toF32(c.Y, c.Shape)
				tol = 1e-4
			}
			out := run(t, func(in []*graph.Node) []*graph.Node {
				return []*graph.Node{SSIM(in[0], in[1], DefaultSSIM()), SSIMMap(in[0], in[1], DefaultSSIM())}
			}, x, y)
			assertCloseFlat(t, "SSIM vs skimage mean", flat64(t, out[0]), c.Mean, tol)
			m := flat64(t, out[1])
			if len(m) != n*h*w {
				t.Fatalf("SSIMMap has %d values for %d images of %dx%d", len(m), n, w, h)
			}
			var interior []float64
			for i := range n {
				for r := 5; r < h-5; r++ {
					interior = append(interior, m[(i*h+r)*w+5:(i*h+r)*w+w-5]...)
				}
			}
			assertCloseFlat(t, "SSIMMap interior vs skimage map", interior, c.Interior, tol)
			assertCloseFlat(t, "SSIMMap vs torch (renormalised border)", m, c.Same, tol)
		}
	}
}

func toF32(data []float64, dims []int) *tensors.Tensor {
	f := make([]float32, len(data))
	for i, v := range data {
		f[i] = float32(v)
	}
	return tensors.FromFlatDataAndDimensions(f, dims...)
}

// TestSSIMProperties: an image is perfectly similar to itself, and SSIM is symmetric.
func TestSSIMProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(40, 41))
	a, b := randTensor(rng, 2, 13, 12, 3), randTensor(rng, 2, 13, 12, 3)
	out := run(t, func(in []*graph.Node) []*graph.Node {
		cfg := DefaultSSIM()
		return []*graph.Node{SSIMMap(in[0], in[0], cfg), SSIM(in[0], in[1], cfg), SSIM(in[1], in[0], cfg)}
	}, a, b)
	for i, v := range flat64(t, out[0]) {
		if v < 1-1e-9 || v > 1+1e-9 {
			t.Fatalf("SSIMMap(x, x)[%d] = %v, want 1", i, v)
		}
	}
	assertClose(t, "SSIM symmetry", out[1], out[2], 1e-12)
}

// TestSSIMGradients checks the gradients of SSIM and SSIMMap (the training losses) against finite
// differences.
func TestSSIMGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(42, 43))
	a, b := randTensor(rng, 1, 12, 11, 2), randTensor(rng, 1, 12, 11, 2)
	checkGradients(t, "SSIM", func(in []*graph.Node) *graph.Node { return SSIM(in[0], in[1], DefaultSSIM()) },
		[]*tensors.Tensor{a, b}, 10)
	checkGradients(t, "SSIMMap", func(in []*graph.Node) *graph.Node { return SSIMMap(in[0], in[1], DefaultSSIM()) },
		[]*tensors.Tensor{a, b}, 10)
}
