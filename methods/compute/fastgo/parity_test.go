package fastgo_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gonomaly/gonomaly/methods/compute/fastgo"
	"github.com/gonomaly/gonomaly/methods/compute/fastgo/sgemm"
)

var (
	strict    backends.Backend // fastgo that refuses to fall back: proves the graph ran on our kernels
	reference backends.Backend // GoMLX's pure-Go backend
)

func init() {
	var err error
	if strict, err = fastgo.New("nofallback"); err != nil {
		panic(err)
	}
	if reference, err = simplego.New("ops_sequential"); err != nil {
		panic(err)
	}
}

// parity runs fn on both backends and compares every output: floats within tol relative to the
// output's largest magnitude, everything else exactly.
func parity(t *testing.T, name string, tol float64, fn func([]*Node) []*Node, inputs ...*tensors.Tensor) {
	t.Helper()
	args := func() []any { // a tensor belongs to the backend it was used on: one copy each
		a := make([]any, len(inputs))
		for i, in := range inputs {
			c, err := in.LocalClone()
			if err != nil {
				t.Fatal(err)
			}
			a[i] = c
		}
		return a
	}
	got, err := run(strict, fn, args())
	if err != nil {
		t.Fatalf("%s on fastgo: %v", name, err)
	}
	want, err := run(reference, fn, args())
	if err != nil {
		t.Fatalf("%s on simplego: %v", name, err)
	}
	for i := range want {
		compareTensors(t, fmt.Sprintf("%s output %d", name, i), got[i], want[i], tol)
	}
}

func run(b backends.Backend, fn func([]*Node) []*Node, args []any) ([]*tensors.Tensor, error) {
	e, err := NewExec(b, fn)
	if err != nil {
		return nil, err
	}
	return e.Exec(args...)
}

