package optim

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gonomaly/gonomaly/methods/compute"
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
	a := Adam{LR: 0.1, Beta1: 0.5, Beta2: 0.9, State: "/adam_net"}
	exec, err := mlctx.NewExec(backend, vars, func(vctx *mlctx.Context, cn *Node) *Node {
		g := cn.Graph()
		w := vctx.InAbsPath("/net").GetVariableByScopeAndName("/net", "w").ValueGraph(g)
		u := vctx.InAbsPath("/other").GetVariableByScopeAndName("/other", "u").ValueGraph(g)
		loss := Add(ReduceAllSum(Mul(Square(w), cn)), ReduceAllSum(Square(u)))
		a.Step(vctx, loss, Trainable(vctx, g, "/net"))
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
