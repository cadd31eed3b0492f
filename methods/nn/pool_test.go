package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

var poolCases = []struct{ n, h, w, c, window, stride, padding int }{
	{1, 4, 4, 2, 2, 2, 0}, // reshape path
	{2, 6, 4, 3, 2, 2, 0}, // reshape path
	{1, 5, 5, 2, 2, 2, 0}, // odd size: gather path drops the last row/column
	{1, 7, 6, 2, 3, 2, 1}, // ResNet stem pooling
	{2, 5, 6, 1, 3, 1, 1},
	{1, 8, 8, 2, 4, 3, 2},
	{1, 6, 6, 3, 3, 3, 0},
	{2, 9, 8, 2, 3, 2, 0},
	{1, 10, 11, 2, 5, 3, 2},
}

// refPool2D is a direct loop implementation of torch's max_pool2d / avg_pool2d (count_include_pad).
func refPool2D(x []float64, n, h, w, c, k, s, p int, isMax bool) []float64 {
	ho, wo := (h+2*p-k)/s+1, (w+2*p-k)/s+1
	out := make([]float64, 0, n*ho*wo*c)
	for b := 0; b < n; b++ {
		for oy := 0; oy < ho; oy++ {
			for ox := 0; ox < wo; ox++ {
				for ch := 0; ch < c; ch++ {
					acc := 0.0
					if isMax {
						acc = math.Inf(-1)
					}
					for ky := 0; ky < k; ky++ {
						for kx := 0; kx < k; kx++ {
							iy, ix := oy*s-p+ky, ox*s-p+kx
							v := 0.0
							if isMax {
								v = math.Inf(-1)
							}
							if iy >= 0 && iy < h && ix >= 0 && ix < w {
								v = x[((b*h+iy)*w+ix)*c+ch]
							}
							if isMax {
								acc = math.Max(acc, v)
							} else {
								acc += v
							}
						}
					}
					if !isMax {
						acc /= float64(k * k)
					}
					out = append(out, acc)
				}
			}
		}
	}
	return out
}

func TestPool2D(t *testing.T) {
	saved, savedNative := poolWideMaxWaste, nativeOps
	defer func() { poolWideMaxWaste, nativeOps = saved, savedNative }()
	for _, mode := range []struct {
		name   string
		waste  float64
		native bool
	}{{"native", 0, true}, {"wide", 1e9, false}, {"gather", -1, false}} {
		poolWideMaxWaste = mode.waste
		nativeOps = forceNative(mode.native)
		t.Run(mode.name, testPool2D)
	}
}

func testPool2D(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range poolCases {
		for _, isMax := range []bool{true, false} {
			name := fmt.Sprintf("max=%v %+v", isMax, tc)
			t.Run(name, func(t *testing.T) {
				x := randTensor(rng, tc.n, tc.h, tc.w, tc.c)
				f := func(in []*graph.Node) *graph.Node {
					if isMax {
						return MaxPool2D(in[0], tc.window, tc.stride, tc.padding)
					}
					return AvgPool2D(in[0], tc.window, tc.stride, tc.padding)
				}
				got := run(t, func(in []*graph.Node) []*graph.Node { return []*graph.Node{f(in)} }, x)[0]
				want := refPool2D(tensors.MustCopyFlatData[float64](x), tc.n, tc.h, tc.w, tc.c,
					tc.window, tc.stride, tc.padding, isMax)
				assertCloseFlat(t, "vs reference", flat64(t, got), want, 1e-12)
				checkGradients(t, name, f, []*tensors.Tensor{x}, 16)
			})
		}
	}
}

// TestPool2DMatchesGoMLX checks parity with GoMLX's own pooling where both are defined (no padding).
func TestPool2DMatchesGoMLX(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	x := randTensor(rng, 2, 7, 6, 3)
	for _, ws := range [][2]int{{2, 2}, {3, 2}, {3, 1}} {
		out := run(t, func(in []*graph.Node) []*graph.Node {
			return []*graph.Node{
				MaxPool2D(in[0], ws[0], ws[1], 0), graph.MaxPool(in[0]).Window(ws[0]).Strides(ws[1]).NoPadding().Done(),
				AvgPool2D(in[0], ws[0], ws[1], 0), graph.MeanPool(in[0]).Window(ws[0]).Strides(ws[1]).NoPadding().Done(),
			}
		}, x)
		assertClose(t, fmt.Sprintf("MaxPool %v", ws), out[0], out[1], 1e-12)
		assertClose(t, fmt.Sprintf("MeanPool %v", ws), out[2], out[3], 1e-12)
	}
}

func TestBatchNormInference(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 11))
	x := randTensor(rng, 2, 3, 3, 4)
	scale, offset, mean := randTensor(rng, 4), randTensor(rng, 4), randTensor(rng, 4)
	variance := tensors.FromValue([]float64{0.5, 1, 2, 0.1})
	got := run(t, func(in []*graph.Node) []*graph.Node {
		return []*graph.Node{BatchNormInference(in[0], in[1], in[2], in[3], in[4], 1e-5)}
	}, x, scale, offset, mean, variance)[0]
	xs, sc, of, mu := tensors.MustCopyFlatData[float64](x), tensors.MustCopyFlatData[float64](scale),
		tensors.MustCopyFlatData[float64](offset), tensors.MustCopyFlatData[float64](mean)
	va := tensors.MustCopyFlatData[float64](variance)
	want := make([]float64, len(xs))
	for i, v := range xs {
		ch := i % 4
		want[i] = (v-mu[ch])/math.Sqrt(va[ch]+1e-5)*sc[ch] + of[ch]
	}
	assertCloseFlat(t, "BatchNormInference", flat64(t, got), want, 1e-12)
	checkGradients(t, "BatchNormInference", func(in []*graph.Node) *graph.Node {
		return BatchNormInference(in[0], in[1], in[2], in[3], in[4], 1e-5)
	}, []*tensors.Tensor{x, scale, offset, mean, variance}, 8)
}
