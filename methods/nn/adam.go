package nn

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// AdamScope is the default context scope of Adam's state (step counter and moments), so that it is
// checkpointed with the model and a resumed run continues exactly; savers skip it for inference-only
// checkpoints.
const AdamScope = "/adam"

// ParamGroup gives the trainable variables under a scope prefix their own learning rate and weight
// decay. The first matching group wins; a variable no group matches takes AdamConfig's values.
type ParamGroup struct {
	Prefix       string
	LearningRate float64
	// WeightDecay is torch's L2 decay for the group: WeightDecay·w is added to the gradient.
	WeightDecay float64
}

// AdamConfig configures AdamStep: torch's Adam (Kingma and Ba, "Adam: A Method for Stochastic
// Optimization", ICLR 2015, bias-corrected moments, epsilon added to the corrected root), with torch's
// options the catalogue's recipes use.
type AdamConfig struct {
	LearningRate, Beta1, Beta2 float64
	// Epsilon defaults to 1e-8 (torch's).
	Epsilon float64
	// WeightDecay is torch's L2 decay (WeightDecay·w added to the gradient before the moments).
	WeightDecay float64
	// ClipNorm, when positive, first scales all gradients together so that their global L2 norm is at
	// most ClipNorm (torch.nn.utils.clip_grad_norm_, with its 1e-6).
	ClipNorm float64
	// Groups override LearningRate and WeightDecay for variables under their prefixes.
	Groups []ParamGroup
	// State is the absolute scope of the optimiser's state; default AdamScope. Two optimisers in one
	// graph (a GAN's generator and discriminator) need two.
	State string
	// Params, when not nil, are the variables to update (see Trainable); nil means every trainable
	// variable the loss's graph uses.
	Params []*context.Variable
}

// Trainable returns the trainable variables of vctx used by g whose scope starts with prefix, sorted by
// name (an optimiser's state is never trainable).
func Trainable(vctx *context.Context, g *graph.Graph, prefix string) []*context.Variable {
	var out []*context.Variable
	for v := range vctx.IterVariables() {
		if v.Trainable && v.InUseByGraph(g) && strings.HasPrefix(v.Scope(), prefix) {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ScopeAndName() < out[j].ScopeAndName() })
	return out
}

// AdamStep adds to loss's graph one Adam update of cfg.Params (default: every trainable variable the
// graph uses). lrScale, when not nil, is a scalar node multiplying every learning rate (a schedule fed
// per step, e.g. DRAEM's multistep decay), so changing it does not recompile. GoMLX's own Adam has one
// learning rate per context and no gradient clipping, hence this one, shared by every method that trains.
func AdamStep(vctx *context.Context, loss *graph.Node, cfg AdamConfig, lrScale *graph.Node) {
	g := loss.Graph()
	eps := cfg.Epsilon
	if eps == 0 {
		eps = 1e-8
	}
	stateScope := cfg.State
	if stateScope == "" {
		stateScope = AdamScope
	}
	params := cfg.Params
	if params == nil {
		for _, v := range Trainable(vctx, g, "") {
			if !strings.HasPrefix(v.Scope(), stateScope) { // moments restored from a checkpoint
				params = append(params, v)
			}
		}
	}
	if len(params) == 0 {
		panic(fmt.Sprintf("nn.AdamStep: no trainable variables to update (state %s)", stateScope))
	}
	values := make([]*graph.Node, len(params))
	for i, v := range params {
		values[i] = v.ValueGraph(g)
	}
	grads := graph.Gradient(loss, values...)
	if cfg.ClipNorm > 0 {
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
		factor := graph.Min(graph.OnesLike(sq), graph.MulScalar(graph.Inverse(graph.AddScalar(graph.Sqrt(sq), 1e-6)), cfg.ClipNorm))
		for i := range grads {
			grads[i] = graph.Mul(grads[i], factor)
		}
	}

	state := vctx.InAbsPath(stateScope)
	stepVar := state.VariableWithValue("step", float32(0))
	stepVar.SetTrainable(false)
	step := graph.OnePlus(stepVar.ValueGraph(g))
	stepVar.SetValueGraph(step)
	b1, b2 := cfg.Beta1, cfg.Beta2
	// Bias corrections 1 - beta^t, computed in the graph from the step counter.
	corr1 := graph.OneMinus(graph.Exp(graph.MulScalar(step, math.Log(b1+1e-300))))
	corr2 := graph.OneMinus(graph.Exp(graph.MulScalar(step, math.Log(b2+1e-300))))
	for i, v := range params {
		lr, wd := cfg.LearningRate, cfg.WeightDecay
		for _, grp := range cfg.Groups {
			if strings.HasPrefix(v.Scope(), grp.Prefix) {
				lr, wd = grp.LearningRate, grp.WeightDecay
				break
			}
		}
		scope := state.InAbsPath(stateScope + v.Scope())
		moment := func(name string) *context.Variable {
			mv := scope.GetVariableByScopeAndName(scope.Scope(), name)
			if mv == nil {
				mv = scope.VariableWithValue(name, tensors.FromShape(v.Shape()))
			}
			mv.SetTrainable(false)
			return mv
		}
		mVar, vVar := moment(v.Name()+"_m"), moment(v.Name()+"_v")
		grad := grads[i]
		if wd > 0 {
			grad = graph.Add(grad, graph.MulScalar(values[i], wd))
		}
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
