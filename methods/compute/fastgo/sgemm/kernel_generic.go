package sgemm

import "unsafe"

// genericMR and genericNR make a 4×4 tile, computed two rows at a time (see microGeneric).
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
// must be packed (ars = 1, aks = bstride = 4; the driver never reads in place for it, see packOnly), so
// its loops walk both slivers by reslicing and carry no bounds checks.
func microGeneric(kc int, ap unsafe.Pointer, ars, aks int, bp unsafe.Pointer, bstride int, cp unsafe.Pointer, ldc int, load bool) {
	if ars != 1 || aks != genericMR || bstride != genericNR {
		panic("sgemm: generic kernel called on unpacked operands")
	}
	a := unsafe.Slice((*float32)(ap), kc*genericMR)
	b := unsafe.Slice((*float32)(bp), kc*genericNR)
	c := unsafe.Slice((*float32)(cp), 3*ldc+genericNR)
	// Two rows at a time: 8 accumulators, 4 B values and an A value fit the 15 floating-point
	// registers Go has on amd64, where the whole 4×4 tile would spill to the stack every step.
	store2(c, ldc, load, rows2(a, b))
	store2(c[2*ldc:], ldc, load, rows2(a[2:], b))
}

// rows2 returns the 2×4 product of the packed A rows starting at a[0] and a[1] (a step every 4 floats)
// with the packed B sliver.
func rows2(a, b []float32) (t [8]float32) {
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	for len(a) >= 2 && len(b) >= 4 {
		b0, b1, b2, b3 := b[0], b[1], b[2], b[3]
		x := a[0]
		c00 += x * b0
		c01 += x * b1
		c02 += x * b2
		c03 += x * b3
		y := a[1]
		c10 += y * b0
		c11 += y * b1
		c12 += y * b2
		c13 += y * b3
		if len(a) < 4 {
			break
		}
		a, b = a[4:], b[4:]
	}
	return [8]float32{c00, c01, c02, c03, c10, c11, c12, c13}
}

// store2 writes (or adds) two rows of four from t into c, ldc apart.
func store2(c []float32, ldc int, load bool, t [8]float32) {
	r0 := c[0:4:4]
	r1 := c[ldc : ldc+4 : ldc+4]
	if load {
		r0[0], r0[1], r0[2], r0[3] = r0[0]+t[0], r0[1]+t[1], r0[2]+t[2], r0[3]+t[3]
		r1[0], r1[1], r1[2], r1[3] = r1[0]+t[4], r1[1]+t[5], r1[2]+t[6], r1[3]+t[7]
		return
	}
	r0[0], r0[1], r0[2], r0[3] = t[0], t[1], t[2], t[3]
	r1[0], r1[1], r1[2], r1[3] = t[4], t[5], t[6], t[7]
}
