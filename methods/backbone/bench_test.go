package backbone

import (
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"
	"github.com/gonomaly/gonomaly/methods/compute"
)

// benchmarkToLayer3 measures ms/image from input to layer3 with seeded weights, batch of batch images
// at size x size; compilation happens before the timer starts. PyTorch here (2 threads): ResNet-18 at
// 224 px 18 ms/image, Wide-ResNet-50-2 at 256 px 137 ms/image.
func benchmarkToLayer3(b *testing.B, arch string, size, batch int) {
	bb, err := New(arch, Options{Weights: "random"})
	if err != nil {
		b.Fatal(err)
	}
	e, err := mlctx.NewExec(compute.MustBackend(), mlctx.New(), func(ctx *mlctx.Context, x *graph.Node) *graph.Node {
		return bb.Forward(ctx, x, "layer3")[0]
	})
	if err != nil {
		b.Fatal(err)
	}
	data := make([]float32, batch*size*size*3)
	for i := range data {
		data[i] = float32(i%251) / 251
	}
	x := tensors.FromFlatDataAndDimensions(data, batch, size, size, 3)
	out, err := e.Exec1(x) // compile and warm up
	if err != nil {
		b.Fatal(err)
	}
	out.FinalizeAll()
	b.ResetTimer()
	for range b.N {
		out, err := e.Exec1(x)
		if err != nil {
			b.Fatal(err)
		}
		out.FinalizeAll()
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*batch), "ms/image")
}

func BenchmarkResNet18Layer3At224(b *testing.B)     { benchmarkToLayer3(b, "resnet18", 224, 4) }
func BenchmarkWideResNet50Layer3At256(b *testing.B) { benchmarkToLayer3(b, "wide_resnet50_2", 256, 2) }

// benchmarkTrainStep measures one training step of the backbone to layer3 (forward, loss mean(y²),
// backward through every convolution, GoMLX's Adam on all parameters), batch 8, as
// ../shared/bench/torch_ref.py's train_resnet18_to_layer3_*px_b8. Batch norm stays in inference mode
// here (torch's runs in training mode), which costs less than the convolutions either way.
func benchmarkTrainStep(b *testing.B, arch string, size int) {
	bb, err := New(arch, Options{Weights: "random", Trainable: true})
	if err != nil {
		b.Fatal(err)
	}
	opt := optimizers.Adam().LearningRate(1e-3).Done()
	e, err := mlctx.NewExec(compute.MustBackend(), mlctx.New(), func(ctx *mlctx.Context, x *graph.Node) *graph.Node {
		y := bb.Forward(ctx, x, "layer3")[0]
		loss := graph.ReduceAllMean(graph.Square(y))
		opt.UpdateGraph(ctx, x.Graph(), loss)
		return loss
	})
	if err != nil {
		b.Fatal(err)
	}
	data := make([]float32, 8*size*size*3)
	for i := range data {
		data[i] = float32(i%251) / 251
	}
	x := tensors.FromFlatDataAndDimensions(data, 8, size, size, 3)
	if _, err := e.Exec(x); err != nil { // compile, create the optimizer state, warm up
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		out, err := e.Exec(x)
		if err != nil {
			b.Fatal(err)
		}
		out[0].FinalizeAll()
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/step")
}

func BenchmarkResNet18TrainStepAt96(b *testing.B)  { benchmarkTrainStep(b, "resnet18", 96) }
func BenchmarkResNet18TrainStepAt128(b *testing.B) { benchmarkTrainStep(b, "resnet18", 128) }
