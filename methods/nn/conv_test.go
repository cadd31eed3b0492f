package nn

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

var convCases = []struct {
	n, h, w, cin, cout, k int
	cfg                   ConvConfig
}{
	{1, 5, 5, 2, 3, 3, ConvConfig{}},
	{2, 6, 7, 3, 4, 3, ConvConfig{Padding: 1}},
	{1, 7, 6, 2, 3, 3, ConvConfig{Stride: 2, Padding: 1}},
	{1, 8, 8, 2, 2, 3, ConvConfig{Dilation: 2, Padding: 2}},
	{2, 6, 6, 4, 6, 3, ConvConfig{Groups: 2, Padding: 1}},
	{1, 9, 8, 3, 2, 5, ConvConfig{Stride: 3, Padding: 2, Dilation: 1}},
	{1, 6, 6, 4, 4, 1, ConvConfig{}},
	{1, 6, 6, 4, 4, 1, ConvConfig{Stride: 2}},
	{1, 7, 7, 4, 8, 2, ConvConfig{Stride: 2, Padding: 1, Groups: 4}},
	{2, 5, 6, 3, 2, 3, ConvConfig{Padding: 3}},              // padding beyond d*(k-1): col2im gradient
	{1, 6, 5, 2, 3, 2, ConvConfig{Padding: 1}},              // even kernel
	{2, 7, 7, 2, 3, 3, ConvConfig{Dilation: 2, Padding: 1}}, // dilation with small padding
	{1, 11, 10, 2, 3, 3, ConvConfig{Stride: 2, Dilation: 2, Padding: 2}},
	{2, 9, 9, 2, 2, 3, ConvConfig{Stride: 3, Dilation: 2, Padding: 1}},
	{1, 12, 11, 3, 4, 7, ConvConfig{Stride: 2, Padding: 3}}, // stem-like
}

// forEachIm2col runs f with each form of Conv2D: native ConvGeneral (on the fastgo backend), and the
// wide-rows im2col forced on (where it applies) and forced off.
func forEachIm2col(t *testing.T, f func(t *testing.T)) {
	savedGain, savedNative := wideRowsGain, nativeOps
	defer func() { wideRowsGain, nativeOps = savedGain, savedNative }()
	for _, mode := range []struct {
		name   string
		gain   float64
		native bool
	}{{"native", 0, true}, {"wide", 1e9, false}, {"gather", 0, false}} {
		wideRowsGain = mode.gain
		nativeOps = forceNative(mode.native)
		t.Run(mode.name, f)
	}
}

func TestConv2DMatchesConvolve(t *testing.T) { forEachIm2col(t, testConv2DMatchesConvolve) }
func TestConv2DGradients(t *testing.T)       { forEachIm2col(t, testConv2DGradients) }

func testConv2DMatchesConvolve(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range convCases {
		name := fmt.Sprintf("%dx%dx%dx%d->%d k%d %+v", tc.n, tc.h, tc.w, tc.cin, tc.cout, tc.k, tc.cfg)
		t.Run(name, func(t *testing.T) {
			cfg := tc.cfg.withDefaults()
			x := randTensor(rng, tc.n, tc.h, tc.w, tc.cin)
			k := randTensor(rng, tc.k, tc.k, tc.cin/cfg.Groups, tc.cout)
			if cfg.Stride > 1 && cfg.Dilation > 1 { // graph.Convolve refuses both: compare with loops
				got := run(t, func(in []*graph.Node) []*graph.Node { return []*graph.Node{Conv2D(in[0], in[1], tc.cfg)} }, x, k)[0]
				want := refConv2D(tensors.MustCopyFlatData[float64](x), tensors.MustCopyFlatData[float64](k),
					tc.n, tc.h, tc.w, tc.cin, tc.cout, tc.k, cfg)
				assertCloseFlat(t, "Conv2D vs loops", flat64(t, got), want, 1e-12)
				return
			}
			out := run(t, func(in []*graph.Node) []*graph.Node {
				p := cfg.Padding
				want := graph.Convolve(in[0], in[1]).StridePerAxis(cfg.Stride, cfg.Stride).
					PaddingPerDim([][2]int{{p, p}, {p, p}}).DilationPerAxis(cfg.Dilation, cfg.Dilation).
					ChannelGroupCount(cfg.Groups).Done()
				return []*graph.Node{Conv2D(in[0], in[1], tc.cfg), want}
			}, x, k)
			assertClose(t, "Conv2D vs graph.Convolve", out[0], out[1], 1e-12)
			want := refConv2D(tensors.MustCopyFlatData[float64](x), tensors.MustCopyFlatData[float64](k),
				tc.n, tc.h, tc.w, tc.cin, tc.cout, tc.k, cfg)
			assertCloseFlat(t, "Conv2D vs loops", flat64(t, out[0]), want, 1e-12)
		})
	}
}

