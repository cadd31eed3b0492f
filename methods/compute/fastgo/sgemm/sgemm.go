// Package sgemm is the single-precision matrix multiply (C = A·B or C += A·B) behind the fastgo CPU
// backend: matmuls, and convolutions expressed as matmuls over implicit im2col views.
//
// It is a packed, blocked GEMM in the Goto/BLIS style. For each KC×NC panel of B (KC rows of k, NC
// columns) the operand is copied into NR-wide slivers, then for each MC×KC block of A into MR-tall
// slivers, so that a register-blocked micro-kernel can compute an MR×NR tile of C over KC steps reading
// both operands sequentially. The panel and block sizes aim at the caches: a B sliver stays in L1 while
// the A block is streamed from L2. Packing reads through Operand's offset arithmetic, which is what lets
// a convolution feed image patches straight from a padded image without materialising them; dense
// operands take copy-based fast paths. Edge tiles (m, n not multiples of MR, NR) are computed from
// zero-padded slivers into a small scratch tile and copied out.
//
// Micro-kernels: AVX-512 (14×32, 28 zmm accumulators, B as two zmm vectors and A through embedded
// broadcasts), AVX2+FMA (6×16 with ymm) and a portable Go kernel (4×4) used on other architectures and
// CPUs. The best one the CPU supports is picked at start-up with golang.org/x/sys/cpu; the environment
// variable GONOMALY_SGEMM=generic|avx2|avx512 or SetKernel forces a lower one.
//
// Gemm splits a large product over up to Threads() goroutines (by rows of C, or by columns when C is
// short); GemmSerial stays on the calling goroutine. Both are safe for concurrent use on distinct
// outputs; packing buffers come from a sync.Pool.
package sgemm

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"unsafe"
)

// Operand is a read-only view of a float32 matrix: element (i, j) is Data[RowOffset(i) + ColOffset(j)],
// where RowOffset(i) = RowIdx[i] when RowIdx != nil, else i*RowStride; ColOffset(j) likewise with
// ColIdx/ColStride. Offset tables let a convolution read input patches straight from a padded image
// (implicit im2col): the caller guarantees every offset is in range (an offset out of range panics in
// the packing code rather than reading past Data).
type Operand struct {
	Data      []float32
	RowStride int
	ColStride int
	RowIdx    []int32
	ColIdx    []int32
}

// Dense is the row-major matrix with leading dimension ld: (i, j) = data[i*ld + j].
func Dense(data []float32, ld int) Operand {
	return Operand{Data: data, RowStride: ld, ColStride: 1}
}

// DenseT is the transpose of the row-major matrix with leading dimension ld: (i, j) = data[j*ld + i].
func DenseT(data []float32, ld int) Operand {
	return Operand{Data: data, RowStride: 1, ColStride: ld}
}

func (o *Operand) rowOff(i int) int {
	if o.RowIdx != nil {
		return int(o.RowIdx[i])
	}
	return i * o.RowStride
}

func (o *Operand) colOff(j int) int {
	if o.ColIdx != nil {
		return int(o.ColIdx[j])
	}
	return j * o.ColStride
}

// Kernel names a micro-kernel implementation.
type Kernel int

// The kernels, slowest first, so that a lower value is always a safe fallback for a higher one.
const (
	Generic Kernel = iota
	AVX2
	AVX512
)

// String returns the kernel's lower-case name, as GONOMALY_SGEMM spells it.
func (k Kernel) String() string {
	switch k {
	case Generic:
		return "generic"
	case AVX2:
		return "avx2"
	case AVX512:
		return "avx512"
	}
	return fmt.Sprintf("Kernel(%d)", int(k))
}

// microFunc computes an mr×nr tile over kc steps into c (row stride ldc), adding to c when load is set.
// A's element (i, p) is a[i*ars + p*aks] (a packed sliver has ars = 1, aks = mr; a dense matrix read in
// place its strides); B holds nr floats a step, bstride floats apart.
type microFunc func(kc int, a unsafe.Pointer, ars, aks int, b unsafe.Pointer, bstride int, c unsafe.Pointer, ldc int, load bool)

