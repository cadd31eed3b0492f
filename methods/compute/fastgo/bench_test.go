package fastgo_test

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"

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
