package nn

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
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
}

func TestConv2DMatchesConvolve(t *testing.T) {
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

func TestConv2DGradients(t *testing.T) {
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
