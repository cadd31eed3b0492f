package sgemm

import (
	"testing"
	"unsafe"
)

// BenchmarkMicro measures a micro-kernel alone on packed operands that sit in L1: the ceiling the
// blocking can reach.
func BenchmarkMicro(b *testing.B) {
	for k := Generic; k <= AVX512; k++ {
		ki := kernels[k]
		if ki == nil {
			continue
		}
		b.Run(k.String(), func(b *testing.B) {
			const kc = 256
			a := make([]float32, ki.mr*kc)
			bb := make([]float32, ki.nr*kc)
			c := make([]float32, ki.mr*ki.nr)
			for b.Loop() {
				ki.micro(kc, unsafe.Pointer(&a[0]), 1, ki.mr, unsafe.Pointer(&bb[0]), ki.nr, unsafe.Pointer(&c[0]), ki.nr, true)
			}
			b.ReportMetric(2*float64(ki.mr*ki.nr*kc)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
