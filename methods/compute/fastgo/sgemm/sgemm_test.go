package sgemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// matrix is a test operand with the dense float64 copy the reference product reads.
type matrix struct {
	name   string
	op     Operand
	rows   int
	cols   int
	values []float64 // row-major rows×cols
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

func (mt *matrix) fill() {
	mt.values = make([]float64, mt.rows*mt.cols)
	for i := 0; i < mt.rows; i++ {
		for j := 0; j < mt.cols; j++ {
			mt.values[i*mt.cols+j] = float64(mt.op.Data[mt.op.rowOff(i)+mt.op.colOff(j)])
		}
	}
}

// layouts builds the same-shaped matrix in each way an Operand can describe it. Leading dimensions are
// wider than the matrix so that reading a neighbouring row or column by mistake shows.
func layouts(r *rand.Rand, rows, cols int) []*matrix {
	var out []*matrix
	ld := cols + 3
	out = append(out, &matrix{name: "dense", op: Dense(randSlice(r, max(rows*ld, 1)), ld), rows: rows, cols: cols})
	ldt := rows + 5
	out = append(out, &matrix{name: "denseT", op: DenseT(randSlice(r, max(cols*ldt, 1)), ldt), rows: rows, cols: cols})
	// Offset tables with shuffled rows and columns, on top of a strided layout: the generic packing path.
	rowIdx, colIdx := make([]int32, rows), make([]int32, cols)
	for i, v := range r.Perm(rows) {
		rowIdx[i] = int32(v * (2*cols + 1))
	}
	for j, v := range r.Perm(cols) {
		colIdx[j] = int32(2 * v)
	}
	out = append(out, &matrix{name: "tables", op: Operand{Data: randSlice(r, max(rows*(2*cols+1), 1)), RowIdx: rowIdx, ColIdx: colIdx}, rows: rows, cols: cols})
	// Plain strides that are neither 1 nor a table.
	out = append(out, &matrix{name: "strided", op: Operand{Data: randSlice(r, max(rows*3*cols+2*cols, 1)), RowStride: 3 * cols, ColStride: 2}, rows: rows, cols: cols})
	// Rows from a table but contiguous columns: the dense fast path with RowIdx.
	out = append(out, &matrix{name: "rowtable", op: Operand{Data: randSlice(r, max(rows*(2*cols+1), 1)), RowIdx: rowIdx, ColStride: 1}, rows: rows, cols: cols})
	// Evenly spaced rows from a table and columns in stretches of 20 contiguous offsets: what an
	// implicit im2col looks like, read in place by stretches.
	rs := 2*cols + 3
	evenRows, runCols := make([]int32, rows), make([]int32, cols)
	for i := range evenRows {
		evenRows[i] = int32(i * rs)
	}
	for j := range runCols {
		runCols[j] = int32(j + j/20)
	}
	out = append(out, &matrix{name: "runs", op: Operand{Data: randSlice(r, max(rows*rs+cols, 1)), RowIdx: evenRows, ColIdx: runCols}, rows: rows, cols: cols})
	for _, mt := range out {
		mt.fill()
	}
	return out
}

// check compares c (m×n at ldc) against c0 (+) A·B computed in float64, with a tolerance relative to
// Σ|a||b|, the scale of the rounding error a float32 sum can make; cells past n must be untouched.
func check(t *testing.T, what string, m, n, k int, a, b *matrix, c0, c []float32, ldc int, acc bool) {
	t.Helper()
	bad := 0
	for i := 0; i < m; i++ {
		for j := 0; j < ldc; j++ {
			got := c[i*ldc+j]
			if j >= n {
				if got != c0[i*ldc+j] {
					t.Errorf("%s: C[%d,%d] outside the product changed", what, i, j)
					return
				}
				continue
			}
			var want, scale float64
			if acc {
				want, scale = float64(c0[i*ldc+j]), math.Abs(float64(c0[i*ldc+j]))
			}
			for p := 0; p < k; p++ {
				x, y := a.values[i*k+p], b.values[p*n+j]
				want += x * y
				scale += math.Abs(x * y)
			}
			if d := math.Abs(float64(got) - want); !(d <= 1e-5*scale+1e-30) {
				if bad++; bad <= 3 {
					t.Errorf("%s: C[%d,%d] = %g, want %g (scale %g)", what, i, j, got, want, scale)
				}
			}
		}
	}
}

// forEachKernel runs f under every kernel this CPU supports; only kernels the CPU lacks are skipped.
func forEachKernel(t *testing.T, f func(t *testing.T)) {
	defer SetKernel(Best())
	for k := Generic; k <= AVX512; k++ {
		t.Run(k.String(), func(t *testing.T) {
			if err := SetKernel(k); err != nil {
				t.Skipf("%v", err)
			}
			f(t)
		})
	}
}

type shape struct{ m, n, k int }

func TestGemmShapes(t *testing.T) {
	shapes := []shape{
		{1, 1, 1}, {1, 1, 7}, {2, 3, 5}, {7, 13, 17}, {13, 31, 29}, {14, 32, 256}, {6, 16, 4},
		{15, 33, 257}, {29, 65, 513}, {100, 1, 50}, {1, 100, 50}, {5, 7, 0}, {37, 41, 700},
		{8, 150, 40}, {28, 64, 3}, {29, 95, 61}, {350, 67, 31}, {3, 2100, 5}, {131, 257, 300},
	}
	if testing.Short() {
		shapes = shapes[:12]
	}
	defer func(d int) { directCols = d }(directCols)
	for _, dc := range []int{directCols, 0} {
		// directCols = 0 packs every A, which the default reads in place for these narrow products.
		directCols = dc
		t.Run(fmt.Sprintf("directCols=%d", dc), func(t *testing.T) { testShapes(t, shapes) })
	}
}

func testShapes(t *testing.T, shapes []shape) {
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		for _, s := range shapes {
			as, bs := layouts(r, s.m, s.k), layouts(r, s.k, s.n)
			for ai, a := range as {
				for bi, b := range bs {
					// Every layout pair on small shapes; on large ones, A's layouts against dense B and
					// B's against dense A, which covers every packing path at a tenth of the cost.
					if s.m*s.n*s.k > 20000 && ai != 0 && bi != 0 {
						continue
					}
					for _, acc := range []bool{false, true} {
						for _, serial := range []bool{false, true} {
							ldc := s.n + 2
							c0 := randSlice(r, s.m*ldc)
							c := append([]float32(nil), c0...)
							if serial {
								GemmSerial(s.m, s.n, s.k, a.op, b.op, c, ldc, acc)
							} else {
								Gemm(s.m, s.n, s.k, a.op, b.op, c, ldc, acc)
							}
							what := fmt.Sprintf("%dx%dx%d A=%s B=%s acc=%v serial=%v", s.m, s.n, s.k, a.name, b.name, acc, serial)
							check(t, what, s.m, s.n, s.k, a, b, c0, c, ldc, acc)
						}
					}
				}
			}
		}
	})
}

