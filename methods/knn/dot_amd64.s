#include "textflag.h"

// func dot4x2AVX2(q0, q1, q2, q3, b0, b1 *float32, n int, out *[8]float32)
// Eight dot products of four query rows with two bank rows over n floats (n a multiple of 8), with
// AVX2 FMA: one 8-wide accumulator per pair, then horizontal sums. out gets
// q0.b0, q0.b1, q1.b0, q1.b1, q2.b0, q2.b1, q3.b0, q3.b1.
TEXT ·dot4x2AVX2(SB), NOSPLIT, $0-64
	MOVQ q0+0(FP), AX
	MOVQ q1+8(FP), BX
	MOVQ q2+16(FP), CX
	MOVQ q3+24(FP), DX
	MOVQ b0+32(FP), SI
	MOVQ b1+40(FP), DI
	MOVQ n+48(FP), R8
	MOVQ out+56(FP), R9
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	SHLQ $2, R8
	XORQ R10, R10

loop:
	CMPQ R10, R8
	JGE  reduce
	VMOVUPS (SI)(R10*1), Y8
	VMOVUPS (DI)(R10*1), Y9
	VMOVUPS (AX)(R10*1), Y10
	VFMADD231PS Y8, Y10, Y0
	VFMADD231PS Y9, Y10, Y1
	VMOVUPS (BX)(R10*1), Y11
	VFMADD231PS Y8, Y11, Y2
	VFMADD231PS Y9, Y11, Y3
	VMOVUPS (CX)(R10*1), Y12
	VFMADD231PS Y8, Y12, Y4
	VFMADD231PS Y9, Y12, Y5
	VMOVUPS (DX)(R10*1), Y13
	VFMADD231PS Y8, Y13, Y6
	VFMADD231PS Y9, Y13, Y7
	ADDQ $32, R10
	JMP  loop

reduce:
	VHADDPS Y1, Y0, Y0
	VHADDPS Y3, Y2, Y2
	VHADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVUPS X0, (R9)
	VHADDPS Y5, Y4, Y4
	VHADDPS Y7, Y6, Y6
	VHADDPS Y6, Y4, Y4
	VEXTRACTF128 $1, Y4, X5
	VADDPS X5, X4, X4
	VMOVUPS X4, 16(R9)
	VZEROUPPER
	RET
