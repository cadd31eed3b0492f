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
}

// forEachIm2col runs f with the wide-rows im2col forced on (where it applies) and forced off.
func forEachIm2col(t *testing.T, f func(t *testing.T)) {
	saved := wideRowsGain
	defer func() { wideRowsGain = saved }()
	for _, mode := range []struct {
		name string
		gain float64
	}{{"wide", 1e9}, {"gather", 0}} {
		wideRowsGain = mode.gain
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
			out := run(t, func(in []*graph.Node) []*graph.Node {
				p := cfg.Padding
				want := graph.Convolve(in[0], in[1]).StridePerAxis(cfg.Stride, cfg.Stride).
					PaddingPerDim([][2]int{{p, p}, {p, p}}).DilationPerAxis(cfg.Dilation, cfg.Dilation).
					ChannelGroupCount(cfg.Groups).Done()
				return []*graph.Node{Conv2D(in[0], in[1], tc.cfg), want}
			}, x, k)
			assertClose(t, "Conv2D vs graph.Convolve", out[0], out[1], 1e-12)
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
		{1, 7, 512, 512, 3, ConvConfig{Padding: 1}, false},  // padding columns would waste too much
		{1, 28, 512, 512, 3, ConvConfig{Padding: 1}, false}, // gather costs little next to a wide product
		{8, 64, 64, 64, 3, ConvConfig{Stride: 2, Padding: 1}, false},
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
