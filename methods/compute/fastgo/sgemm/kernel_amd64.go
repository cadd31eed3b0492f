//go:build amd64 && !purego

package sgemm

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// The assembly kernels have microFunc's contract, with load as 0 or 1; gen.go documents the registers.

//go:noescape
func kernelAVX512(kc int, a *float32, ars, aks int, b *float32, bstride int, c *float32, ldc int, load int)

//go:noescape
func kernelAVX512x8(kc int, a *float32, ars, aks int, b *float32, bstride int, c *float32, ldc int, load int)

//go:noescape
func kernelAVX2(kc int, a *float32, ars, aks int, b *float32, bstride int, c *float32, ldc int, load int)

func microAVX512(kc int, a unsafe.Pointer, ars, aks int, b unsafe.Pointer, bstride int, c unsafe.Pointer, ldc int, load bool) {
	kernelAVX512(kc, (*float32)(a), ars, aks, (*float32)(b), bstride, (*float32)(c), ldc, b2i(load))
}

func microAVX512x8(kc int, a unsafe.Pointer, ars, aks int, b unsafe.Pointer, bstride int, c unsafe.Pointer, ldc int, load bool) {
	kernelAVX512x8(kc, (*float32)(a), ars, aks, (*float32)(b), bstride, (*float32)(c), ldc, b2i(load))
}

func microAVX2(kc int, a unsafe.Pointer, ars, aks int, b unsafe.Pointer, bstride int, c unsafe.Pointer, ldc int, load bool) {
	kernelAVX2(kc, (*float32)(a), ars, aks, (*float32)(b), bstride, (*float32)(c), ldc, b2i(load))
}

//go:noescape
func packA14AVX512(base *float32, offs *[14]int, n int, dst *float32)

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func init() {
	// Block sizes: a KC×NR sliver of B (KC·128 bytes) stays in the 32-48 KiB L1 while MC/MR kernel calls
	// stream MR×KC slivers of A from an MC×KC block sized for half of a 1 MiB L2 (the rest holds B
	// panels and C); the KC×NC panel of B is meant for L3.
	if cpu.X86.HasAVX512F {
		kernels[AVX512] = &kernelInfo{mr: 14, nr: 32, kc: 256, mc: 336, nc: 2048, micro: microAVX512,
			short: 8, microShort: microAVX512x8}
		packA14 = func(base unsafe.Pointer, offs *[14]int, n int, dst unsafe.Pointer) {
			packA14AVX512((*float32)(base), offs, n, (*float32)(dst))
		}
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		kernels[AVX2] = &kernelInfo{mr: 6, nr: 16, kc: 256, mc: 144, nc: 2048, micro: microAVX2}
	}
}
