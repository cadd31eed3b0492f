package pyramidflow

import (
	"math"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"
)

// adamScope holds the optimiser state, so that it is checkpointed and a resumed run continues exactly.
const adamScope = "/adam"

// adamStep adds to loss's graph one step of torch's Adam with L2 weight decay, after clipping the
// global gradient norm to ClipNorm (torch's clip_grad_norm_), the optimiser of the authors' code.
// (methods/rd's Adam has neither clipping nor weight decay.)
func (c Config) adamStep(vctx *mlctx.Context, loss *graph.Node) {
	g := loss.Graph()
	var params []*mlctx.Variable
	for v := range vctx.IterVariables() {
		if v.Trainable && v.InUseByGraph(g) && !strings.HasPrefix(v.Scope(), adamScope) {
			params = append(params, v)
		}
	}
	sort.Slice(params, func(i, j int) bool { return params[i].ScopeAndName() < params[j].ScopeAndName() })
	values := make([]*graph.Node, len(params))
	for i, v := range params {
		values[i] = v.ValueGraph(g)
	}
	grads := graph.Gradient(loss, values...)
	if c.ClipNorm > 0 {
		var sq *graph.Node
		for _, gr := range grads {
			s := graph.ReduceAllSum(graph.Square(gr))
			if sq == nil {
				sq = s
			} else {
				sq = graph.Add(sq, s)
			}
		}
		// factor = min(1, clip / (norm + 1e-6)), as torch.
		factor := graph.Min(graph.OnesLike(sq), graph.Div(graph.ScalarOne(g, sq.DType()), graph.DivScalar(graph.AddScalar(graph.Sqrt(sq), 1e-6), c.ClipNorm)))
		for i := range grads {
			grads[i] = graph.Mul(grads[i], factor)
		}
	}
	state := vctx.InAbsPath(adamScope)
	stepVar := state.VariableWithValue("step", float32(0))
	stepVar.SetTrainable(false)
	step := graph.OnePlus(stepVar.ValueGraph(g))
	stepVar.SetValueGraph(step)
	corr1 := graph.OneMinus(graph.Exp(graph.MulScalar(step, math.Log(c.Beta1+1e-300))))
	corr2 := graph.OneMinus(graph.Exp(graph.MulScalar(step, math.Log(c.Beta2+1e-300))))
	for i, v := range params {
		scope := state.InAbsPath(adamScope + v.Scope())
		zeros := func() *tensors.Tensor { return tensors.FromShape(v.Shape()) }
		mVar := scope.GetVariableByScopeAndName(scope.Scope(), v.Name()+"_m")
		if mVar == nil {
			mVar = scope.VariableWithValue(v.Name()+"_m", zeros())
		}
		sVar := scope.GetVariableByScopeAndName(scope.Scope(), v.Name()+"_v")
		if sVar == nil {
			sVar = scope.VariableWithValue(v.Name()+"_v", zeros())
		}
		mVar.SetTrainable(false)
		sVar.SetTrainable(false)
		grad := grads[i]
		if c.WeightDecay > 0 {
			grad = graph.Add(grad, graph.MulScalar(values[i], c.WeightDecay))
		}
		m := graph.Add(graph.MulScalar(mVar.ValueGraph(g), c.Beta1), graph.MulScalar(grad, 1-c.Beta1))
		s := graph.Add(graph.MulScalar(sVar.ValueGraph(g), c.Beta2), graph.MulScalar(graph.Square(grad), 1-c.Beta2))
		mVar.SetValueGraph(m)
		sVar.SetValueGraph(s)
		update := graph.Div(graph.Div(m, corr1), graph.AddScalar(graph.Sqrt(graph.Div(s, corr2)), c.AdamEpsilon))
		v.SetValueGraph(graph.Sub(values[i], graph.MulScalar(update, c.LearningRate)))
	}
}
