package sgemm

import "unsafe"

// genericMR and genericNR make a 4×4 tile: 16 scalar accumulators fit the 16 floating-point registers
// of amd64 and arm64's 32 with room for the loaded operands, so the Go compiler keeps them in registers.
const (
	genericMR = 4
	genericNR = 4
)

func init() {
	// packOnly: at Go's scalar speed packing is cheap against the arithmetic, and packed operands are
	// what lets microGeneric's loop run without bounds checks.
	kernels[Generic] = &kernelInfo{mr: genericMR, nr: genericNR, kc: 256, mc: 128, nc: 1024, packOnly: true, micro: microGeneric}
}

// microGeneric is the portable micro-kernel. It has the assembly kernels' contract except that A and B
// must be packed (ars = 1, aks = bstride = 4; the driver never reads in place for it, see packOnly): then
// the loop walks both slivers by reslicing, which lets the compiler drop every bounds check in it.
func microGeneric(kc int, ap unsafe.Pointer, ars, aks int, bp unsafe.Pointer, bstride int, cp unsafe.Pointer, ldc int, load bool) {
	if ars != 1 || aks != genericMR || bstride != genericNR {
		panic("sgemm: generic kernel called on unpacked operands")
	}
	a := unsafe.Slice((*float32)(ap), kc*genericMR)
	b := unsafe.Slice((*float32)(bp), kc*genericNR)
	var c00, c01, c02, c03 float32
	var c10, c11, c12, c13 float32
	var c20, c21, c22, c23 float32
	var c30, c31, c32, c33 float32
	for len(a) >= 4 && len(b) >= 4 {
		b0, b1, b2, b3 := b[0], b[1], b[2], b[3]
		a0 := a[0]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		a1 := a[1]
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		a2 := a[2]
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		a3 := a[3]
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
		a, b = a[4:], b[4:]
	}
	c := unsafe.Slice((*float32)(cp), 3*ldc+genericNR)
	r0 := c[0:4:4]
	r1 := c[ldc : ldc+4 : ldc+4]
	r2 := c[2*ldc : 2*ldc+4 : 2*ldc+4]
	r3 := c[3*ldc : 3*ldc+4 : 3*ldc+4]
	if load {
		r0[0], r0[1], r0[2], r0[3] = r0[0]+c00, r0[1]+c01, r0[2]+c02, r0[3]+c03
		r1[0], r1[1], r1[2], r1[3] = r1[0]+c10, r1[1]+c11, r1[2]+c12, r1[3]+c13
		r2[0], r2[1], r2[2], r2[3] = r2[0]+c20, r2[1]+c21, r2[2]+c22, r2[3]+c23
		r3[0], r3[1], r3[2], r3[3] = r3[0]+c30, r3[1]+c31, r3[2]+c32, r3[3]+c33
		return
	}
	r0[0], r0[1], r0[2], r0[3] = c00, c01, c02, c03
	r1[0], r1[1], r1[2], r1[3] = c10, c11, c12, c13
	r2[0], r2[1], r2[2], r2[3] = c20, c21, c22, c23
	r3[0], r3[1], r3[2], r3[3] = c30, c31, c32, c33
}
