package sgemm

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"syscall"
	"testing"
)

func processCPU() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// benchShapes are the square reference product and shapes that convolutions of the method catalogue's
// backbones produce (patches × weights, and the weight gradient with a transposed A).
var benchShapes = []struct {
	name    string
	m, n, k int
	transA  bool
	im2col  int // A is the implicit im2col of a 3×3 "same" convolution over images of this size (transposed with transA)
}{
	{"1024", 1024, 1024, 1024, false, 0},
	{"conv_32768x64x576", 32768, 64, 576, false, 0},
	{"conv_3136x256x2304", 3136, 256, 2304, false, 0},
	{"conv_50176x64x147", 50176, 64, 147, false, 0},
	{"conv_784x1024x4608", 784, 1024, 4608, false, 0},
	{"skinny_8x1536x1536", 8, 1536, 1536, false, 0},
	{"gradT_576x64x32768", 576, 64, 32768, true, 0},
	{"im2col_b8_64x64x64_to_64", 8 * 64 * 64, 64, 9 * 64, false, 64},
	{"im2col_b1_56x56x256_to_256", 56 * 56, 256, 9 * 256, false, 56},
	{"im2colT_grad_b8_64x64x64_to_64", 9 * 64, 64, 8 * 64 * 64, true, 64},
}

// BenchmarkGemm reports GFLOP/s (2·m·n·k per product) per kernel and shape with the default thread count;
// BenchmarkGemmSerial does the same on one goroutine.
func BenchmarkGemm(b *testing.B)       { benchGemm(b, Gemm) }
func BenchmarkGemmSerial(b *testing.B) { benchGemm(b, GemmSerial) }

func benchGemm(b *testing.B, f func(m, n, k int, a, b Operand, c []float32, ldc int, accumulate bool)) {
	defer SetKernel(Best())
	r := rand.New(rand.NewPCG(1, 1))
	for k := AVX512; k >= Generic; k-- {
		if SetKernel(k) != nil {
			continue
		}
		for _, s := range benchShapes {
			if k == Generic && s.m*s.n*s.k > 1<<30 {
				continue // minutes per product, and no one picks the generic kernel for speed
			}
			b.Run(fmt.Sprintf("%v/%s", k, s.name), func(b *testing.B) {
				SetKernel(k)
				var a Operand
				switch {
				case s.im2col > 0 && s.transA:
					a = im2colOperand(r, s.k/(s.im2col*s.im2col), s.im2col, s.m/9)
					a.RowIdx, a.ColIdx = a.ColIdx, a.RowIdx
				case s.im2col > 0:
					a = im2colOperand(r, s.m/(s.im2col*s.im2col), s.im2col, s.k/9)
				case s.transA:
					a = DenseT(randSlice(r, s.m*s.k), s.m)
				default:
					a = Dense(randSlice(r, s.m*s.k), s.k)
				}
				bd := randSlice(r, s.k*s.n)
				c := make([]float32, s.m*s.n)
				runtime.GC() // the operands' garbage would otherwise be collected on the clock
				cpu0 := processCPU()
				for b.Loop() {
					f(s.m, s.n, s.k, a, Dense(bd, s.n), c, s.n, false)
				}
				flops := 2 * float64(s.m) * float64(s.n) * float64(s.k) * float64(b.N)
				b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				// Per CPU-second: on a shared machine wall time counts other processes' turns, CPU time
				// does not, so this is the figure to tune kernels and blocking by.
				b.ReportMetric(flops/(processCPU()-cpu0)/1e9, "GFLOP/cpu-s")
			})
		}
	}
}

// im2colOperand is the patch matrix of a 3×3 "same" convolution over batch size×size×cin NHWC images,
// read through offset tables from zero-padded images, as a convolution would call Gemm.
func im2colOperand(r *rand.Rand, batch, size, cin int) Operand {
	p := size + 2
	img := randSlice(r, batch*p*p*cin)
	rows := make([]int32, 0, batch*size*size)
	for n := 0; n < batch; n++ {
		for y := 0; y < size; y++ {
			for x := 0; x < size; x++ {
				rows = append(rows, int32(((n*p+y)*p+x)*cin))
			}
		}
	}
	cols := make([]int32, 0, 9*cin)
	for dy := 0; dy < 3; dy++ {
		for dx := 0; dx < 3; dx++ {
			for c := 0; c < cin; c++ {
				cols = append(cols, int32((dy*p+dx)*cin+c))
			}
		}
	}
	return Operand{Data: img, RowIdx: rows, ColIdx: cols}
}
