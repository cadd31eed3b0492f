package nn

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// golden mirrors testdata/golden.json, written by testdata/gen_golden.py with PyTorch.
type goldenCase struct {
	Mode          string    `json:"mode"`
	AlignCorners  bool      `json:"align_corners"`
	X             []float64 `json:"x"`
	XShape        []int     `json:"x_shape"`
	Kernel        []float64 `json:"kernel"`
	KernelShape   []int     `json:"kernel_shape"`
	Stride        int       `json:"stride"`
	Padding       int       `json:"padding"`
	OutputPadding int       `json:"output_padding"`
	Dilation      int       `json:"dilation"`
	Groups        int       `json:"groups"`
	Window        int       `json:"window"`
	Y             []float64 `json:"y"`
	YShape        []int     `json:"y_shape"`
	Weight        []float64 `json:"weight"`
	Bias          []float64 `json:"bias"`
	YTrain        []float64 `json:"y_train"`
	RunningMean   []float64 `json:"running_mean"`
	RunningVar    []float64 `json:"running_var"`
	XEval         []float64 `json:"x_eval"`
	YEval         []float64 `json:"y_eval"`
	ReLU          []float64 `json:"relu"`
	LeakyReLU     []float64 `json:"leaky_relu"`
	GELU          []float64 `json:"gelu"`
	SiLU          []float64 `json:"silu"`
	Sigmoid       []float64 `json:"sigmoid"`
	Tanh          []float64 `json:"tanh"`
}

func loadGolden(t *testing.T) map[string][]goldenCase {
	t.Helper()
	data, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatalf("reading golden file: %v", err)
	}
	var g struct {
		Cases map[string][]goldenCase `json:"cases"`
	}
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatalf("testdata/golden.json: %v", err)
	}
	for _, name := range []string{"conv", "conv_transpose", "pool", "resize", "adaptive", "batchnorm", "layernorm", "activations"} {
		if len(g.Cases[name]) == 0 {
			t.Fatalf("testdata/golden.json has no %q cases", name)
		}
	}
	return g.Cases
}

func tensorOf(data []float64, dims []int) *tensors.Tensor {
	return tensors.FromFlatDataAndDimensions(append([]float64(nil), data...), dims...)
}