// kernelInfo is a micro-kernel with the block sizes that suit it.
type kernelInfo struct {
	kind               Kernel
	mr, nr, kc, mc, nc int
	packOnly           bool // the kernel only takes packed A and B
	micro              microFunc
}

// kernels holds the kernels this build and CPU support, filled by the init functions of the kernel files.
var kernels [AVX512 + 1]*kernelInfo

var (
	current atomic.Pointer[kernelInfo]
	threads atomic.Int64
)

func init() {
	for k := range kernels {
		if kernels[k] != nil {
			kernels[k].kind = Kernel(k)
		}
	}
	current.Store(kernels[Best()])
	threads.Store(int64(runtime.GOMAXPROCS(0)))
	if env := strings.TrimSpace(os.Getenv("GONOMALY_SGEMM")); env != "" {
		if err := setKernelByName(env); err != nil {
			fmt.Fprintf(os.Stderr, "sgemm: ignoring GONOMALY_SGEMM=%q: %v; using %s\n", env, err, Current())
		}
	}
}

func setKernelByName(name string) error {
	for k := Generic; k <= AVX512; k++ {
		if strings.EqualFold(name, k.String()) {
			return SetKernel(k)
		}
	}
	return errors.New("unknown kernel (want generic, avx2 or avx512)")
}

// Best returns the fastest kernel this CPU supports.
func Best() Kernel {
	for k := AVX512; k > Generic; k-- {
		if kernels[k] != nil {
			return k
		}
	}
	return Generic
}

// Current returns the kernel Gemm uses now.
func Current() Kernel { return current.Load().kind }

// SetKernel makes Gemm use kernel k from now on. It is meant for tests and benchmarks that compare
// kernels; it fails if the CPU (or this build) lacks k.
func SetKernel(k Kernel) error {
	if k < Generic || k > AVX512 {
		return fmt.Errorf("sgemm: no kernel %v", k)
	}
	if kernels[k] == nil {
		return fmt.Errorf("sgemm: this CPU does not support the %v kernel", k)
	}
	current.Store(kernels[k])
	return nil
}

// SetThreads sets how many goroutines Gemm may use; n < 1 means 1.
func SetThreads(n int) {
	threads.Store(int64(max(n, 1)))
}

// Threads returns how many goroutines Gemm may use (runtime.GOMAXPROCS(0) unless SetThreads changed it).
func Threads() int { return int(threads.Load()) }

// Gemm computes C = A·B (accumulate=false) or C += A·B (accumulate=true) for A m×k, B k×n and
// C row-major with leading dimension ldc: C[i*ldc+j]. It uses up to Threads() goroutines when the
// product is large enough to gain from it.
func Gemm(m, n, k int, a, b Operand, c []float32, ldc int, accumulate bool) {
	if !checkArgs(m, n, k, c, ldc) {
		return
	}
	gemm(current.Load(), Threads(), m, n, k, &a, &b, c, ldc, accumulate)
}

// GemmSerial is Gemm on the calling goroutine only (for callers that parallelise over a batch themselves).
func GemmSerial(m, n, k int, a, b Operand, c []float32, ldc int, accumulate bool) {
	if !checkArgs(m, n, k, c, ldc) {
		return
	}
	gemm(current.Load(), 1, m, n, k, &a, &b, c, ldc, accumulate)
}

// checkArgs validates the output, which the kernels write through pointers, and says whether there is
// anything to do.
func checkArgs(m, n, k int, c []float32, ldc int) bool {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("sgemm: negative dimension m=%d n=%d k=%d", m, n, k))
	}
	if m == 0 || n == 0 {
		return false
	}
	if ldc < n {
		panic(fmt.Sprintf("sgemm: ldc=%d < n=%d", ldc, n))
	}
	if len(c) < (m-1)*ldc+n {
		panic(fmt.Sprintf("sgemm: len(c)=%d too short for m=%d n=%d ldc=%d", len(c), m, n, ldc))
	}
	return true
}
