package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"
)

// stripes returns n 12x12 single-channel images, label 0 for horizontal and 1 for vertical stripes
// of random phase and period, plus noise; labels one-hot [n, 2].
func stripes(rng *rand.Rand, n int) (*tensors.Tensor, *tensors.Tensor) {
	const size = 12
	x := make([]float32, 0, n*size*size)
	y := make([]float32, 0, n*2)
	for i := 0; i < n; i++ {
		label := i % 2
		period := 2 + rng.IntN(3)
		phase := rng.IntN(period)
		for r := 0; r < size; r++ {
			for c := 0; c < size; c++ {
				pos := r
				if label == 1 {
					pos = c
				}
				v := float32(0)
				if (pos+phase)%period == 0 {
					v = 1
				}
				x = append(x, v+float32(rng.NormFloat64()*0.2))
			}
		}
		y = append(y, float32(1-label), float32(label))
	}
	return tensors.FromFlatDataAndDimensions(x, n, size, size, 1), tensors.FromFlatDataAndDimensions(y, n, 2)
}

// smallNet is conv-bn-relu-pool, twice, then global average pooling and a linear classifier.
func smallNet(ctx *context.Context, x *graph.Node) *graph.Node {
	h := Conv(ctx.In("conv1"), x).Channels(8).Kernel(3).Padding(1).Bias(false).Done()
	h = ReLU(BatchNorm(ctx.In("bn1"), h).Done())
	h = MaxPool2D(h, 2, 2, 0)
	h = Conv(ctx.In("conv2"), h).Channels(8).Kernel(3).Stride(2).Padding(1).Done()
	h = ReLU(BatchNorm(ctx.In("bn2"), h).Done())
	h = AvgPool2D(h, 3, 1, 1)
	h = AdaptiveAvgPool2D(h, 1, 1)
	h = graph.Reshape(h, h.Shape().Dimensions[0], -1)
	return Linear(ctx.In("fc"), h, 2)
}

func crossEntropy(logits, onehot *graph.Node) *graph.Node {
	maxLogit := graph.StopGradient(graph.ReduceAndKeep(logits, graph.ReduceMax, -1))
	shifted := graph.Sub(logits, maxLogit)
	logZ := graph.Log(graph.ReduceAndKeep(graph.Exp(shifted), graph.ReduceSum, -1))
	return graph.ReduceAllMean(graph.Sub(logZ, graph.ReduceAndKeep(graph.Mul(shifted, onehot), graph.ReduceSum, -1)))
}

// TestSmallConvNetTrains trains conv-bn-relu-pool-linear with Adam on the selected backend (the
// pure-Go one when no XLA plugin is installed) and checks that the loss falls clearly.
func TestSmallConvNetTrains(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	x, y := stripes(rng, 32)
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(42); err != nil {
		t.Fatal(err)
	}
	opt := optimizers.Adam().LearningRate(0.02).Done()
	step, err := context.NewExec(backend(t), ctx, func(ctx *context.Context, in []*graph.Node) *graph.Node {
		g := in[0].Graph()
		ctx.SetTraining(g, true)
		loss := crossEntropy(smallNet(ctx, in[0]), in[1])
		opt.UpdateGraph(ctx, g, loss)
		return loss
	})
	if err != nil {
		t.Fatal(err)
	}
	evalLoss, err := context.NewExec(backend(t), ctx, func(ctx *context.Context, in []*graph.Node) *graph.Node {
		return crossEntropy(smallNet(ctx.Reuse(), in[0]), in[1])
	})
	if err != nil {
		t.Fatal(err)
	}
	lossOf := func(e *context.Exec) float64 {
		out, err := e.Exec(x, y)
		if err != nil {
			t.Fatal(err)
		}
		return flat64(t, out[0])[0]
	}
	first := lossOf(step)
	const steps = 40
	var last float64
	for i := 1; i < steps; i++ {
		last = lossOf(step)
	}
	runVar := ctx.InspectVariable("/bn1", VarRunningVar)
	if runVar == nil {
		t.Fatal("no /bn1 running_var variable")
	}
	rv := flat64(t, runVar.MustValue())
	changed := false
	for _, v := range rv {
		if math.Abs(v-1) > 1e-6 {
			changed = true
		}
	}
	if !changed {
		t.Errorf("bn1 running_var was never updated: %v", rv)
	}
	eval := lossOf(evalLoss)
	t.Logf("training loss: first step %.4f, step %d %.4f; eval-mode loss %.4f", first, steps, last, eval)
	if !(last < 0.5*first) || math.IsNaN(last) {
		t.Errorf("training loss did not fall clearly: first %.4f, after %d steps %.4f", first, steps, last)
	}
	if !(eval < 0.6*first) {
		t.Errorf("eval-mode loss (running statistics) %.4f did not fall clearly below the initial %.4f", eval, first)
	}
}

