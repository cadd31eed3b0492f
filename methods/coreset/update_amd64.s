#include "textflag.h"

// func updateMinAVX2(z, center, minD *float32, rows, dim int)
// For each of rows rows of z (dim floats each, dim a positive multiple of 16):
// minD[i] = min(minD[i], |z_i - center|^2), with AVX2 FMA and two accumulators.
TEXT ·updateMinAVX2(SB), NOSPLIT, $0-40
	MOVQ z+0(FP), SI
	MOVQ center+8(FP), DI
	MOVQ minD+16(FP), DX
	MOVQ rows+24(FP), CX
	MOVQ dim+32(FP), R8
	SHLQ $2, R8

rowloop:
	TESTQ CX, CX
	JZ    done
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	XORQ  R10, R10

inner:
	VMOVUPS (SI)(R10*1), Y2
	VSUBPS  (DI)(R10*1), Y2, Y2
	VFMADD231PS Y2, Y2, Y0
	VMOVUPS 32(SI)(R10*1), Y3
	VSUBPS  32(DI)(R10*1), Y3, Y3
	VFMADD231PS Y3, Y3, Y1
	ADDQ $64, R10
	CMPQ R10, R8
	JL   inner

	VADDPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS  X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VMOVSS (DX), X3
	VMINSS X0, X3, X3
	VMOVSS X3, (DX)
	ADDQ R8, SI
	ADDQ $4, DX
	DECQ CX
	JMP  rowloop

done:
	VZEROUPPER
	RET
