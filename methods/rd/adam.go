package rd

import (
	"math"
	"sort"
	"strings"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"
)

// paramGroup gives the trainable variables under a scope prefix their own learning rate (RD++ trains
// its projection at 1e-3 and the distillation at 5e-3). The first matching group wins.
type paramGroup struct {
	prefix string
	lr     float64
}

// adamEpsilon is torch's Adam default.
const adamEpsilon = 1e-8

// adamStep adds Adam updates (Kingma and Ba, ICLR 2015; torch's formulation with bias correction) of
// every trainable variable used by loss's graph. GoMLX's own Adam has a single learning rate per
// context, hence this small one with parameter groups. Its state lives under the "/adam" scope, so it is
// checkpointed with the model and a resumed run continues exactly.
func adamStep(vctx *mlctx.Context, loss *Node, cfg Config, groups []paramGroup) {
	g := loss.Graph()
	var params []*mlctx.Variable
	for v := range vctx.IterVariables() {
		if v.Trainable && v.InUseByGraph(g) && !strings.HasPrefix(v.Scope(), "/adam") {
			params = append(params, v)
		}
	}
	sort.Slice(params, func(i, j int) bool { return params[i].ScopeAndName() < params[j].ScopeAndName() })
	values := make([]*Node, len(params))
	for i, v := range params {
		values[i] = v.ValueGraph(g)
	}
	grads := Gradient(loss, values...)

	state := vctx.InAbsPath("/adam")
	stepVar := state.VariableWithValue("step", float32(0))
	stepVar.SetTrainable(false)
	step := OnePlus(stepVar.ValueGraph(g))
	stepVar.SetValueGraph(step)
	b1, b2 := cfg.Beta1, cfg.Beta2
	// Bias corrections 1 - beta^t, computed in the graph from the step counter.
	corr1 := OneMinus(Exp(MulScalar(step, math.Log(b1))))
	corr2 := OneMinus(Exp(MulScalar(step, math.Log(b2))))
	for i, v := range params {
		lr := cfg.LearningRate
		for _, grp := range groups {
			if strings.HasPrefix(v.Scope(), grp.prefix) {
				lr = grp.lr
				break
			}
		}
		scope := state.InAbsPath("/adam" + v.Scope())
		zeros := func() *tensors.Tensor { return tensors.FromShape(v.Shape()) }
		mVar := scope.GetVariableByScopeAndName(scope.Scope(), v.Name()+"_m")
		if mVar == nil {
			mVar = scope.VariableWithValue(v.Name()+"_m", zeros())
		}
		vVar := scope.GetVariableByScopeAndName(scope.Scope(), v.Name()+"_v")
		if vVar == nil {
			vVar = scope.VariableWithValue(v.Name()+"_v", zeros())
		}
		mVar.SetTrainable(false)
		vVar.SetTrainable(false)
		grad := grads[i]
		m := Add(MulScalar(mVar.ValueGraph(g), b1), MulScalar(grad, 1-b1))
		s := Add(MulScalar(vVar.ValueGraph(g), b2), MulScalar(Square(grad), 1-b2))
		mVar.SetValueGraph(m)
		vVar.SetValueGraph(s)
		update := Div(Div(m, corr1), AddScalar(Sqrt(Div(s, corr2)), adamEpsilon))
		v.SetValueGraph(Sub(values[i], MulScalar(update, lr)))
	}
}