func TestDropout(t *testing.T) {
	ctx := context.New()
	input := tensors.FromFlatDataAndDimensions(make([]float32, 10000), 10000) // zeros; the graph adds one
	for _, training := range []bool{true, false} {
		exec, err := context.NewExec(backend(t), ctx, func(ctx *context.Context, x *graph.Node) *graph.Node {
			ctx.SetTraining(x.Graph(), training)
			return Dropout(ctx, graph.OnePlus(x), 0.25)
		})
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Exec(input)
		if err != nil {
			t.Fatal(err)
		}
		vals := flat64(t, out[0])
		zeros, sum := 0, 0.0
		for _, v := range vals {
			if v == 0 {
				zeros++
			} else if training && math.Abs(v-1/0.75) > 1e-6 {
				t.Fatalf("training: kept value %g, want %g", v, 1/0.75)
			} else if !training && v != 1 {
				t.Fatalf("inference: value %g, want 1", v)
			}
			sum += v
		}
		frac := float64(zeros) / float64(len(vals))
		if training && math.Abs(frac-0.25) > 0.03 {
			t.Errorf("training: dropped fraction %.3f, want about 0.25", frac)
		}
		if !training && zeros != 0 {
			t.Errorf("inference: %d values dropped", zeros)
		}
	}
}

func TestConvBuilderVariables(t *testing.T) {
	ctx := context.New()
	x := tensors.FromFlatDataAndDimensions(make([]float32, 2*9*9*4), 2, 9, 9, 4)
	exec, err := context.NewExec(backend(t), ctx, func(ctx *context.Context, x *graph.Node) *graph.Node {
		return Conv(ctx.In("c"), x).Channels(6).Kernel(3).Stride(2).Padding(1).Groups(2).Done()
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Exec(x)
	if err != nil {
		t.Fatal(err)
	}
	if got := out[0].Shape().Dimensions; len(got) != 4 || got[0] != 2 || got[1] != 5 || got[2] != 5 || got[3] != 6 {
		t.Errorf("output shape %v, want [2 5 5 6]", got)
	}
	w := ctx.InspectVariable("/c", VarWeight)
	if w == nil || w.Shape().String() != "(Float32)[3 3 2 6]" {
		t.Fatalf("weight variable %v, want shape [3 3 2 6]", w)
	}
	bound := 1 / math.Sqrt(2*3*3)
	for _, v := range flat64(t, w.MustValue()) {
		if math.Abs(v) > bound {
			t.Fatalf("weight %g outside torch's init bound ±%g", v, bound)
		}
	}
	// The input is zero, so the output is the bias, broadcast.
	b := flat64(t, ctx.InspectVariable("/c", VarBias).MustValue())
	o := flat64(t, out[0])
	for i, v := range o {
		if v != b[i%6] {
			t.Fatalf("output %d = %g, want bias %g", i, v, b[i%6])
		}
	}
}

func TestConvTransposeBuilder(t *testing.T) {
	ctx := context.New()
	x := tensors.FromFlatDataAndDimensions(make([]float32, 2*3*4*6), 2, 3, 4, 6)
	exec, err := context.NewExec(backend(t), ctx, func(ctx *context.Context, x *graph.Node) *graph.Node {
		return ConvTranspose(ctx.In("up"), graph.OnePlus(x)).Channels(4).Kernel(3).Stride(2).Padding(1).
			OutputPadding(1).Groups(2).Done()
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Exec(x)
	if err != nil {
		t.Fatal(err)
	}
	if got := out[0].Shape().Dimensions; got[0] != 2 || got[1] != 6 || got[2] != 8 || got[3] != 4 {
		t.Errorf("output shape %v, want [2 6 8 4] (torch: (H-1)*2 - 2 + 3 + 1)", got)
	}
	w := ctx.InspectVariable("/up", VarWeight)
	if w == nil || w.Shape().String() != "(Float32)[3 3 6 2]" {
		t.Fatalf("weight variable %v, want shape [3 3 6 2]", w)
	}
}
