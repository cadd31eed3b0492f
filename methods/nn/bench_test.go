package nn

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"
)

// The benchmark: 3x3 conv 64->64 on 64x64, batch 8, padding 1 (stride 1).
const (
	benchN, benchH, benchW, benchC = 8, 64, 64, 64
	benchK                         = 3
)

// benchConvFLOPs is 2*N*Ho*Wo*Cout*KH*KW*Cin, the multiply-adds of the forward convolution.
const benchConvFLOPs = 2.0 * benchN * benchH * benchW * benchC * benchK * benchK * benchC

func randTensor32(rng *rand.Rand, dims ...int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = float32(2*rng.Float64() - 1)
	}
	return tensors.FromFlatDataAndDimensions(data, dims...)
}

// benchGraph compiles fn once and times its execution, reporting GFLOP/s for flops per call.
// unsupportedOK makes benchGraph skip (instead of fail) when the backend cannot build the graph.
func benchGraph(b *testing.B, flops float64, fn func([]*graph.Node) []*graph.Node, inputs ...*tensors.Tensor) {
	benchGraphMaybe(b, false, flops, fn, inputs...)
}

func benchGraphMaybe(b *testing.B, unsupportedOK bool, flops float64, fn func([]*graph.Node) []*graph.Node,
	inputs ...*tensors.Tensor) {
	exec, err := graph.NewExec(backend(b), fn)
	if err != nil {
		b.Fatal(err)
	}
	args := make([]any, len(inputs))
	for i, in := range inputs {
		args[i] = in
	}
	if _, err := exec.Exec(args...); err != nil { // compile and warm up outside the timed loop
		if unsupportedOK {
			b.Skipf("not supported by backend %s: %v", backend(b).Name(), err)
		}
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		outs, err := exec.Exec(args...)
		if err != nil {
			b.Fatal(err)
		}
		for _, o := range outs {
			o.FinalizeAll()
		}
	}
	if flops > 0 {
		b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	}
}

func convBenchInputs() (*tensors.Tensor, *tensors.Tensor) {
	rng := rand.New(rand.NewPCG(1, 1))
	return randTensor32(rng, benchN, benchH, benchW, benchC), randTensor32(rng, benchK, benchK, benchC, benchC)
}

func convolveRef(x, k *graph.Node) *graph.Node {
	return graph.Convolve(x, k).StridePerAxis(1, 1).PaddingPerDim([][2]int{{1, 1}, {1, 1}}).Done()
}

func BenchmarkConv2DForward(b *testing.B) {
	x, k := convBenchInputs()
	benchGraph(b, benchConvFLOPs, func(in []*graph.Node) []*graph.Node {
		return []*graph.Node{Conv2D(in[0], in[1], ConvConfig{Padding: 1})}
	}, x, k)
}

// Forward+backward does the forward product plus two of the same size (input and kernel gradients).
func BenchmarkConv2DForwardBackward(b *testing.B) {
	x, k := convBenchInputs()
	benchGraph(b, 3*benchConvFLOPs, func(in []*graph.Node) []*graph.Node {
		y := Conv2D(in[0], in[1], ConvConfig{Padding: 1})
		return graph.Gradient(graph.ReduceAllSum(graph.Mul(y, y)), in[0], in[1])
	}, x, k)
}

func BenchmarkConvolveForward(b *testing.B) {
	x, k := convBenchInputs()
	benchGraph(b, benchConvFLOPs, func(in []*graph.Node) []*graph.Node { return []*graph.Node{convolveRef(in[0], in[1])} }, x, k)
}

// On the pure-Go backend this is skipped: ConvGeneral's gradient needs Reverse, which it lacks.
func BenchmarkConvolveForwardBackward(b *testing.B) {
	x, k := convBenchInputs()
	benchGraphMaybe(b, true, 3*benchConvFLOPs, func(in []*graph.Node) []*graph.Node {
		y := convolveRef(in[0], in[1])
		return graph.Gradient(graph.ReduceAllSum(graph.Mul(y, y)), in[0], in[1])
	}, x, k)
}

// BenchmarkMatMul multiplies [N*H*W, 9*Cin] by [9*Cin, Cout]: the same FLOPs as the convolution.
func BenchmarkMatMul(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	lhs := randTensor32(rng, benchN*benchH*benchW, benchK*benchK*benchC)
	rhs := randTensor32(rng, benchK*benchK*benchC, benchC)
	benchGraph(b, benchConvFLOPs, func(in []*graph.Node) []*graph.Node { return []*graph.Node{MatMul(in[0], in[1])} }, lhs, rhs)
}

