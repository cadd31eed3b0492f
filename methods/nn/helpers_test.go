package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gonomaly/gonomaly/methods/compute"
)

func backend(t testing.TB) backends.Backend {
	t.Helper()
	return compute.MustBackend()
}

// run compiles fn once and executes it on the inputs.
func run(t testing.TB, fn func([]*graph.Node) []*graph.Node, inputs ...*tensors.Tensor) []*tensors.Tensor {
	t.Helper()
	exec, err := graph.NewExec(backend(t), fn)
	if err != nil {
		t.Fatalf("NewExec: %v", err)
	}
	args := make([]any, len(inputs))
	for i, in := range inputs {
		args[i] = in
	}
	out, err := exec.Exec(args...)
	if err != nil {
		t.Fatalf("Exec: %v", err)
	}
	return out
}

// randTensor returns a float64 tensor of the given dimensions with values uniform in [-1, 1).
func randTensor(rng *rand.Rand, dims ...int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	data := make([]float64, n)
	for i := range data {
		data[i] = 2*rng.Float64() - 1
	}
	return tensors.FromFlatDataAndDimensions(data, dims...)
}

func flat64(t testing.TB, x *tensors.Tensor) []float64 {
	t.Helper()
	switch x.DType().String() {
	case "Float32":
		f := tensors.MustCopyFlatData[float32](x)
		out := make([]float64, len(f))
		for i, v := range f {
			out[i] = float64(v)
		}
		return out
	default:
		return tensors.MustCopyFlatData[float64](x)
	}
}

// assertClose fails when got and want differ in shape or any element by more than tol*(1+|want|).
func assertClose(t testing.TB, name string, got, want *tensors.Tensor, tol float64) {
	t.Helper()
	if !got.Shape().Equal(want.Shape()) {
		t.Fatalf("%s: shape %s, want %s", name, got.Shape(), want.Shape())
	}
	assertCloseFlat(t, name, flat64(t, got), flat64(t, want), tol)
}

func assertCloseFlat(t testing.TB, name string, g, w []float64, tol float64) {
	t.Helper()
	if len(g) != len(w) {
		t.Fatalf("%s: %d values, want %d", name, len(g), len(w))
	}
	worst, at := 0.0, -1
	for i := range g {
		d := math.Abs(g[i]-w[i]) / (1 + math.Abs(w[i]))
		if math.IsNaN(g[i]) != math.IsNaN(w[i]) || d > worst {
			worst, at = d, i
		}
		if math.IsNaN(g[i]) != math.IsNaN(w[i]) {
			worst = math.Inf(1)
		}
	}
	if worst > tol {
		t.Errorf("%s: element %d is %g, want %g (rel. error %g > %g)", name, at, g[at], w[at], worst, tol)
	}
}

// checkGradients compares the gradients of loss = sum(f(inputs) * weights) w.r.t. every input with
// central finite differences, on up to maxCoords random coordinates per input. Inputs must be float64.
func checkGradients(t *testing.T, name string, f func([]*graph.Node) *graph.Node, inputs []*tensors.Tensor, maxCoords int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 11))
	// Output shape first, to make fixed random weights.
	outShape := run(t, func(in []*graph.Node) []*graph.Node { return []*graph.Node{f(in)} }, inputs...)[0].Shape()
	weights := randTensor(rng, outShape.Dimensions...)
	lossFn := func(in []*graph.Node) *graph.Node {
		w := graph.Const(in[0].Graph(), weights)
		return graph.ReduceAllSum(graph.Mul(f(in), w))
	}
	grads := run(t, func(in []*graph.Node) []*graph.Node {
		loss := lossFn(in)
		return graph.Gradient(loss, in...)
	}, inputs...)
	exec, err := graph.NewExec(backend(t), func(in []*graph.Node) *graph.Node { return lossFn(in) })
	if err != nil {
		t.Fatal(err)
	}
	lossAt := func(in []*tensors.Tensor) float64 {
		args := make([]any, len(in))
		for i := range in {
			args[i] = in[i]
		}
		out, err := exec.Exec(args...)
		if err != nil {
			t.Fatal(err)
		}
		return flat64(t, out[0])[0]
	}
	const eps = 1e-6
	for i, input := range inputs {
		data := tensors.MustCopyFlatData[float64](input)
		dims := input.Shape().Dimensions
		analytic := flat64(t, grads[i])
		coords := rng.Perm(len(data))
		if len(coords) > maxCoords {
			coords = coords[:maxCoords]
		}
		var got, want []float64
		for _, c := range coords {
			perturbed := make([]*tensors.Tensor, len(inputs))
			copy(perturbed, inputs)
			plus := append([]float64(nil), data...)
			plus[c] += eps
			perturbed[i] = tensors.FromFlatDataAndDimensions(plus, dims...)
			lp := lossAt(perturbed)
			minus := append([]float64(nil), data...)
			minus[c] -= eps
			perturbed[i] = tensors.FromFlatDataAndDimensions(minus, dims...)
			lm := lossAt(perturbed)
			want = append(want, (lp-lm)/(2*eps))
			got = append(got, analytic[c])
		}
		assertCloseFlat(t, name+": gradient of input "+string(rune('0'+i)), got, want, 1e-5)
	}
}

// forceNative returns a nativeOps that picks the fastgo forms (on fastgo only) when native is true and
// the im2col forms otherwise.
func forceNative(native bool) func(*graph.Graph) bool {
	return func(g *graph.Graph) bool { return native && onFastgo(g) }
}
