package simplenet

import (
	"math"
	"sort"
	"strings"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"
)

// group gives the trainable variables under a scope prefix a learning rate and an L2 weight decay
// (SimpleNet trains its adaptor at 1e-4 and its discriminator at 2e-4, both with decay 1e-5).
type group struct {
	prefix       string
	lr, wd       float64
	beta1, beta2 float64
}

// adamScope holds the optimiser state, checkpointed with the model so a resumed run continues exactly.
const adamScope = "/adam"

// adamStep adds one Adam update (Kingma and Ba, ICLR 2015, with bias correction) of every trainable
// variable loss uses and whose scope starts with a group's prefix. Weight decay is torch.optim.Adam's:
// wd*w is added to the gradient before the moments. methods/rd's Adam has no weight decay, which both
// methods here need, hence this one.
func adamStep(vctx *mlctx.Context, loss *Node, groups []group) {
	g := loss.Graph()
	var params []*mlctx.Variable
	var pg []group
	for v := range vctx.IterVariables() {
		if !v.Trainable || !v.InUseByGraph(g) || strings.HasPrefix(v.Scope(), adamScope) {
			continue
		}
		for _, gr := range groups {
			if strings.HasPrefix(v.Scope(), gr.prefix) {
				params = append(params, v)
				pg = append(pg, gr)
				break
			}
		}
	}
	idx := make([]int, len(params))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return params[idx[a]].ScopeAndName() < params[idx[b]].ScopeAndName() })
	values := make([]*Node, len(params))
	for i, v := range params {
		values[i] = v.ValueGraph(g)
	}
	grads := Gradient(loss, values...)

	state := vctx.InAbsPath(adamScope)
	stepVar := state.GetVariableByScopeAndName(adamScope, "step")
	if stepVar == nil {
		stepVar = state.VariableWithValue("step", float32(0))
	}
	stepVar.SetTrainable(false)
	step := OnePlus(stepVar.ValueGraph(g))
	stepVar.SetValueGraph(step)
	for _, i := range idx {
		v, gr := params[i], pg[i]
		scope := adamScope + v.Scope()
		sc := vctx.InAbsPath(scope)
		moment := func(name string) *mlctx.Variable {
			mv := sc.GetVariableByScopeAndName(scope, name)
			if mv == nil {
				mv = sc.VariableWithValue(name, tensors.FromShape(v.Shape()))
			}
			mv.SetTrainable(false)
			return mv
		}
		mVar, vVar := moment(v.Name()+"_m"), moment(v.Name()+"_v")
		grad := grads[i]
		if gr.wd > 0 {
			grad = Add(grad, MulScalar(values[i], gr.wd))
		}
		corr1 := OneMinus(Exp(MulScalar(step, math.Log(gr.beta1))))
		corr2 := OneMinus(Exp(MulScalar(step, math.Log(gr.beta2))))
		m := Add(MulScalar(mVar.ValueGraph(g), gr.beta1), MulScalar(grad, 1-gr.beta1))
		s := Add(MulScalar(vVar.ValueGraph(g), gr.beta2), MulScalar(Square(grad), 1-gr.beta2))
		mVar.SetValueGraph(m)
		vVar.SetValueGraph(s)
		update := Div(Div(m, corr1), AddScalar(Sqrt(Div(s, corr2)), 1e-8))
		v.SetValueGraph(Sub(values[i], MulScalar(update, gr.lr)))
	}
}
