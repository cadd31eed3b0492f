package flow

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gonomaly/gonomaly/methods/compute"
)

// blockCase is one block under test, with the condition width it takes (0: none).
type blockCase struct {
	name  string
	block Block
	cond  int
}

func blockCases() []blockCase {
	return []blockCase{
		{"coupling", AffineCoupling{Hidden: 8}, 0},
		{"coupling-reverse-cond", AffineCoupling{Hidden: 8, Reverse: true, Clamp: 1.5}, 3},
		{"coupling-unclamped", AffineCoupling{Clamp: -1}, 2},
		{"permutation", Permutation{Seed: 7}, 0},
		{"invconv1x1", InvConv1x1{Seed: 3}, 0},
		{"invconv1x1-volume-norm", InvConv1x1{Seed: 4, VolumeNorm: true}, 0},
		{"actnorm", ActNorm{}, 0},
		{"flow", New(ActNorm{}, InvConv1x1{Seed: 1}, AffineCoupling{Hidden: 8}, Permutation{Seed: 2},
			AffineCoupling{Hidden: 8, Reverse: true}), 2},
	}
}

// randData returns n x d values from a Gaussian of the given mean and standard deviation.
func randData(rng *rand.Rand, n, d int, mean, std float64) []float64 {
	v := make([]float64, n*d)
	for i := range v {
		v[i] = mean + std*rng.NormFloat64()
	}
	return v
}

func flat(t testing.TB, x *tensors.Tensor) []float64 {
	t.Helper()
	switch v := x.Value().(type) {
	case [][]float32:
		var out []float64
		for _, row := range v {
			for _, e := range row {
				out = append(out, float64(e))
			}
		}
		return out
	case [][][]float32, [][][]float64:
		t.Fatalf("unexpected rank-3 tensor %s", x.Shape())
	case [][]float64:
		var out []float64
		for _, row := range v {
			out = append(out, row...)
		}
		return out
	case []float32:
		out := make([]float64, len(v))
		for i, e := range v {
			out[i] = float64(e)
		}
		return out
	case []float64:
		return v
	case float32:
		return []float64{float64(v)}
	case float64:
		return []float64{v}
	}
	t.Fatalf("unexpected tensor %s", x.Shape())
	return nil
}

// newCtx returns a seeded context, with the block's variables initialised (and ActNorm's data-dependent
// initialisation done on a batch of mean 3, standard deviation 2) in the given dtype.
func newCtx(t *testing.T, bc blockCase, float64s bool, d int) *context.Context {
	t.Helper()
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(11); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	x, cond := input(float64s, randData(rng, 32, d, 3, 2), d), condInput(float64s, rng, 32, bc.cond)
	exec := context.MustNewExec(compute.MustBackend(), ctx, func(ctx *context.Context, in []*graph.Node) []*graph.Node {
		ctx.SetTraining(in[0].Graph(), true)
		y, ld := bc.block.Forward(ctx, in[0], condNode(in))
		return []*graph.Node{y, ld}
	})
	exec.MustExec(inputs(x, cond)...)
	// Move every trainable variable away from its initial value, as training would: a rotation's
	// log-determinant is 0 and a zero-initialised head is the identity, which would test too little.
	for v := range ctx.IterVariables() {
		if !v.Trainable {
			continue
		}
		vals := flat(t, v.MustValue())
		for i := range vals {
			vals[i] += 0.3 * rng.NormFloat64()
		}
		v.MustSetValue(tensorOf(v.Shape().DType, vals, v.Shape().Dimensions...))
	}
	return ctx
}

func input(float64s bool, data []float64, d int) *tensors.Tensor {
	if float64s {
		return tensors.FromFlatDataAndDimensions(data, len(data)/d, d)
	}
	return tensorOf(dtypeOf(false), data, len(data)/d, d)
}

func condInput(float64s bool, rng *rand.Rand, n, c int) *tensors.Tensor {
	if c == 0 {
		return nil
	}
	return input(float64s, randData(rng, n, c, 0, 1), c)
}

func inputs(x, cond *tensors.Tensor) []any {
	if cond == nil {
		return []any{x}
	}
	return []any{x, cond}
}

func condNode(in []*graph.Node) *graph.Node {
	if len(in) > 1 {
		return in[1]
	}
	return nil
}

