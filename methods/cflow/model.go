package cflow

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gonomaly/gonomaly/methods/flow"
)

// PositionalEncoding returns the 2-D sinusoidal encoding of an h x w grid with p channels (p a multiple of
// 4), row-major [h·w·p]: the condition of CFLOW-AD's decoders (after Vaswani et al.'s
// 1-D encoding). The first p/2 channels encode the column x, the last p/2 the row y; within each half,
// channel 2k is sin(pos·ω_k) and 2k+1 is cos(pos·ω_k), with ω_k = 10000^(-2k/(p/2)).
func PositionalEncoding(p, h, w int) []float32 {
	half := p / 2
	out := make([]float32, h*w*p)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			row := out[(y*w+x)*p : (y*w+x+1)*p]
			for k := 0; 2*k < half; k++ {
				omega := math.Exp(-float64(2*k) * math.Log(1e4) / float64(half))
				row[2*k] = float32(math.Sin(float64(x) * omega))
				row[2*k+1] = float32(math.Cos(float64(x) * omega))
				row[half+2*k] = float32(math.Sin(float64(y) * omega))
				row[half+2*k+1] = float32(math.Cos(float64(y) * omega))
			}
		}
	}
	return out
}

// actNormEpsilon floors the decoders' initial scaling of constant feature channels (dead ReLU channels,
// which a seeded encoder has): without it their scale would start at 1e6.
const actNormEpsilon = 0.1

// decoder is the conditional flow of one tap: actnorm, then CouplingBlocks x (conditional
// affine coupling with clamp, fixed random permutation). Seeds derive from the configuration's Seed and
// the tap index, so a loaded detector rebuilds the same permutations.
func (c Config) decoder(tap int) *flow.Flow {
	blocks := []flow.Block{flow.ActNorm{Epsilon: actNormEpsilon}}
	for k := 0; k < c.CouplingBlocks; k++ {
		blocks = append(blocks,
			flow.AffineCoupling{Clamp: c.Clamp},
			flow.Permutation{Seed: c.Seed*1000003 + uint64(tap)*1009 + uint64(k) + 1})
	}
	return flow.New(blocks...)
}

// tapScope is the variable scope of tap i's decoder.
func tapScope(ctx *context.Context, i int) *context.Context {
	return ctx.In("decoder").In(fmt.Sprintf("tap%d", i))
}

// logLikelihood returns the per-dimension log-likelihood [N] of fibers [N, C] at positions with encoding
// cond [N, P] under tap i's decoder (the log-likelihood divided by C, as the authors' code).
func (c Config) logLikelihood(ctx *context.Context, tap int, fibers, cond *graph.Node) *graph.Node {
	z, logDet := c.decoder(tap).Forward(tapScope(ctx, tap), fibers, cond)
	return flow.LogLikelihoodPerDim(z, logDet)
}

// trainingLoss is the authors' code's loss: the mean over fibers of -log σ(log p / C), the
// per-dimension log-likelihood through a log-sigmoid (which stops pushing fibers already likely).
func trainingLoss(llPerDim *graph.Node) *graph.Node {
	// log σ(x) = min(x, 0) - log(1 + exp(-|x|)), stable for large |x|.
	x := llPerDim
	logSigmoid := graph.Sub(graph.Min(x, graph.ZerosLike(x)), graph.Log1p(graph.Exp(graph.Neg(graph.Abs(x)))))
	return graph.Neg(graph.ReduceAllMean(logSigmoid))
}

// learningRate is the authors' schedule at step `step` (counted from 0 in each meta epoch) of the
// `steps` of meta epoch `epoch`: linear warm-up from lr/10 over the first WarmupMetaEpochs, then cosine
// decay per meta epoch to lr·DecayRate³.
func (c Config) learningRate(epoch, step, steps int) float64 {
	lr := c.LearningRate
	etaMin := lr * math.Pow(c.DecayRate, 3)
	cosine := func(e float64) float64 {
		return etaMin + (lr-etaMin)*(1+math.Cos(math.Pi*e/float64(c.MetaEpochs)))/2
	}
	if epoch < c.WarmupMetaEpochs {
		from, to := lr/10, cosine(float64(c.WarmupMetaEpochs))
		p := (float64(step) + float64(epoch*steps)) / float64(c.WarmupMetaEpochs*steps)
		return from + p*(to-from)
	}
	return cosine(float64(epoch))
}
