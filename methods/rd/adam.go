package rd

import (
	. "github.com/gomlx/gomlx/pkg/core/graph"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gonomaly/gonomaly/methods/nn"
)

// paramGroup gives the trainable variables under a scope prefix their own learning rate (RD++ trains
// its projection at 1e-3 and the distillation at 5e-3). The first matching group wins.
type paramGroup struct {
	prefix string
	lr     float64
}

// adamStep adds Adam updates (nn.AdamStep, torch's formulation) of every trainable variable used by
// loss's graph; its state lives under the "/adam" scope, so it is checkpointed with the model.
func adamStep(vctx *mlctx.Context, loss *Node, cfg Config, groups []paramGroup) {
	ac := nn.AdamConfig{LearningRate: cfg.LearningRate, Beta1: cfg.Beta1, Beta2: cfg.Beta2}
	for _, g := range groups {
		ac.Groups = append(ac.Groups, nn.ParamGroup{Prefix: g.prefix, LearningRate: g.lr})
	}
	nn.AdamStep(vctx, loss, ac, nil)
}