// TestInverse checks that every block, and a flow of them, inverts to 1e-4 in float32.
func TestInverse(t *testing.T) {
	const n, d = 64, 6
	for _, bc := range blockCases() {
		t.Run(bc.name, func(t *testing.T) {
			ctx := newCtx(t, bc, false, d)
			rng := rand.New(rand.NewPCG(8, 9))
			x, cond := input(false, randData(rng, n, d, 1, 2), d), condInput(false, rng, n, bc.cond)
			exec := context.MustNewExec(compute.MustBackend(), ctx, func(ctx *context.Context, in []*graph.Node) []*graph.Node {
				y, _ := bc.block.Forward(ctx, in[0], condNode(in))
				return []*graph.Node{y, bc.block.Inverse(ctx, y, condNode(in))}
			})
			out := exec.MustExec(inputs(x, cond)...)
			xs, ys, back := flat(t, x), flat(t, out[0]), flat(t, out[1])
			maxErr, moved := 0.0, 0.0
			for i := range xs {
				maxErr = max(maxErr, math.Abs(back[i]-xs[i]))
				moved = max(moved, math.Abs(ys[i]-xs[i]))
			}
			t.Logf("max |inverse(forward(x)) - x| = %.2g (forward moved x by up to %.2g)", maxErr, moved)
			if maxErr > 1e-4 {
				t.Errorf("inverse error %.3g > 1e-4", maxErr)
			}
			if moved < 1e-2 {
				t.Errorf("forward is (nearly) the identity, max change %.3g: the test would not test anything", moved)
			}
		})
	}
}

// TestLogDet compares each block's log-determinant with log|det J| of the Jacobian computed by central
// finite differences in float64.
func TestLogDet(t *testing.T) {
	const n, d, h = 3, 5, 1e-5
	for _, bc := range blockCases() {
		t.Run(bc.name, func(t *testing.T) {
			ctx := newCtx(t, bc, true, d)
			rng := rand.New(rand.NewPCG(10, 11))
			xs := randData(rng, n, d, 1, 2)
			var conds []float64
			if bc.cond > 0 {
				conds = randData(rng, n, bc.cond, 0, 1)
			}
			// One batch: each sample, then its 2d perturbations x ± h·e_j (with the sample's condition).
			var batch, batchCond []float64
			for s := 0; s < n; s++ {
				row := xs[s*d : (s+1)*d]
				add := func(j int, delta float64) {
					for k, v := range row {
						if k == j {
							v += delta
						}
						batch = append(batch, v)
					}
					if bc.cond > 0 {
						batchCond = append(batchCond, conds[s*bc.cond:(s+1)*bc.cond]...)
					}
				}
				add(-1, 0)
				for j := 0; j < d; j++ {
					add(j, h)
					add(j, -h)
				}
			}
			var cond *tensors.Tensor
			if bc.cond > 0 {
				cond = input(true, batchCond, bc.cond)
			}
			exec := context.MustNewExec(compute.MustBackend(), ctx, func(ctx *context.Context, in []*graph.Node) []*graph.Node {
				y, ld := bc.block.Forward(ctx, in[0], condNode(in))
				return []*graph.Node{y, ld}
			})
			out := exec.MustExec(inputs(input(true, batch, d), cond)...)
			ys, lds := flat(t, out[0]), flat(t, out[1])
			per := 1 + 2*d
			for s := 0; s < n; s++ {
				base := s * per
				jac := make([]float64, d*d) // jac[i*d+j] = ∂y_i/∂x_j
				for j := 0; j < d; j++ {
					plus, minus := ys[(base+1+2*j)*d:], ys[(base+2+2*j)*d:]
					for i := 0; i < d; i++ {
						jac[i*d+j] = (plus[i] - minus[i]) / (2 * h)
					}
				}
				want := logAbsDet(jac, d)
				got := lds[base]
				t.Logf("sample %d: log|det| block %.8f, finite differences %.8f", s, got, want)
				if math.Abs(got-want) > 1e-6*max(1, math.Abs(want)) {
					t.Errorf("sample %d: log-determinant %.8f, numerical Jacobian gives %.8f", s, got, want)
				}
			}
		})
	}
}

// logAbsDet returns log|det a| of the d x d row-major matrix a, by Gaussian elimination with pivoting.
func logAbsDet(a []float64, d int) float64 {
	m := append([]float64(nil), a...)
	sum := 0.0
	for k := 0; k < d; k++ {
		p := k
		for i := k + 1; i < d; i++ {
			if math.Abs(m[i*d+k]) > math.Abs(m[p*d+k]) {
				p = i
			}
		}
		for j := 0; j < d; j++ {
			m[k*d+j], m[p*d+j] = m[p*d+j], m[k*d+j]
		}
		sum += math.Log(math.Abs(m[k*d+k]))
		for i := k + 1; i < d; i++ {
			f := m[i*d+k] / m[k*d+k]
			for j := k; j < d; j++ {
				m[i*d+j] -= f * m[k*d+j]
			}
		}
	}
	return sum
}