func TestGoldenTorch(t *testing.T) {
	cases := loadGolden(t)
	one := func(t *testing.T, f func(x *graph.Node) *graph.Node, c goldenCase) {
		got := run(t, func(in []*graph.Node) []*graph.Node { return []*graph.Node{f(in[0])} }, tensorOf(c.X, c.XShape))[0]
		assertClose(t, "vs torch", got, tensorOf(c.Y, c.YShape), 1e-9)
	}
	for i, c := range cases["conv"] {
		t.Run(fmt.Sprintf("conv%d", i), func(t *testing.T) {
			cfg := ConvConfig{Stride: c.Stride, Padding: c.Padding, Dilation: c.Dilation, Groups: c.Groups}
			got := run(t, func(in []*graph.Node) []*graph.Node { return []*graph.Node{Conv2D(in[0], in[1], cfg)} },
				tensorOf(c.X, c.XShape), tensorOf(c.Kernel, c.KernelShape))[0]
			assertClose(t, "vs torch", got, tensorOf(c.Y, c.YShape), 1e-9)
		})
	}
	for i, c := range cases["conv_transpose"] {
		t.Run(fmt.Sprintf("conv_transpose%d", i), func(t *testing.T) {
			cfg := ConvTransposeConfig{Stride: c.Stride, Padding: c.Padding, OutputPadding: c.OutputPadding,
				Dilation: c.Dilation, Groups: c.Groups}
			f := func(in []*graph.Node) *graph.Node { return ConvTranspose2D(in[0], in[1], cfg) }
			inputs := []*tensors.Tensor{tensorOf(c.X, c.XShape), tensorOf(c.Kernel, c.KernelShape)}
			got := run(t, func(in []*graph.Node) []*graph.Node { return []*graph.Node{f(in)} }, inputs...)[0]
			assertClose(t, "vs torch", got, tensorOf(c.Y, c.YShape), 1e-9)
			checkGradients(t, "ConvTranspose2D", f, inputs, 10)
		})
	}
	for i, c := range cases["pool"] {
		t.Run(fmt.Sprintf("%spool%d", c.Mode, i), func(t *testing.T) {
			one(t, func(x *graph.Node) *graph.Node {
				if c.Mode == "max" {
					return MaxPool2D(x, c.Window, c.Stride, c.Padding)
				}
				return AvgPool2D(x, c.Window, c.Stride, c.Padding)
			}, c)
		})
	}
	for i, c := range cases["resize"] {
		t.Run(fmt.Sprintf("%s_align%v_%d", c.Mode, c.AlignCorners, i), func(t *testing.T) {
			f := func(x *graph.Node) *graph.Node {
				if c.Mode == "nearest" {
					return UpsampleNearest(x, c.YShape[1], c.YShape[2])
				}
				return UpsampleBilinear(x, c.YShape[1], c.YShape[2], c.AlignCorners)
			}
			one(t, f, c)
			checkGradients(t, "resize", func(in []*graph.Node) *graph.Node { return f(in[0]) },
				[]*tensors.Tensor{tensorOf(c.X, c.XShape)}, 10)
		})
	}
	for i, c := range cases["adaptive"] {
		t.Run(fmt.Sprintf("adaptive%d", i), func(t *testing.T) {
			f := func(x *graph.Node) *graph.Node { return AdaptiveAvgPool2D(x, c.YShape[1], c.YShape[2]) }
			one(t, f, c)
			checkGradients(t, "adaptive", func(in []*graph.Node) *graph.Node { return f(in[0]) },
				[]*tensors.Tensor{tensorOf(c.X, c.XShape)}, 10)
		})
	}
	t.Run("activations", func(t *testing.T) {
		c := cases["activations"][0]
		x := tensorOf(c.X, []int{len(c.X)})
		out := run(t, func(in []*graph.Node) []*graph.Node {
			x := in[0]
			return []*graph.Node{ReLU(x), LeakyReLU(x, 0.1), GELU(x), SiLU(x), Sigmoid(x), Tanh(x)}
		}, x)
		for i, want := range [][]float64{c.ReLU, c.LeakyReLU, c.GELU, c.SiLU, c.Sigmoid, c.Tanh} {
			assertCloseFlat(t, fmt.Sprintf("activation %d", i), flat64(t, out[i]), want, 1e-12)
		}
		for i, f := range []func(*graph.Node) *graph.Node{ReLU, GELU, SiLU, Sigmoid, Tanh,
			func(x *graph.Node) *graph.Node { return LeakyReLU(x, 0.1) }} {
			// Avoid the kink of ReLU/LeakyReLU at 0: shift the grid by a quarter step.
			shifted := make([]float64, len(c.X))
			for j, v := range c.X {
				shifted[j] = v + 0.125
			}
			checkGradients(t, fmt.Sprintf("activation %d", i), func(in []*graph.Node) *graph.Node { return f(in[0]) },
				[]*tensors.Tensor{tensorOf(shifted, []int{len(c.X)})}, 17)
		}
	})
	t.Run("layernorm", func(t *testing.T) {
		c := cases["layernorm"][0]
		ctx := context.New()
		exec, err := context.NewExec(backend(t), ctx, func(ctx *context.Context, x *graph.Node) *graph.Node {
			return LayerNorm(ctx.In("ln"), x, 1e-5)
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := exec.Exec(tensorOf(c.X, c.XShape))
		if err != nil {
			t.Fatal(err)
		}
		assertClose(t, "LayerNorm vs torch", got[0], tensorOf(c.Y, c.XShape), 1e-9)
	})
	t.Run("batchnorm", func(t *testing.T) {
		c := cases["batchnorm"][0]
		ctx := context.New().Checked(false)
		build := func(training bool) *context.Exec {
			exec, err := context.NewExec(backend(t), ctx, func(ctx *context.Context, x *graph.Node) *graph.Node {
				ctx.SetTraining(x.Graph(), training)
				return BatchNorm(ctx.In("bn"), x).Done()
			})
			if err != nil {
				t.Fatal(err)
			}
			return exec
		}
		train, eval := build(true), build(false)
		// First call creates the variables; then set torch's affine parameters.
		x := tensorOf(c.X, c.XShape)
		if _, err := eval.Exec(x); err != nil {
			t.Fatal(err)
		}
		ctx.InspectVariable("/bn", VarWeight).MustSetValue(tensorOf(c.Weight, []int{3}))
		ctx.InspectVariable("/bn", VarBias).MustSetValue(tensorOf(c.Bias, []int{3}))
		got, err := train.Exec(x)
		if err != nil {
			t.Fatal(err)
		}
		assertClose(t, "BatchNorm train output vs torch", got[0], tensorOf(c.YTrain, c.XShape), 1e-9)
		assertClose(t, "running_mean vs torch", ctx.InspectVariable("/bn", VarRunningMean).MustValue(),
			tensorOf(c.RunningMean, []int{3}), 1e-9)
		assertClose(t, "running_var vs torch", ctx.InspectVariable("/bn", VarRunningVar).MustValue(),
			tensorOf(c.RunningVar, []int{3}), 1e-9)
		got, err = eval.Exec(tensorOf(c.XEval, c.XShape))
		if err != nil {
			t.Fatal(err)
		}
		assertClose(t, "BatchNorm eval output vs torch", got[0], tensorOf(c.YEval, c.XShape), 1e-9)
	})
}
