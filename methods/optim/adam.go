// Package optim holds the optimiser the from-scratch methods (GANomaly, the ViT inpainter) share: Adam
// over an explicit list of variables, so that a GAN can update its generator and its discriminator with
// separate optimisers inside one training graph.
package optim

import (
	"fmt"
	"math"
	"sort"
	"strings"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"
)

// Adam is the optimiser of Kingma and Ba ("Adam: A Method for Stochastic Optimization", ICLR 2015), in
// torch's formulation (bias-corrected moments, epsilon added to the corrected root).
type Adam struct {
	LR, Beta1, Beta2 float64
	// Epsilon defaults to 1e-8 (torch's).
	Epsilon float64
	// State is the absolute scope of the moment estimates and the step counter, e.g. "/adam_g"; it is
	// saved with the model, so a resumed run continues exactly.
	State string
}

// Trainable returns the trainable variables of vctx used by g whose scope starts with prefix, sorted by
// name (the optimiser's state never counts).
func Trainable(vctx *mlctx.Context, g *Graph, prefix string) []*mlctx.Variable {
	var out []*mlctx.Variable
	for v := range vctx.IterVariables() {
		if v.Trainable && v.InUseByGraph(g) && strings.HasPrefix(v.Scope(), prefix) {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ScopeAndName() < out[j].ScopeAndName() })
	return out
}

// Step adds to loss's graph one Adam update of params (the gradient of loss with respect to each).
func (a Adam) Step(vctx *mlctx.Context, loss *Node, params []*mlctx.Variable) {
	if len(params) == 0 {
		panic(fmt.Sprintf("optim: no parameters to update under %s", a.State))
	}
	g := loss.Graph()
	values := make([]*Node, len(params))
	for i, v := range params {
		values[i] = v.ValueGraph(g)
	}
	grads := Gradient(loss, values...)
	eps := a.Epsilon
	if eps == 0 {
		eps = 1e-8
	}
	state := vctx.InAbsPath(a.State)
	stepVar := state.VariableWithValue("step", float32(0)).SetTrainable(false)
	step := OnePlus(stepVar.ValueGraph(g))
	stepVar.SetValueGraph(step)
	corr1 := OneMinus(Exp(MulScalar(step, math.Log(a.Beta1))))
	corr2 := OneMinus(Exp(MulScalar(step, math.Log(a.Beta2))))
	for i, v := range params {
		scope := vctx.InAbsPath(a.State + v.Scope())
		moment := func(name string) *mlctx.Variable {
			mv := scope.GetVariableByScopeAndName(scope.Scope(), name)
			if mv == nil {
				mv = scope.VariableWithValue(name, tensors.FromShape(v.Shape()))
			}
			return mv.SetTrainable(false)
		}
		mVar, sVar := moment(v.Name()+"_m"), moment(v.Name()+"_v")
		m := Add(MulScalar(mVar.ValueGraph(g), a.Beta1), MulScalar(grads[i], 1-a.Beta1))
		s := Add(MulScalar(sVar.ValueGraph(g), a.Beta2), MulScalar(Square(grads[i]), 1-a.Beta2))
		mVar.SetValueGraph(m)
		sVar.SetValueGraph(s)
		update := Div(Div(m, corr1), AddScalar(Sqrt(Div(s, corr2)), eps))
		v.SetValueGraph(Sub(values[i], MulScalar(update, a.LR)))
	}
}