// TestActNormDataInit checks Glow's data-dependent initialisation: on the first training batch the
// output has zero mean and unit variance per dimension, and later batches no longer re-initialise.
func TestActNormDataInit(t *testing.T) {
	const n, d = 500, 3
	ctx := context.New()
	rng := rand.New(rand.NewPCG(1, 1))
	exec := context.MustNewExec(compute.MustBackend(), ctx, func(ctx *context.Context, x *graph.Node) *graph.Node {
		ctx.SetTraining(x.Graph(), true)
		y, _ := ActNorm{}.Forward(ctx, x, nil)
		return y
	})
	momentsOf := func(y []float64) (mean, std [d]float64) {
		for i, v := range y {
			mean[i%d] += v / n
		}
		for i, v := range y {
			std[i%d] += (v - mean[i%d]) * (v - mean[i%d]) / n
		}
		for j := range std {
			std[j] = math.Sqrt(std[j])
		}
		return
	}
	first := flat(t, exec.MustExec(input(false, randData(rng, n, d, 3, 2), d))[0])
	mean, std := momentsOf(first)
	for j := 0; j < d; j++ {
		if math.Abs(mean[j]) > 1e-4 || math.Abs(std[j]-1) > 1e-4 {
			t.Errorf("first batch, dimension %d: mean %.5f, std %.5f after initialisation, want 0 and 1", j, mean[j], std[j])
		}
	}
	// A second batch from another distribution keeps the first batch's statistics.
	second := flat(t, exec.MustExec(input(false, randData(rng, n, d, -1, 4), d))[0])
	mean, std = momentsOf(second)
	for j := 0; j < d; j++ {
		if math.Abs(mean[j]-(-2)) > 0.3 || math.Abs(std[j]-2) > 0.3 {
			t.Errorf("second batch, dimension %d: mean %.3f, std %.3f, want about -2 and 2 (no re-initialisation)", j, mean[j], std[j])
		}
	}
}

// dtypeOf returns Float64 when float64s is set, else Float32.
func dtypeOf(float64s bool) dtypes.DType {
	if float64s {
		return dtypes.Float64
	}
	return dtypes.Float32
}

// TestForwardRange: running a flow in two pieces (blocks [0, k) then [k, K)) gives Forward's output and
// its log-determinant split in two, for every split point.
func TestForwardRange(t *testing.T) {
	const n, d = 32, 4
	bc := blockCases()[len(blockCases())-1] // the mixed flow
	f := bc.block.(*Flow)
	ctx := newCtx(t, bc, false, d)
	rng := rand.New(rand.NewPCG(3, 4))
	x, cond := input(false, randData(rng, n, d, 1, 2), d), condInput(false, rng, n, bc.cond)
	for k := 0; k <= len(f.Blocks); k++ {
		exec := context.MustNewExec(compute.MustBackend(), ctx, func(ctx *context.Context, in []*graph.Node) []*graph.Node {
			z, ld := f.Forward(ctx, in[0], condNode(in))
			h, ld1 := f.ForwardRange(ctx, in[0], condNode(in), 0, k)
			z2, ld2 := f.ForwardRange(ctx, h, condNode(in), k, len(f.Blocks))
			return []*graph.Node{z, ld, z2, graph.Add(ld1, ld2), ld1}
		})
		out := exec.MustExec(inputs(x, cond)...)
		z, z2 := flat(t, out[0]), flat(t, out[2])
		ld, ld12, ld1 := out[1].Value().([]float32), out[3].Value().([]float32), out[4].Value().([]float32)
		for i := range z {
			if math.Abs(z[i]-z2[i]) > 1e-5 {
				t.Fatalf("split at %d: output %d is %v, Forward's %v", k, i, z2[i], z[i])
			}
		}
		for i := range ld {
			if math.Abs(float64(ld[i]-ld12[i])) > 1e-4 {
				t.Fatalf("split at %d: log-determinants sum to %v, Forward's %v", k, ld12[i], ld[i])
			}
		}
		if k == 0 && ld1[0] != 0 {
			t.Fatalf("empty range has log-determinant %v", ld1[0])
		}
	}
}
