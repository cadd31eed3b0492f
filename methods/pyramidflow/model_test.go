package pyramidflow

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gonomaly/gonomaly/methods/compute"
)

// smallFlow is a configuration small enough for numerical Jacobians.
func smallFlow(levels int, vn VolumeNorm) Config {
	c := Config{Levels: levels, Stacks: 2, Kernel: 3, Clamp: 2, VolumeNorm: vn}
	c.Seed = 5
	return c
}

// levelData returns random pyramid levels [n, size>>k, size>>k, c] as float64 slices.
func levelData(rng *rand.Rand, levels, n, size, c int) [][]float64 {
	out := make([][]float64, levels)
	for k := range out {
		s := size >> k
		out[k] = make([]float64, n*s*s*c)
		for i := range out[k] {
			out[k][i] = rng.NormFloat64()
		}
	}
	return out
}

func levelTensors(data [][]float64, n, size, c int) []any {
	var out []any
	for k, d := range data {
		s := size >> k
		out = append(out, tensors.FromFlatDataAndDimensions(append([]float64(nil), d...), n, s, s, c))
	}
	return out
}

// randomise gives the zero-initialised coupling heads, the running means and the 1x1 log-scales random
// values, so that every coupling is far from the identity.
func randomise(t *testing.T, vctx *mlctx.Context, rng *rand.Rand) {
	t.Helper()
	n := 0
	for v := range vctx.IterVariables() {
		name := v.ScopeAndName()
		scale := 0.0
		switch {
		case strings.HasSuffix(name, "/scale/weight"), strings.HasSuffix(name, "/shift/weight"):
			scale = 0.3
		case strings.HasSuffix(name, "/running_mean"), strings.HasSuffix(name, "/log_s"):
			scale = 0.5
		default:
			continue
		}
		old := v.MustValue()
		data := make([]float64, old.Shape().Size())
		for i := range data {
			data[i] = scale * (2*rng.Float64() - 1)
		}
		if old.DType() == dtypes.Float32 {
			f := make([]float32, len(data))
			for i, x := range data {
				f[i] = float32(x)
			}
			v.MustSetValue(tensors.FromFlatDataAndDimensions(f, old.Shape().Dimensions...))
		} else {
			v.MustSetValue(tensors.FromFlatDataAndDimensions(data, old.Shape().Dimensions...))
		}
		n++
	}
	if n == 0 {
		t.Fatal("no variables randomised")
	}
}

// TestFlowInverts: Inverse(Forward(x)) = x to 1e-4 (float32) for both volume normalisations, with
// couplings far from the identity.
func TestFlowInverts(t *testing.T) {
	backend, err := compute.Backend()
	if err != nil {
		t.Fatal(err)
	}
	for _, vn := range []VolumeNorm{ChannelVolumeNorm, SpatialVolumeNorm} {
		cfg := smallFlow(4, vn)
		vctx := mlctx.New()
		rng := rand.New(rand.NewPCG(7, 8))
		fwd := func(ctx *mlctx.Context, in []*graph.Node) []*graph.Node {
			z, ld := cfg.Forward(ctx, in)
			return append(append(z, cfg.Inverse(ctx, z)...), ld)
		}
		data := levelData(rng, 4, 2, 16, 3)
		args := make([]any, 4)
		for k, d := range data {
			s := 16 >> k
			f := make([]float32, len(d))
			for i, v := range d {
				f[i] = float32(v)
			}
			args[k] = tensors.FromFlatDataAndDimensions(f, 2, s, s, 3)
		}
		exec, err := mlctx.NewExec(backend, vctx, fwd)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := exec.Exec(args...); err != nil { // creates the variables
			t.Fatal(err)
		}
		randomise(t, vctx, rng)
		exec, err = mlctx.NewExec(backend, vctx, fwd)
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Exec(args...)
		if err != nil {
			t.Fatal(err)
		}
		moved, worst := 0.0, 0.0
		for k, d := range data {
			z := tensors.MustCopyFlatData[float32](out[k])
			x := tensors.MustCopyFlatData[float32](out[4+k])
			for i, v := range d {
				moved = max(moved, math.Abs(float64(z[i])-v))
				worst = max(worst, math.Abs(float64(x[i])-v))
			}
		}
		t.Logf("%s: latents move up to %.3f from the input; inverse error %.2g", vn, moved, worst)
		if moved < 0.1 {
			t.Fatalf("%s: the flow is (nearly) the identity: max move %g", vn, moved)
		}
		if worst > 1e-4 {
			t.Fatalf("%s: inverse(forward(x)) differs from x by %g", vn, worst)
		}
	}
}

// logAbsDet returns log|det a| of the n x n row-major matrix a (LU with partial pivoting).
func logAbsDet(a []float64, n int) float64 {
	a = append([]float64(nil), a...)
	sum := 0.0
	for k := 0; k < n; k++ {
		p := k
		for i := k + 1; i < n; i++ {
			if math.Abs(a[i*n+k]) > math.Abs(a[p*n+k]) {
				p = i
			}
		}
		for j := 0; j < n; j++ {
			a[k*n+j], a[p*n+j] = a[p*n+j], a[k*n+j]
		}
		sum += math.Log(math.Abs(a[k*n+k]))
		for i := k + 1; i < n; i++ {
			f := a[i*n+k] / a[k*n+k]
			for j := k; j < n; j++ {
				a[i*n+j] -= f * a[k*n+j]
			}
		}
	}
	return sum
}

