package fastgo_test

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gonomaly/gonomaly/methods/compute"
)

// BenchmarkGEMM1024 multiplies two 1024x1024 float32 matrices as a GoMLX graph on the process's backend
// (GOMLX_BACKEND), as ../shared/bench/torch_ref.py's gemm_1024.
func BenchmarkGEMM1024(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	x, y := randTensor(rng, dtypes.Float32, 1024, 1024), randTensor(rng, dtypes.Float32, 1024, 1024)
	e, err := NewExec(compute.MustBackend(), func(a, c *Node) *Node { return Dot(a, c) })
	if err != nil {
		b.Fatal(err)
	}
	if _, err := e.Exec(x, y); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		out, err := e.Exec(x, y)
		if err != nil {
			b.Fatal(err)
		}
		out[0].FinalizeAll()
	}
	b.ReportMetric(2*1024*1024*1024*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkDenseReLU is a coupling network's first layer at CFLOW-AD's inference size: 32,768 fibers,
// x·W + b then ReLU, 256 -> 512 channels (the bias broadcast and the ReLU are element-wise passes over
// 64 MB; the product is 8.6 GFLOP).
func BenchmarkDenseReLU(b *testing.B) {
	rng := rand.New(rand.NewPCG(2, 2))
	x, w, bias := randTensor(rng, dtypes.Float32, 32768, 256), randTensor(rng, dtypes.Float32, 256, 512), randTensor(rng, dtypes.Float32, 1, 512)
	e, err := NewExec(compute.MustBackend(), func(x, w, bias *Node) *Node {
		return Max(Add(Dot(x, w), bias), ScalarZero(x.Graph(), dtypes.Float32))
	})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := e.Exec(x, w, bias); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		out, err := e.Exec(x, w, bias)
		if err != nil {
			b.Fatal(err)
		}
		out[0].FinalizeAll()
	}
}

// BenchmarkColumnGather selects half the columns of [32768, 512] as methods/flow does (transpose, gather,
// transpose), with its gradient.
func BenchmarkColumnGather(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 3))
	x := randTensor(rng, dtypes.Float32, 32768, 512)
	idx := make([]int32, 256)
	for i := range idx {
		idx[i] = int32(2 * i)
	}
	e, err := NewExec(compute.MustBackend(), func(x *Node) []*Node {
		c := Const(x.Graph(), tensors.FromFlatDataAndDimensions(idx, 256, 1))
		y := Transpose(Gather(Transpose(x, 0, 1), c), 0, 1)
		return append([]*Node{y}, Gradient(ReduceAllSum(Square(y)), x)...)
	})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := e.Exec(x); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		out, err := e.Exec(x)
		if err != nil {
			b.Fatal(err)
		}
		for _, o := range out {
			o.FinalizeAll()
		}
	}
}

// BenchmarkCouplingChain is an affine coupling's element-wise work at CFLOW-AD's inference size: a soft
// clamp (tanh) of the scale, its exponential, times the moved half plus the shift, on [32768, 128].
func BenchmarkCouplingChain(b *testing.B) {
	rng := rand.New(rand.NewPCG(4, 4))
	x, s, t := randTensor(rng, dtypes.Float32, 32768, 128), randTensor(rng, dtypes.Float32, 32768, 128), randTensor(rng, dtypes.Float32, 32768, 128)
	e, err := NewExec(compute.MustBackend(), func(x, s, t *Node) *Node {
		return Add(Mul(x, Exp(MulScalar(Tanh(DivScalar(s, 1.9)), 1.9))), t)
	})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := e.Exec(x, s, t); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		out, err := e.Exec(x, s, t)
		if err != nil {
			b.Fatal(err)
		}
		out[0].FinalizeAll()
	}
}
