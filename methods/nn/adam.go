package nn

import (
	"math"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// AdamScope is the context scope holding Adam's state (step counter and moments), so that it is
// checkpointed with the model and a resumed run continues exactly; savers skip it for inference-only
// checkpoints.
const AdamScope = "/adam"

// ParamGroup gives the trainable variables under a scope prefix their own learning rate. The first
// matching group wins.
type ParamGroup struct {
	Prefix       string
	LearningRate float64
}

// AdamConfig configures AdamStep: torch's Adam (Kingma and Ba, "Adam: A Method for Stochastic
// Optimization", ICLR 2015, with bias correction; epsilon 1e-8 unless set).
type AdamConfig struct {
	LearningRate, Beta1, Beta2, Epsilon float64
	// Groups override LearningRate for variables under their prefixes.
	Groups []ParamGroup
}

// AdamStep adds one Adam update of every trainable variable the graph of loss uses (outside AdamScope).
// lrScale, when not nil, is a scalar node multiplying every learning rate (a schedule fed per step, e.g.
// DRAEM's multistep decay), so changing it does not recompile. GoMLX's own Adam has a single learning
// rate per context and keeps its state elsewhere, hence this one (moved here from methods/rd, which
// uses it unchanged).
func AdamStep(vctx *context.Context, loss *graph.Node, cfg AdamConfig, lrScale *graph.Node) {
	g := loss.Graph()
	eps := cfg.Epsilon
	if eps == 0 {
		eps = 1e-8
	}
	var params []*context.Variable
	for v := range vctx.IterVariables() {
		if v.Trainable && v.InUseByGraph(g) && !strings.HasPrefix(v.Scope(), AdamScope) {
			params = append(params, v)
		}
	}
	sort.Slice(params, func(i, j int) bool { return params[i].ScopeAndName() < params[j].ScopeAndName() })
	values := make([]*graph.Node, len(params))
	for i, v := range params {
		values[i] = v.ValueGraph(g)
	}
	grads := graph.Gradient(loss, values...)

	state := vctx.InAbsPath(AdamScope)
	stepVar := state.VariableWithValue("step", float32(0))
	stepVar.SetTrainable(false)
	step := graph.OnePlus(stepVar.ValueGraph(g))
	stepVar.SetValueGraph(step)
	b1, b2 := cfg.Beta1, cfg.Beta2
	// Bias corrections 1 - beta^t, computed in the graph from the step counter.
	corr1 := graph.OneMinus(graph.Exp(graph.MulScalar(step, math.Log(b1))))
	corr2 := graph.OneMinus(graph.Exp(graph.MulScalar(step, math.Log(b2))))
	for i, v := range params {
		lr := cfg.LearningRate
		for _, grp := range cfg.Groups {
			if strings.HasPrefix(v.Scope(), grp.Prefix) {
				lr = grp.LearningRate
				break
			}
		}
		scope := state.InAbsPath(AdamScope + v.Scope())
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
		m := graph.Add(graph.MulScalar(mVar.ValueGraph(g), b1), graph.MulScalar(grad, 1-b1))
		s := graph.Add(graph.MulScalar(vVar.ValueGraph(g), b2), graph.MulScalar(graph.Square(grad), 1-b2))
		mVar.SetValueGraph(m)
		vVar.SetValueGraph(s)
		update := graph.MulScalar(graph.Div(graph.Div(m, corr1), graph.AddScalar(graph.Sqrt(graph.Div(s, corr2)), eps)), lr)
		if lrScale != nil {
			update = graph.Mul(update, graph.ConvertDType(lrScale, update.DType()))
		}
		v.SetValueGraph(graph.Sub(values[i], update))
	}
}