// TestGemmThreads checks the row and column splits across goroutine counts, including ones that do not
// divide the work evenly.
func TestGemmThreads(t *testing.T) {
	defer SetThreads(Threads())
	shapes := []shape{{301, 77, 129}, {9, 700, 300}, {200, 200, 200}, {576, 64, 1000}}
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		for _, s := range shapes {
			a, b := layouts(r, s.m, s.k)[0], layouts(r, s.k, s.n)[0]
			for _, th := range []int{1, 2, 3, 4, 7} {
				SetThreads(th)
				for _, acc := range []bool{false, true} {
					c0 := randSlice(r, s.m*s.n)
					c := append([]float32(nil), c0...)
					Gemm(s.m, s.n, s.k, a.op, b.op, c, s.n, acc)
					check(t, fmt.Sprintf("%dx%dx%d threads=%d acc=%v", s.m, s.n, s.k, th, acc), s.m, s.n, s.k, a, b, c0, c, s.n, acc)
				}
			}
		}
	})
}

// TestImplicitIm2col multiplies a 3×3 convolution's patches, read through offset tables from a padded
// NHWC image, by the weights, and compares with patches gathered without the tables. Channel counts give
// column stretches too short and long enough to be read in place; the width makes MR-row slivers cross
// image rows (unevenly spaced, so packed); stride 2 spaces rows two pixels apart.
func TestImplicitIm2col(t *testing.T) {
	for _, tc := range []struct{ h, w, cin, cout, stride int }{
		{9, 11, 5, 19, 1}, {9, 11, 16, 40, 1}, {7, 40, 24, 33, 2}, {5, 30, 3, 8, 1},
	} {
		t.Run(fmt.Sprintf("%dx%dx%d_to_%d_stride%d", tc.h, tc.w, tc.cin, tc.cout, tc.stride), func(t *testing.T) {
			testIm2col(t, tc.h, tc.w, tc.cin, tc.cout, tc.stride)
		})
	}
}

