package pyramidflow

import (
	"github.com/gomlx/gomlx/pkg/core/graph"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gonomaly/gonomaly/methods/nn"
)

// adamScope holds the optimiser state, so that it is checkpointed and a resumed run continues exactly.
const adamScope = "/adam"

// adamStep adds to loss's graph one step of torch's Adam with L2 weight decay, after clipping the
// global gradient norm to ClipNorm (torch's clip_grad_norm_): the optimiser of the authors' code.
func (c Config) adamStep(vctx *mlctx.Context, loss *graph.Node) {
	nn.AdamStep(vctx, loss, nn.AdamConfig{LearningRate: c.LearningRate, Beta1: c.Beta1, Beta2: c.Beta2,
		Epsilon: c.AdamEpsilon, WeightDecay: c.WeightDecay, ClipNorm: c.ClipNorm, State: adamScope}, nil)
}
