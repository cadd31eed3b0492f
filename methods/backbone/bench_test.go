package backbone

import (
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"
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