func testIm2col(t *testing.T, h, w, cin, cout, stride int) {
	r := rand.New(rand.NewPCG(5, 6))
	pw := w + 2
	img := make([]float32, (h+2)*pw*cin)
	for y := 1; y <= h; y++ {
		for x := 1; x <= w; x++ {
			for c := 0; c < cin; c++ {
				img[(y*pw+x)*cin+c] = float32(r.NormFloat64())
			}
		}
	}
	oh, ow := (h-1)/stride+1, (w-1)/stride+1
	m, k := oh*ow, 9*cin
	rowIdx, colIdx := make([]int32, m), make([]int32, k)
	for y := 0; y < oh; y++ {
		for x := 0; x < ow; x++ {
			rowIdx[y*ow+x] = int32((y*stride*pw + x*stride) * cin)
		}
	}
	for dy := 0; dy < 3; dy++ {
		for dx := 0; dx < 3; dx++ {
			for c := 0; c < cin; c++ {
				colIdx[(dy*3+dx)*cin+c] = int32((dy*pw+dx)*cin + c)
			}
		}
	}
	a := &matrix{op: Operand{Data: img, RowIdx: rowIdx, ColIdx: colIdx}, rows: m, cols: k}
	a.fill()
	// The reference patches, built without the tables: patch (y, x), tap (dy, dx, c) is padded pixel
	// (y·stride+dy, x·stride+dx).
	for y := 0; y < oh; y++ {
		for x := 0; x < ow; x++ {
			for dy := 0; dy < 3; dy++ {
				for dx := 0; dx < 3; dx++ {
					for c := 0; c < cin; c++ {
						want := float64(img[((y*stride+dy)*pw+x*stride+dx)*cin+c])
						if got := a.values[(y*ow+x)*k+(dy*3+dx)*cin+c]; got != want {
							t.Fatalf("test tables wrong at patch (%d,%d) tap (%d,%d,%d)", y, x, dy, dx, c)
						}
					}
				}
			}
		}
	}
	b := layouts(r, k, cout)[0]
	// The weight gradient's product reads the same patches transposed (taps × pixels): the tables swap.
	at := &matrix{op: Operand{Data: img, RowIdx: colIdx, ColIdx: rowIdx}, rows: k, cols: m}
	at.fill()
	dy := layouts(r, m, cout)[0]
	forEachKernel(t, func(t *testing.T) {
		for _, acc := range []bool{false, true} {
			c0 := randSlice(r, m*cout)
			c := append([]float32(nil), c0...)
			Gemm(m, cout, k, a.op, b.op, c, cout, acc)
			check(t, fmt.Sprintf("im2col acc=%v", acc), m, cout, k, a, b, c0, c, cout, acc)
			g0 := randSlice(r, k*cout)
			g := append([]float32(nil), g0...)
			Gemm(k, cout, m, at.op, dy.op, g, cout, acc)
			check(t, fmt.Sprintf("im2col transposed acc=%v", acc), k, cout, m, at, dy, g0, g, cout, acc)
		}
	})
}

// TestNaNPropagation checks that NaN and Inf reach C as in a naive product: no kernel may skip a zero in
// A or B (0·Inf and 0·NaN are NaN).
func TestNaNPropagation(t *testing.T) {
	const m, n, k = 37, 45, 300
	forEachKernel(t, func(t *testing.T) {
		a := make([]float32, m*k)
		b := make([]float32, k*n)
		a[5*k+100] = float32(math.NaN())  // row 5 of C all NaN, B being zero there
		b[200*n+7] = float32(math.Inf(1)) // column 7 of C all NaN (0·Inf), A being zero there
		a[20*k+200] = 1                   // except row 20 … which becomes +Inf at (20, 7)
		c := make([]float32, m*n)
		Gemm(m, n, k, Dense(a, k), Dense(b, n), c, n, false)
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				v := float64(c[i*n+j])
				switch {
				case i == 5 || (j == 7 && i != 20):
					if !math.IsNaN(v) {
						t.Fatalf("C[%d,%d] = %g, want NaN", i, j, v)
					}
				case i == 20 && j == 7:
					if !math.IsInf(v, 1) {
						t.Fatalf("C[%d,%d] = %g, want +Inf", i, j, v)
					}
				case v != 0:
					t.Fatalf("C[%d,%d] = %g, want 0", i, j, v)
				}
			}
		}
	})
}

