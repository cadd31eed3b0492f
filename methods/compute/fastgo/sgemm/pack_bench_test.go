package sgemm

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkPackA measures packing A (1024 rows, one KC block at a time) from a dense matrix and from an
// implicit im2col, in ns per element: the cost the in-place reading avoids for narrow products.
func BenchmarkPackA(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	ki := kernels[Best()]
	for _, tc := range []struct {
		name string
		a    Operand
		k    int
	}{
		{"dense", Dense(randSlice(r, 1024*1024), 1024), 1024},
		{"im2col", im2colOperand(r, 1, 32, 64), 9 * 64},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var runs []run
			dst := make([]float32, (1024+ki.mr)*ki.kc)
			for b.Loop() {
				for pc := 0; pc < tc.k; pc += ki.kc {
					kb := min(ki.kc, tc.k-pc)
					packA(&tc.a, colRuns(&tc.a, pc, kb, &runs), 0, 1024, kb, ki.mr, dst)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(1024*tc.k), "ns/elem")
		})
	}
}

// BenchmarkPackB measures packing a 1024×1024 row-major B, one KC×NC panel at a time, in ns per element.
func BenchmarkPackB(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	ki := kernels[Best()]
	bm := Dense(randSlice(r, 1024*1024), 1024)
	ws := new(workspace)
	dst := make([]float32, 1024*ki.kc)
	for b.Loop() {
		for pc := 0; pc < 1024; pc += ki.kc {
			packB(ws, &bm, pc, ki.kc, 0, 1024, ki.nr, dst)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(1024*1024), "ns/elem")
}