func compareTensors(t *testing.T, name string, got, want *tensors.Tensor, tol float64) {
	t.Helper()
	if !got.Shape().Equal(want.Shape()) {
		t.Fatalf("%s: shape %s, want %s", name, got.Shape(), want.Shape())
	}
	g, w := flat64(got), flat64(want)
	scale := 0.0
	for _, v := range w {
		if !math.IsInf(v, 0) && !math.IsNaN(v) {
			scale = math.Max(scale, math.Abs(v))
		}
	}
	exact := !want.DType().IsFloat()
	bad := 0
	for i := range w {
		same := g[i] == w[i] || (math.IsNaN(g[i]) && math.IsNaN(w[i]))
		if !same && !exact && math.Abs(g[i]-w[i]) <= tol*math.Max(scale, 1e-30) {
			same = true
		}
		if !same {
			if bad < 5 {
				t.Errorf("%s: element %d = %v, want %v (scale %g)", name, i, g[i], w[i], scale)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d elements differ", name, bad, len(w))
	}
}

func flat64(t *tensors.Tensor) []float64 {
	var out []float64
	t.ConstFlatData(func(flat any) {
		switch f := flat.(type) {
		case []float32:
			for _, v := range f {
				out = append(out, float64(v))
			}
		case []float64:
			out = append(out, f...)
		case []int32:
			for _, v := range f {
				out = append(out, float64(v))
			}
		case []int64:
			for _, v := range f {
				out = append(out, float64(v))
			}
		case []uint32:
			for _, v := range f {
				out = append(out, float64(v))
			}
		case []uint64:
			for _, v := range f {
				out = append(out, float64(v))
			}
		case []uint8:
			for _, v := range f {
				out = append(out, float64(v))
			}
		case []bool:
			for _, v := range f {
				if v {
					out = append(out, 1)
				} else {
					out = append(out, 0)
				}
			}
		default:
			panic(fmt.Sprintf("flat64: %T", flat))
		}
	})
	return out
}

func randTensor(rng *rand.Rand, dt dtypes.DType, dims ...int) *tensors.Tensor {
	t := tensors.FromShape(shapes.Make(dt, dims...))
	t.MutableFlatData(func(flat any) {
		switch f := flat.(type) {
		case []float32:
			for i := range f {
				f[i] = float32(rng.NormFloat64())
			}
		case []float64:
			for i := range f {
				f[i] = rng.NormFloat64()
			}
		case []int32:
			for i := range f {
				f[i] = int32(rng.IntN(7)) - 3
			}
		case []int64:
			for i := range f {
				f[i] = int64(rng.IntN(7)) - 3
			}
		}
	})
	return t
}

func TestElementwiseParity(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	unary := map[string]func(*Node) *Node{
		"Neg": Neg, "Abs": Abs, "Exp": Exp, "Expm1": Expm1, "Tanh": Tanh, "Logistic": Logistic, "Sign": Sign,
		"Floor": Floor, "Ceil": Ceil, "Round": Round, "Sin": Sin, "Cos": Cos, "Erf": Erf,
		"Log":   func(x *Node) *Node { return Log(Abs(x)) },
		"Log1p": func(x *Node) *Node { return Log1p(Abs(x)) },
		"Sqrt":  func(x *Node) *Node { return Sqrt(Abs(x)) },
		"Rsqrt": func(x *Node) *Node { return Rsqrt(AddScalar(Abs(x), 0.1)) },
		"IsFinite": func(x *Node) *Node {
			return ConvertDType(IsFinite(Div(x, Round(x))), x.DType())
		},
	}
	binary := map[string]func(a, b *Node) *Node{
		"Add": Add, "Sub": Sub, "Mul": Mul, "Div": Div, "Max": Max, "Min": Min,
		"Pow":         func(a, b *Node) *Node { return Pow(Abs(a), b) },
		"GreaterThan": func(a, b *Node) *Node { return ConvertDType(GreaterThan(a, b), a.DType()) },
		"LessOrEqual": func(a, b *Node) *Node { return ConvertDType(LessOrEqual(a, b), a.DType()) },
		"Equal":       func(a, b *Node) *Node { return ConvertDType(Equal(a, Round(b)), a.DType()) },
		"LogicalAndOr": func(a, b *Node) *Node {
			return ConvertDType(Or(And(GreaterThan(a, b), LessThan(a, ScalarOne(a.Graph(), a.DType()))), IsNaN(a)), a.DType())
		},
	}
	for _, dt := range []dtypes.DType{dtypes.Float32, dtypes.Float64} {
		x := randTensor(rng, dt, 3, 70000) // large enough to be split over the cores
		for name, f := range unary {
			parity(t, name+"/"+dt.String(), 1e-6, func(in []*Node) []*Node { return []*Node{f(in[0])} }, x)
		}
		y := randTensor(rng, dt, 3, 70000)
		parity(t, "Where/"+dt.String(), 0, func(in []*Node) []*Node {
			return []*Node{Where(GreaterThan(in[0], in[1]), in[0], in[1]), Where(GreaterThan(in[0], in[1]), in[0], ScalarZero(in[0].Graph(), dt)),
				Mod(in[0], AddScalar(Abs(in[1]), 0.5))}
		}, x, y)
		row := randTensor(rng, dt, 1, 70000)
		col := randTensor(rng, dt, 3, 1)
		for name, f := range binary {
			parity(t, name+"/"+dt.String(), 1e-6, func(in []*Node) []*Node {
				return []*Node{f(in[0], in[1]), f(in[0], in[2]), f(in[3], in[0]), f(in[0], Scalar(in[0].Graph(), dt, 0.25)),
					f(Scalar(in[0].Graph(), dt, -0.5), in[1])}
			}, x, y, row, col)
		}
	}
	for _, dt := range []dtypes.DType{dtypes.Int32, dtypes.Int64} {
		a, b := randTensor(rng, dt, 5, 9), randTensor(rng, dt, 5, 9)
		parity(t, "int/"+dt.String(), 0, func(in []*Node) []*Node {
			return []*Node{Add(in[0], in[1]), Mul(in[0], in[1]), Max(in[0], in[1]), Neg(in[0]), Abs(in[1]),
				ConvertDType(in[0], dtypes.Float32), Clamp(Scalar(in[0].Graph(), dt, -1), in[0], Scalar(in[0].Graph(), dt, 2))}
		}, a, b)
	}
	c := randTensor(rng, dtypes.Float32, 4, 6)
	parity(t, "convert+clamp", 0, func(in []*Node) []*Node {
		return []*Node{ConvertDType(in[0], dtypes.Int32), ConvertDType(in[0], dtypes.Float64), ConvertDType(in[0], dtypes.Int64),
			Clamp(Scalar(in[0].Graph(), dtypes.Float32, -0.5), in[0], Scalar(in[0].Graph(), dtypes.Float32, 0.5))}
	}, c)
}

func TestMovementParity(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, dt := range []dtypes.DType{dtypes.Float32, dtypes.Float64, dtypes.Int32} {
		x := randTensor(rng, dt, 4, 5, 6, 7)
		parity(t, "movement/"+dt.String(), 0, func(in []*Node) []*Node {
			x := in[0]
			return []*Node{
				TransposeAllDims(x, 3, 1, 0, 2),
				TransposeAllDims(x, 0, 1, 3, 2),
				Slice(x, AxisRange(1, 4), AxisRange(), AxisRange(0, 6).Stride(2), AxisElem(3)),
				Concatenate([]*Node{x, Neg(x), x}, 2),
				Concatenate([]*Node{x, x}, 0),
				BroadcastToDims(Reshape(ReduceSum(x, 1), 4, 1, 6, 7), 4, 3, 6, 7),
				Iota(x.Graph(), shapes.Make(dt, 3, 4, 2), 1),
			}
		}, x)
	}
}

func TestLargeTransposeParity(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	x := randTensor(rng, dtypes.Float32, 3, 70, 50) // tiled: both sides exceed a tile, with ragged edges
	parity(t, "large transpose", 0, func(in []*Node) []*Node {
		return []*Node{TransposeAllDims(in[0], 0, 2, 1), TransposeAllDims(in[0], 2, 1, 0), TransposeAllDims(in[0], 1, 0, 2)}
	}, x)
	// 2-D, split over the cores in blocks of rows (each block tiled), and a block narrower than a tile.
	for _, dims := range [][]int{{2000, 70}, {70, 2000}, {4097, 33}, {33, 31}} {
		x := randTensor(rng, dtypes.Float32, dims...)
		parity(t, fmt.Sprintf("transpose %v", dims), 0, func(in []*Node) []*Node {
			return []*Node{Transpose(in[0], 0, 1), Transpose(Neg(in[0]), 0, 1)}
		}, x)
	}
}

func TestGatherScatterParity(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	x := randTensor(rng, dtypes.Float32, 50, 8)
	idx := make([]int32, 3*4)
	for i := range idx {
		idx[i] = int32(rng.IntN(50))
	}
	idxT := tensors.FromFlatDataAndDimensions(idx, 3, 4, 1)
	parity(t, "gather rows", 0, func(in []*Node) []*Node {
		g := Gather(in[0], in[1])
		upd := MulScalar(g, 2)
		return []*Node{g, ScatterSum(Zeros(in[0].Graph(), in[0].Shape()), in[1], upd, false, false),
			GatherSlices(Reshape(in[0], 10, 5, 8), []int{1, 2}, Const(in[0].Graph(), [][]int32{{1, 2}, {4, 7}, {0, 0}}), []int{3, 1}, false)}
	}, x, idxT)
}

func TestReduceParity(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, dt := range []dtypes.DType{dtypes.Float32, dtypes.Float64, dtypes.Int32} {
		x := randTensor(rng, dt, 6, 1, 50, 33)
		parity(t, "reduce/"+dt.String(), 1e-4, func(in []*Node) []*Node {
			x := in[0]
			return []*Node{ReduceSum(x, 0), ReduceSum(x, 2, 3), ReduceSum(x, 0, 2), ReduceAllSum(x), ReduceMax(x, 3),
				ReduceMin(x, 0, 1), ReduceAllMax(x), ArgMax(x, 2, dtypes.Int32), ArgMin(x, 0, dtypes.Int64)}
		}, x)
	}
	big := randTensor(rng, dtypes.Float32, 300, 1000)
	parity(t, "reduce large", 1e-4, func(in []*Node) []*Node {
		return []*Node{ReduceSum(in[0], 1), ReduceSum(in[0], 0), ReduceAllSum(in[0]), ReduceMax(in[0], 1)}
	}, big)
}

// forEachKernel runs f under every SGEMM micro-kernel this CPU has (AVX-512, AVX2+FMA, pure Go).
func forEachKernel(t *testing.T, f func(t *testing.T)) {
	saved := sgemm.Current()
	defer sgemm.SetKernel(saved)
	for _, k := range []sgemm.Kernel{sgemm.AVX512, sgemm.AVX2, sgemm.Generic} {
		if err := sgemm.SetKernel(k); err != nil {
			t.Logf("%s: not on this CPU (%v)", k, err)
			continue
		}
		t.Run(k.String(), f)
	}
}

func TestDotGeneralParity(t *testing.T)  { forEachKernel(t, testDotGeneralParity) }
func TestConvGeneralParity(t *testing.T) { forEachKernel(t, testConvGeneralParity) }

func testDotGeneralParity(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, dt := range []dtypes.DType{dtypes.Float32, dtypes.Float64} {
		a, b := randTensor(rng, dt, 3, 37, 29), randTensor(rng, dt, 3, 29, 41)
		c := randTensor(rng, dt, 29, 5, 37)
		d := randTensor(rng, dt, 3, 37, 8)
		parity(t, "dot/"+dt.String(), 1e-5, func(in []*Node) []*Node {
			a, b, c := in[0], in[1], in[2]
			return []*Node{
				DotGeneral(a, []int{2}, []int{0}, b, []int{1}, []int{0}),     // batched matmul
				DotGeneral(a, []int{1}, []int{0}, in[3], []int{1}, []int{0}), // contract non-trailing axes
				DotGeneral(a, []int{2}, nil, c, []int{0}, nil),               // no batch, rhs free axes 5x37
				DotGeneral(a, []int{0, 2}, nil, b, []int{0, 1}, nil),         // two contracting axes
				DotGeneral(c, []int{0, 2}, nil, a, []int{2, 1}, []int{}),     // contracting axes in another order
			}
		}, a, b, c, d)
	}
	// Large enough for the threaded GEMM and the blocked paths.
	x, y := randTensor(rng, dtypes.Float32, 300, 700), randTensor(rng, dtypes.Float32, 700, 260)
	parity(t, "matmul large", 1e-5, func(in []*Node) []*Node {
		return []*Node{Dot(in[0], in[1]), DotGeneral(in[1], []int{0}, nil, in[0], []int{1}, nil)}
	}, x, y)
}

func TestRNGParity(t *testing.T) {
	state, err := RNGStateFromSeed(42)
	if err != nil {
		t.Fatal(err)
	}
	parity(t, "rng", 0, func(in []*Node) []*Node {
		s1, u := RandomUniform(in[0], shapes.Make(dtypes.Float32, 5, 77))
		s2, n := RandomNormal(s1, shapes.Make(dtypes.Float64, 13))
		_, i := RandomIntN(s2, 10, shapes.Make(dtypes.Int32, 9))
		return []*Node{u, n, i, Slice(s2, AxisRange(0, 2))} // the pure-Go backend leaves the state's third word unset
	}, state)
}

func testConvGeneralParity(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	nhwc := backends.ConvolveAxesConfig{InputBatch: 0, InputSpatial: []int{1, 2}, InputChannels: 3,
		KernelSpatial: []int{0, 1}, KernelInputChannels: 2, KernelOutputChannels: 3,
		OutputBatch: 0, OutputSpatial: []int{1, 2}, OutputChannels: 3}
	nchw := backends.ConvolveAxesConfig{InputBatch: 0, InputChannels: 1, InputSpatial: []int{2, 3},
		KernelOutputChannels: 0, KernelInputChannels: 1, KernelSpatial: []int{2, 3},
		OutputBatch: 0, OutputChannels: 1, OutputSpatial: []int{2, 3}}
	// The weight gradient of an NHWC convolution as a convolution: channels as batch, batch as channels.
	wgrad := backends.ConvolveAxesConfig{InputBatch: 3, InputChannels: 0, InputSpatial: []int{1, 2},
		KernelInputChannels: 0, KernelOutputChannels: 3, KernelSpatial: []int{1, 2},
		OutputBatch: 2, OutputSpatial: []int{0, 1}, OutputChannels: 3}
	type convCase struct {
		name        string
		x, k        []int
		axes        backends.ConvolveAxesConfig
		strides     []int
		pad         [][2]int
		inDil, kDil []int
		groups      int
	}
	for _, c := range []convCase{
		{"3x3 pad1", []int{2, 9, 11, 5}, []int{3, 3, 5, 7}, nhwc, nil, [][2]int{{1, 1}, {1, 1}}, nil, nil, 1},
		{"3x3 stride2", []int{2, 9, 11, 5}, []int{3, 3, 5, 7}, nhwc, []int{2, 2}, [][2]int{{1, 1}, {1, 1}}, nil, nil, 1},
		{"7x7 stride2 pad3", []int{1, 20, 18, 3}, []int{7, 7, 3, 8}, nhwc, []int{2, 2}, [][2]int{{3, 3}, {3, 3}}, nil, nil, 1},
		{"dilation2", []int{2, 12, 10, 4}, []int{3, 3, 4, 6}, nhwc, nil, [][2]int{{2, 2}, {2, 2}}, nil, []int{2, 2}, 1},
		{"groups", []int{2, 8, 8, 6}, []int{3, 3, 2, 9}, nhwc, nil, [][2]int{{1, 1}, {1, 1}}, nil, nil, 3},
		{"1x1", []int{3, 5, 5, 16}, []int{1, 1, 16, 4}, nhwc, nil, nil, nil, nil, 1},
		{"nchw", []int{2, 4, 9, 7}, []int{6, 4, 3, 2}, nchw, []int{1, 2}, [][2]int{{0, 1}, {2, 0}}, nil, nil, 1},
		{"input dilation (transposed)", []int{2, 5, 6, 4}, []int{3, 3, 4, 3}, nhwc, nil, [][2]int{{2, 2}, {2, 3}}, []int{2, 2}, nil, 1},
		{"negative padding", []int{1, 9, 9, 2}, []int{3, 3, 2, 2}, nhwc, nil, [][2]int{{-1, 0}, {1, -2}}, nil, nil, 1},
		{"weight gradient", []int{2, 9, 11, 5}, []int{2, 5, 6, 7}, wgrad, []int{1, 1}, [][2]int{{1, 1}, {1, 1}}, nil, []int{2, 2}, 1},
	} {
		x, k := randTensor(rng, dtypes.Float32, c.x...), randTensor(rng, dtypes.Float32, c.k...)
		parity(t, "conv "+c.name, 1e-5, func(in []*Node) []*Node {
			ones := []int{1, 1}
			return []*Node{ConvGeneral(in[0], in[1], c.axes, or(c.strides, ones), c.pad, or(c.inDil, ones), or(c.kDil, ones), c.groups, 1)}
		}, x, k)
	}
}

func or(a, b []int) []int {
	if a == nil {
		return b
	}
	return a
}

func TestReduceWindowParity(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	x := randTensor(rng, dtypes.Float32, 2, 11, 10, 6)
	parity(t, "pooling", 1e-6, func(in []*Node) []*Node {
		x := in[0]
		return []*Node{
			BackendReduceWindow(x, backends.ReduceOpMax, []int{1, 3, 3, 1}, []int{1, 2, 2, 1}, nil, nil, [][2]int{{0, 0}, {1, 1}, {1, 1}, {0, 0}}),
			BackendReduceWindow(x, backends.ReduceOpSum, []int{1, 2, 3, 1}, []int{1, 1, 2, 1}, nil, nil, [][2]int{{0, 0}, {0, 1}, {2, 0}, {0, 0}}),
			BackendReduceWindow(x, backends.ReduceOpMin, []int{2, 2, 2, 2}, []int{1, 3, 1, 2}, nil, []int{1, 2, 1, 1}, nil),
			BackendReduceWindow(ConvertDType(x, dtypes.Float64), backends.ReduceOpMax, []int{1, 3, 1, 3}, nil, nil, nil, [][2]int{{0, 0}, {1, 1}, {0, 0}, {1, 1}}),
		}
	}, x)
}

// TestFusedChains: chains that fusion turns into one kernel (an Adam update, a normalisation), with an
// intermediate that is also an output and inputs used twice, against the pure-Go backend.
func TestFusedChains(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	before := fastgo.FusedChains()
	defer func() {
		if fastgo.FusedChains()-before < 4 {
			t.Errorf("only %d chains were fused, want at least 4 (two per dtype)", fastgo.FusedChains()-before)
		}
	}()
	for _, dt := range []dtypes.DType{dtypes.Float32, dtypes.Float64} {
		p, g, m, v := randTensor(rng, dt, 3, 3, 70, 50), randTensor(rng, dt, 3, 3, 70, 50), randTensor(rng, dt, 3, 3, 70, 50), randTensor(rng, dt, 3, 3, 70, 50)
		parity(t, "adam/"+dt.String(), 1e-6, func(in []*Node) []*Node {
			p, g, m, v := in[0], in[1], in[2], Abs(in[3])
			m2 := Add(MulScalar(m, 0.9), MulScalar(g, 0.1))
			v2 := Add(MulScalar(v, 0.999), MulScalar(Square(g), 0.001))
			upd := Div(DivScalar(m2, 0.3), AddScalar(Sqrt(DivScalar(v2, 0.02)), 1e-8))
			p2 := Sub(p, MulScalar(upd, 0.005))
			act := Mul(Logistic(p2), Tanh(Neg(Exp(Min(p2, ScalarOne(p2.Graph(), dt))))))
			// Broadcast single values, as GoMLX's optimisers write them: read as scalars inside the chain,
			// materialised only where also an output.
			lr := BroadcastToDims(Scalar(p.Graph(), dt, 0.01), p.Shape().Dimensions...)
			lrOut := BroadcastToDims(Reshape(Scalar(p.Graph(), dt, 0.02), 1, 1, 1, 1), p.Shape().Dimensions...)
			decayed := Sub(p2, Mul(lr, Add(p2, lrOut)))
			return []*Node{p2, m2, v2, act, Pow(Abs(p2), AddScalar(Abs(g), 0.5)), decayed, lrOut, Mul(lr, g)}
		}, p, g, m, v)
	}
}

// TestColumnPatterns: columns of x selected as Transpose(Gather(Transpose(x))) (as methods/flow does) and
// their gradient, which fastgo runs as one kernel each, against the pure-Go backend: contiguous runs,
// permutations with repeats, gather indices out of range (clamped), and an inner
// transpose used twice (which must keep the op-by-op path).
func TestColumnPatterns(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	before := fastgo.SpecialKernels()
	cols := func(x *Node, idx ...int32) *Node {
		c := Const(x.Graph(), tensors.FromFlatDataAndDimensions(idx, len(idx), 1))
		return Transpose(Gather(Transpose(x, 0, 1), c), 0, 1)
	}
	for _, dt := range []dtypes.DType{dtypes.Float32, dtypes.Float64, dtypes.Int32} {
		x := randTensor(rng, dt, 70, 9)
		parity(t, "columns/"+dt.String(), 0, func(in []*Node) []*Node {
			x := in[0]
			shared := Transpose(x, 0, 1)
			twice := Gather(shared, Const(x.Graph(), [][]int32{{1}, {3}}))
			return []*Node{cols(x, 2, 3, 4, 5), cols(x, 8, 0, 3, 3, 1), cols(x, -2, 11, 4), Transpose(twice, 0, 1), Neg(shared)}
		}, x)
	}
	for _, dt := range []dtypes.DType{dtypes.Float32, dtypes.Float64} {
		x, w := randTensor(rng, dt, 70, 9), randTensor(rng, dt, 70, 5)
		parity(t, "column gradients/"+dt.String(), 1e-12, func(in []*Node) []*Node {
			x, w := in[0], in[1]
			// Two selections of the same x (a coupling's halves): their gradients add.
			y := Add(cols(x, 0, 1, 2, 3, 4), Mul(cols(x, 8, 2, 2, 7, 5), cols(x, 4, 5, 6, 7, 8)))
			loss := ReduceAllSum(Mul(y, w))
			// Scatter into a real operand, not zeros: transposed then added to.
			op := Transpose(MulScalar(x, 3), 0, 1)
			upd := Transpose(w, 0, 1)
			c := Const(x.Graph(), [][]int32{{1}, {0}, {8}, {1}, {6}}) // simplego panics out of range
			scattered := Transpose(ScatterSum(op, c, upd, false, false), 0, 1)
			return append(Gradient(loss, x), scattered)
		}, x, w)
	}
	if n := fastgo.SpecialKernels() - before; n < 12 {
		t.Errorf("%d column patterns ran as one kernel, want at least 12", n)
	}
}

// TestPeriodicBroadcasts: biases broadcast over rows ([C] -> [N, C]) and channels ([C] -> [N, C, H, W]),
// read in place by fused chains, with periods and run lengths that do not divide the chunk; and
// broadcasts that must still be materialised (a middle axis broadcast, an output).
func TestPeriodicBroadcasts(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	before := fastgo.PeriodicChains()
	for _, dt := range []dtypes.DType{dtypes.Float32, dtypes.Float64} {
		x, img := randTensor(rng, dt, 300, 7), randTensor(rng, dt, 3, 7, 13, 11)
		bias, b3 := randTensor(rng, dt, 7), randTensor(rng, dt, 3, 1, 11)
		parity(t, "periodic/"+dt.String(), 1e-6, func(in []*Node) []*Node {
			x, img, bias, b3 := in[0], in[1], in[2], in[3]
			rows := BroadcastToDims(Reshape(bias, 1, 7), 300, 7)
			channels := BroadcastToDims(Reshape(bias, 1, 7, 1, 1), 3, 7, 13, 11)
			middle := BroadcastToDims(Reshape(b3, 3, 1, 1, 11), 3, 7, 13, 11) // not periodic: materialised
			relu := Max(Add(x, rows), ScalarZero(x.Graph(), dt))
			bn := Mul(Sub(img, channels), AddScalar(channels, 3))
			out := BroadcastToDims(Reshape(bias, 1, 7), 300, 7) // an output: materialised, read as a tensor
			return []*Node{relu, bn, Add(img, middle), Mul(x, out), out}
		}, x, img, bias, b3)
	}
	if n := fastgo.PeriodicChains() - before; n < 4 {
		t.Errorf("%d fused chains read a periodic broadcast in place, want at least 4", n)
	}
}