// BenchmarkIm2col times the gather form of im2col alone (no FLOPs reported: compare ns/op with MatMul's).
func BenchmarkIm2col(b *testing.B) {
	x, _ := convBenchInputs()
	benchGraph(b, 0, func(in []*graph.Node) []*graph.Node {
		d := in[0].Shape().Dimensions
		win := newWindow("bench", d[0], d[1], d[2], benchK, benchK, 1, 1, 1, 1, 1, 1)
		return []*graph.Node{im2col(in[0], graph.Const(in[0].Graph(), win.indices()), win, 0)}
	}, x)
}

// BenchmarkMaxPoolStem is ResNet's stem pooling (3x3, stride 2, padding 1) on [8,112,112,64]: forward
// and forward+backward, reported as ms per call.
func BenchmarkMaxPoolStem(b *testing.B) {
	x := randTensor32(rand.New(rand.NewPCG(2, 2)), 8, 112, 112, 64)
	for _, backward := range []bool{false, true} {
		name := "Forward"
		if backward {
			name = "ForwardBackward"
		}
		b.Run(name, func(b *testing.B) {
			benchGraph(b, 0, func(in []*graph.Node) []*graph.Node {
				y := MaxPool2D(in[0], 3, 2, 1)
				if !backward {
					return []*graph.Node{y}
				}
				return graph.Gradient(graph.ReduceAllSum(graph.Mul(y, y)), in[0])
			}, x)
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/call")
		})
	}
}

// BenchmarkConv2DStem is ResNet's stem convolution (7x7, stride 2, padding 3, 3->64) on 4 images of
// 224x224, forward.
func BenchmarkConv2DStem(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	x, k := randTensor32(rng, 4, 224, 224, 3), randTensor32(rng, 7, 7, 3, 64)
	benchGraph(b, 2.0*4*112*112*64*49*3, func(in []*graph.Node) []*graph.Node {
		return []*graph.Node{Conv2D(in[0], in[1], ConvConfig{Stride: 2, Padding: 3})}
	}, x, k)
}

// BenchmarkConv2DVsMatMul alternates the forward convolution and the same-FLOPs MatMul call by call,
// so both see the same machine load, and reports their GFLOP/s and the ratio (the target:
// forward convolution at >= 80% of the backend's MatMul speed).
func BenchmarkConv2DVsMatMul(b *testing.B) {
	x, k := convBenchInputs()
	rng := rand.New(rand.NewPCG(1, 1))
	lhs := randTensor32(rng, benchN*benchH*benchW, benchK*benchK*benchC)
	rhs := randTensor32(rng, benchK*benchK*benchC, benchC)
	conv, err := graph.NewExec(backend(b), func(x, k *graph.Node) *graph.Node {
		return Conv2D(x, k, ConvConfig{Padding: 1})
	})
	if err != nil {
		b.Fatal(err)
	}
	mm, err := graph.NewExec(backend(b), graph.MatMul)
	if err != nil {
		b.Fatal(err)
	}
	call := func(e *graph.Exec, args ...any) time.Duration {
		start := time.Now()
		out, err := e.Exec(args...)
		if err != nil {
			b.Fatal(err)
		}
		for _, o := range out {
			o.FinalizeAll()
		}
		return time.Since(start)
	}
	call(conv, x, k) // compile and warm up
	call(mm, lhs, rhs)
	var tConv, tMM time.Duration
	b.ResetTimer()
	for b.Loop() {
		tConv += call(conv, x, k)
		tMM += call(mm, lhs, rhs)
	}
	convRate := benchConvFLOPs * float64(b.N) / tConv.Seconds() / 1e9
	mmRate := benchConvFLOPs * float64(b.N) / tMM.Seconds() / 1e9
	b.ReportMetric(convRate, "conv_GFLOP/s")
	b.ReportMetric(mmRate, "matmul_GFLOP/s")
	b.ReportMetric(100*convRate/mmRate, "conv_%_of_matmul")
}

// BenchmarkConv2DTrainStep is one training step of a 3x3 convolution 64->64 on 8x64x64 (forward, loss
// mean(y²), backward, GoMLX's Adam), as ../shared/bench/torch_ref.py's train_conv3x3_64to64_64x64_b8.
func BenchmarkConv2DTrainStep(b *testing.B) {
	x, _ := convBenchInputs()
	ctx := context.New()
	opt := optimizers.Adam().LearningRate(1e-3).Done()
	exec, err := context.NewExec(backend(b), ctx, func(ctx *context.Context, x *graph.Node) *graph.Node {
		y := Conv(ctx, x).Channels(benchC).Kernel(benchK).Padding(1).Bias(false).Done()
		loss := graph.ReduceAllMean(graph.Square(y))
		opt.UpdateGraph(ctx, x.Graph(), loss)
		return loss
	})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := exec.Exec(x); err != nil { // compile, create the variables, warm up
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		out, err := exec.Exec(x)
		if err != nil {
			b.Fatal(err)
		}
		out[0].FinalizeAll()
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/step")
	b.ReportMetric(3*benchConvFLOPs*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
