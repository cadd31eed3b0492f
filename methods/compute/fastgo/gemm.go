package fastgo

import (
	"fmt"

	"github.com/gonomaly/gonomaly/methods/compute/fastgo/sgemm"
)

// gemmOperand is sgemm's strided/offset-table matrix view.
type gemmOperand = sgemm.Operand

func gemmDescription() string {
	return fmt.Sprintf("%s SGEMM, %d threads", sgemm.Current(), sgemm.Threads())
}

func gemm(m, n, k int, a, b gemmOperand, c []float32, ldc int, accumulate bool) {
	sgemm.Gemm(m, n, k, a, b, c, ldc, accumulate)
}

func gemmSerial(m, n, k int, a, b gemmOperand, c []float32, ldc int, accumulate bool) {
	sgemm.GemmSerial(m, n, k, a, b, c, ldc, accumulate)
}

func sgemmDense(data []float32, ld int) gemmOperand { return sgemm.Dense(data, ld) }
