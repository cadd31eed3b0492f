package nn_test

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gonomaly/gonomaly/methods/compute"
	"github.com/gonomaly/gonomaly/methods/nn"
)

// TestAdamMatchesTorch runs three steps on loss = sum(w²·c) for two variables, one of them left out of
// the update, and compares with torch's Adam written out by hand.
func TestAdamMatchesTorch(t *testing.T) {
	backend, err := compute.Backend()
	if err != nil {
		t.Fatal(err)
	}
	vars := mlctx.New().Checked(false)
	w0 := []float32{0.5, -1.5, 2}
	vars.InAbsPath("/net").VariableWithValue("w", tensors.FromValue(append([]float32(nil), w0...)))
	vars.InAbsPath("/other").VariableWithValue("u", tensors.FromValue([]float32{3}))
	c := []float32{1, 2, 0.5}
	a := nn.AdamConfig{LearningRate: 0.1, Beta1: 0.5, Beta2: 0.9, State: "/adam_net"}
	exec, err := mlctx.NewExec(backend, vars, func(vctx *mlctx.Context, cn *Node) *Node {
		g := cn.Graph()
		w := vctx.InAbsPath("/net").GetVariableByScopeAndName("/net", "w").ValueGraph(g)
		u := vctx.InAbsPath("/other").GetVariableByScopeAndName("/other", "u").ValueGraph(g)
		loss := Add(ReduceAllSum(Mul(Square(w), cn)), ReduceAllSum(Square(u)))
		a.Params = nn.Trainable(vctx, g, "/net")
		nn.AdamStep(vctx, loss, a, nil)
		return loss
	})
	if err != nil {
		t.Fatal(err)
	}
	w := make([]float64, 3)
	m, v := make([]float64, 3), make([]float64, 3)
	for i := range w {
		w[i] = float64(w0[i])
	}
	for step := 1; step <= 3; step++ {
		if _, err := exec.Exec(c); err != nil {
			t.Fatal(err)
		}
		for i := range w {
			g := 2 * w[i] * float64(c[i])
			m[i] = 0.5*m[i] + 0.5*g
			v[i] = 0.9*v[i] + 0.1*g*g
			mh := m[i] / (1 - math.Pow(0.5, float64(step)))
			vh := v[i] / (1 - math.Pow(0.9, float64(step)))
			w[i] -= 0.1 * mh / (math.Sqrt(vh) + 1e-8)
		}
	}
	got := tensors.MustCopyFlatData[float32](vars.InAbsPath("/net").GetVariableByScopeAndName("/net", "w").MustValue())
	for i := range w {
		if math.Abs(float64(got[i])-w[i]) > 1e-5 {
			t.Errorf("w[%d] = %v after 3 steps, torch's Adam gives %v", i, got[i], w[i])
		}
	}
	if u := tensors.MustCopyFlatData[float32](vars.InAbsPath("/other").GetVariableByScopeAndName("/other", "u").MustValue()); u[0] != 3 {
		t.Errorf("a variable outside the list moved: %v", u[0])
	}
}

// TestAdamDecayAndClipMatchTorch: the same loss with weight decay and global-norm clipping (the
// options SimpleNet and PyramidFlow use), against torch.optim.Adam(weight_decay) after
// clip_grad_norm_, written out by hand.
func TestAdamDecayAndClipMatchTorch(t *testing.T) {
	backend, err := compute.Backend()
	if err != nil {
		t.Fatal(err)
	}
	vars := mlctx.New().Checked(false)
	w0 := []float32{0.5, -1.5, 2}
	vars.InAbsPath("/net").VariableWithValue("w", tensors.FromValue(append([]float32(nil), w0...)))
	c := []float32{1, 2, 0.5}
	const lr, b1, b2, wd, clip, eps = 0.1, 0.9, 0.999, 0.05, 0.5, 1e-4
	exec, err := mlctx.NewExec(backend, vars, func(vctx *mlctx.Context, cn *Node) *Node {
		w := vctx.InAbsPath("/net").GetVariableByScopeAndName("/net", "w").ValueGraph(cn.Graph())
		loss := ReduceAllSum(Mul(Square(w), cn))
		nn.AdamStep(vctx, loss, nn.AdamConfig{LearningRate: lr, Beta1: b1, Beta2: b2, Epsilon: eps,
			WeightDecay: wd, ClipNorm: clip}, nil)
		return loss
	})
	if err != nil {
		t.Fatal(err)
	}
	w := make([]float64, 3)
	m, v := make([]float64, 3), make([]float64, 3)
	for i := range w {
		w[i] = float64(w0[i])
	}
	for step := 1; step <= 3; step++ {
		if _, err := exec.Exec(c); err != nil {
			t.Fatal(err)
		}
		g := make([]float64, 3)
		var norm float64
		for i := range w {
			g[i] = 2 * w[i] * float64(c[i])
			norm += g[i] * g[i]
		}
		factor := math.Min(1, clip/(math.Sqrt(norm)+1e-6))
		for i := range w {
			gi := g[i]*factor + wd*w[i]
			m[i] = b1*m[i] + (1-b1)*gi
			v[i] = b2*v[i] + (1-b2)*gi*gi
			mh := m[i] / (1 - math.Pow(b1, float64(step)))
			vh := v[i] / (1 - math.Pow(b2, float64(step)))
			w[i] -= lr * mh / (math.Sqrt(vh) + eps)
		}
	}
	got := tensors.MustCopyFlatData[float32](vars.InAbsPath("/net").GetVariableByScopeAndName("/net", "w").MustValue())
	for i := range w {
		if math.Abs(float64(got[i])-w[i]) > 1e-5 {
			t.Errorf("w[%d] = %v after 3 steps, torch's Adam gives %v", i, got[i], w[i])
		}
	}
}