func testConv2DGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range convCases {
		name := fmt.Sprintf("%dx%dx%dx%d->%d k%d %+v", tc.n, tc.h, tc.w, tc.cin, tc.cout, tc.k, tc.cfg)
		t.Run(name, func(t *testing.T) {
			cfg := tc.cfg.withDefaults()
			x := randTensor(rng, tc.n, tc.h, tc.w, tc.cin)
			k := randTensor(rng, tc.k, tc.k, tc.cin/cfg.Groups, tc.cout)
			checkGradients(t, name, func(in []*graph.Node) *graph.Node { return Conv2D(in[0], in[1], tc.cfg) },
				[]*tensors.Tensor{x, k}, 12)
		})
	}
}

func TestConvPlanChoosesForm(t *testing.T) {
	g := graph.NewGraph(backend(t), "plan")
	defer g.Finalize()
	for i, tc := range []struct {
		n, h, cin, cout, k int
		cfg                ConvConfig
		wide               bool
	}{
		{8, 64, 64, 64, 3, ConvConfig{Padding: 1}, true},
		{1, 56, 64, 64, 3, ConvConfig{Padding: 1}, true},
		{8, 28, 64, 64, 3, ConvConfig{Padding: 1}, true},
		{1, 7, 512, 512, 3, ConvConfig{Padding: 1}, false},          // padding columns would waste too much
		{1, 28, 512, 512, 3, ConvConfig{Padding: 1}, false},         // gather costs little next to a wide product
		{8, 64, 64, 64, 3, ConvConfig{Stride: 2, Padding: 1}, true}, // phase images
		{8, 224, 3, 64, 7, ConvConfig{Stride: 2, Padding: 3}, true}, // ResNet stem
		{8, 56, 64, 128, 1, ConvConfig{Stride: 2}, true},            // ResNet downsample
		{8, 64, 64, 64, 3, ConvConfig{Padding: 1, Groups: 2}, false},
		{8, 64, 64, 64, 1, ConvConfig{}, false}, // 1x1: direct
	} {
		x := graph.Parameter(g, fmt.Sprintf("x%d", i), shapes.Make(dtypes.Float32, tc.n, tc.h, tc.h, tc.cin))
		k := graph.Parameter(g, fmt.Sprintf("k%d", i), shapes.Make(dtypes.Float32, tc.k, tc.k, tc.cin/tc.cfg.withDefaults().Groups, tc.cout))
		if got := newConvPlan(x, k, tc.cfg).wide; got != tc.wide {
			t.Errorf("%+v: wide=%v, want %v", tc, got, tc.wide)
		}
	}
}

// refConv2D is torch's conv2d written as loops over NHWC/HWIO data.
func refConv2D(x, k []float64, n, h, w, cin, cout, ks int, cfg ConvConfig) []float64 {
	s, p, d, g := cfg.Stride, cfg.Padding, cfg.Dilation, cfg.Groups
	ho, wo := (h+2*p-d*(ks-1)-1)/s+1, (w+2*p-d*(ks-1)-1)/s+1
	cg, og := cin/g, cout/g
	out := make([]float64, 0, n*ho*wo*cout)
	for b := 0; b < n; b++ {
		for oy := 0; oy < ho; oy++ {
			for ox := 0; ox < wo; ox++ {
				for co := 0; co < cout; co++ {
					grp := co / og
					acc := 0.0
					for ky := 0; ky < ks; ky++ {
						for kx := 0; kx < ks; kx++ {
							iy, ix := oy*s-p+ky*d, ox*s-p+kx*d
							if iy < 0 || iy >= h || ix < 0 || ix >= w {
								continue
							}
							for ci := 0; ci < cg; ci++ {
								acc += x[((b*h+iy)*w+ix)*cin+grp*cg+ci] * k[((ky*ks+kx)*cg+ci)*cout+co]
							}
						}
					}
					out = append(out, acc)
				}
			}
		}
	}
	return out
}