// jacobian returns the numerical Jacobian (central differences, step h) of the map from all levels of
// a batch of n to all latent levels, and the map's log-determinant output at the point.
func jacobian(t *testing.T, cfg Config, vctx *mlctx.Context, training bool, data [][]float64, n, size, c int) (jac []float64, dim int, logDet []float64) {
	t.Helper()
	backend, err := compute.Backend()
	if err != nil {
		t.Fatal(err)
	}
	exec, err := mlctx.NewExec(backend, vctx, func(ctx *mlctx.Context, in []*graph.Node) []*graph.Node {
		ctx.SetTraining(in[0].Graph(), training)
		z, ld := cfg.Forward(ctx, in)
		return append(z, ld)
	})
	if err != nil {
		t.Fatal(err)
	}
	run := func(d [][]float64) ([]float64, []float64) {
		out, err := exec.Exec(levelTensors(d, n, size, c)...)
		if err != nil {
			t.Fatal(err)
		}
		var flat []float64
		for _, o := range out[:len(d)] {
			flat = append(flat, tensors.MustCopyFlatData[float64](o)...)
		}
		return flat, tensors.MustCopyFlatData[float64](out[len(d)])
	}
	for _, d := range data {
		dim += len(d)
	}
	_, logDet = run(data)
	jac = make([]float64, dim*dim)
	const h = 1e-5
	col := 0
	for k := range data {
		for i := range data[k] {
			orig := data[k][i]
			data[k][i] = orig + h
			plus, _ := run(data)
			data[k][i] = orig - h
			minus, _ := run(data)
			data[k][i] = orig
			for r := range plus {
				jac[r*dim+col] = (plus[r] - minus[r]) / (2 * h)
			}
			col++
		}
	}
	return jac, dim, logDet
}

// newVars returns a context whose float64 variables exist and are randomised.
func newVars(t *testing.T, cfg Config, rng *rand.Rand, data [][]float64, n, size, c int) *mlctx.Context {
	t.Helper()
	backend, err := compute.Backend()
	if err != nil {
		t.Fatal(err)
	}
	vctx := mlctx.New()
	exec, err := mlctx.NewExec(backend, vctx, func(ctx *mlctx.Context, in []*graph.Node) *graph.Node {
		_, ld := cfg.Forward(ctx, in)
		return ld
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.Exec(levelTensors(data, n, size, c)...); err != nil {
		t.Fatal(err)
	}
	randomise(t, vctx, rng)
	for v := range vctx.IterVariables() {
		if v.Shape().DType != dtypes.Float64 && !strings.HasPrefix(v.Name(), "#") {
			t.Fatalf("variable %s is %s", v.ScopeAndName(), v.Shape().DType)
		}
	}
	return vctx
}

// TestLogDetMatchesJacobian: in inference, the log-determinant Forward returns is log|det| of the
// numerically differentiated map of one sample (float64, 2 levels of 4 x 4 and 2 x 2 with 2 channels).
func TestLogDetMatchesJacobian(t *testing.T) {
	for _, vn := range []VolumeNorm{ChannelVolumeNorm, SpatialVolumeNorm} {
		cfg := smallFlow(3, vn)
		rng := rand.New(rand.NewPCG(9, uint64(len(vn))))
		data := levelData(rng, 3, 1, 8, 2)
		vctx := newVars(t, cfg, rng, data, 1, 8, 2)
		jac, dim, logDet := jacobian(t, cfg, vctx, false, data, 1, 8, 2)
		num := logAbsDet(jac, dim)
		t.Logf("%s: %d dims, log|det J| numerical %.6f, Forward's %.6f", vn, dim, num, logDet[0])
		if math.Abs(num-logDet[0]) > 1e-4*max(1, math.Abs(num)) {
			t.Fatalf("%s: numerical log|det J| %.6f, Forward returns %.6f", vn, num, logDet[0])
		}
		if math.Abs(num) < 0.05 {
			t.Fatalf("%s: log|det J| %.6f is ~0 in inference: the running means do not act", vn, num)
		}
	}
}

// TestVolumeNormalisation: in training, volume normalisation makes the map of a whole batch volume
// preserving: the numerical log|det| of the batch Jacobian is 0, as is the sum of Forward's.
func TestVolumeNormalisation(t *testing.T) {
	for _, vn := range []VolumeNorm{ChannelVolumeNorm, SpatialVolumeNorm} {
		cfg := smallFlow(2, vn)
		rng := rand.New(rand.NewPCG(11, uint64(len(vn))))
		data := levelData(rng, 2, 2, 4, 2)
		vctx := newVars(t, cfg, rng, data, 2, 4, 2)
		jac, dim, logDet := jacobian(t, cfg, vctx, true, data, 2, 4, 2)
		num := logAbsDet(jac, dim)
		t.Logf("%s: batch of 2, %d dims: numerical log|det J| %.2g, Forward's per sample %v", vn, dim, num, logDet)
		if math.Abs(num) > 1e-5 || math.Abs(logDet[0]+logDet[1]) > 1e-9 {
			t.Fatalf("%s: batch log|det J| %g (Forward's %v), want 0", vn, num, logDet)
		}
		if math.Abs(logDet[0]) < 1e-3 {
			t.Fatalf("%s: per-sample log-determinants %v are all ~0: the test cannot tell", vn, logDet)
		}
	}
}