// TestConcurrent runs many Gemm calls at once, each itself splitting over goroutines, sharing the
// pooled workspaces; run with -race.
func TestConcurrent(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	type job struct {
		a, b *matrix
		s    shape
	}
	var jobs []job
	for _, s := range []shape{{150, 90, 200}, {20, 300, 100}, {64, 64, 64}, {3, 5, 7}} {
		jobs = append(jobs, job{layouts(r, s.m, s.k)[0], layouts(r, s.k, s.n)[1], s})
	}
	var wg sync.WaitGroup
	results := make([][]float32, 16)
	for g := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j := jobs[g%len(jobs)]
			for rep := 0; rep < 5; rep++ {
				c := make([]float32, j.s.m*j.s.n)
				Gemm(j.s.m, j.s.n, j.s.k, j.a.op, j.b.op, c, j.s.n, false)
				results[g] = c
			}
		}()
	}
	wg.Wait()
	for g, c := range results {
		j := jobs[g%len(jobs)]
		check(t, fmt.Sprintf("goroutine %d", g), j.s.m, j.s.n, j.s.k, j.a, j.b, make([]float32, len(c)), c, j.s.n, false)
	}
}

func TestKernelSelection(t *testing.T) {
	if err := SetKernel(Kernel(42)); err == nil {
		t.Error("SetKernel(42) succeeded")
	}
	if Kernel(42).String() == "" || AVX512.String() != "avx512" {
		t.Error("Kernel.String")
	}
	if err := setKernelByName("sse"); err == nil {
		t.Error("unknown name accepted")
	}
	if Current() != Best() {
		t.Errorf("Current() = %v, want Best() = %v by default", Current(), Best())
	}
}

// TestEnvironment re-runs this test binary with GONOMALY_SGEMM set, since the variable is read at init.
func TestEnvironment(t *testing.T) {
	if os.Getenv("SGEMM_CHILD") == "1" {
		fmt.Printf("kernel=%v\n", Current())
		return
	}
	for _, tc := range []struct{ env, want string }{{"generic", "generic"}, {"bogus", Best().String()}} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestEnvironment$")
		cmd.Env = append(os.Environ(), "SGEMM_CHILD=1", "GONOMALY_SGEMM="+tc.env)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "kernel="+tc.want+"\n") {
			t.Errorf("GONOMALY_SGEMM=%s: got %q, want kernel=%s", tc.env, out, tc.want)
		}
		if tc.env == "bogus" && !strings.Contains(string(out), "ignoring GONOMALY_SGEMM") {
			t.Errorf("no notice for an unknown kernel: %q", out)
		}
	}
}

func TestPanics(t *testing.T) {
	mustPanic := func(name string, f func()) {
		defer func() {
			if recover() == nil {
				t.Errorf("%s did not panic", name)
			}
		}()
		f()
	}
	a := Dense(make([]float32, 4), 2)
	mustPanic("short c", func() { Gemm(2, 2, 2, a, a, make([]float32, 3), 2, false) })
	mustPanic("ldc < n", func() { Gemm(2, 2, 2, a, a, make([]float32, 4), 1, false) })
	Gemm(0, 2, 2, a, a, nil, 2, false) // m == 0 is a no-op, whatever c is
}

// TestNoGarbage checks that steady use allocates nothing on the serial path: workspaces and plans come
// from pools. (The parallel path allocates only its goroutines.)
func TestNoGarbage(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts")
	}
	a := make([]float32, 200*200)
	c := make([]float32, 200*200)
	GemmSerial(200, 150, 100, Dense(a, 100), Dense(a, 150), c, 150, false)
	if n := testing.AllocsPerRun(50, func() {
		GemmSerial(200, 150, 100, Dense(a, 100), Dense(a, 150), c, 150, false)
	}); n > 0.5 {
		t.Errorf("GemmSerial allocates %.1f times a call, want 0", n)
	}
}
