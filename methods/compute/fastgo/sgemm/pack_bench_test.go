package sgemm

import "testing"

// BenchmarkPackA measures packing a 1024×1024 row-major A, one KC block at a time, in ns per element.
func BenchmarkPackA(b *testing.B) {
	const n = 1024
	a := Dense(make([]float32, n*n), n)
	ws := new(workspace)
	ki := kernels[Best()]
	dst := make([]float32, n*ki.kc+ki.mr*ki.kc)
	for b.Loop() {
		for pc := 0; pc < n; pc += ki.kc {
			packA(ws, &a, 0, n, pc, ki.kc, ki.mr, dst)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n*n), "ns/elem")
}
