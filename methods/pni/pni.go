// Package pni implements PNI (Bae, Lee and Kim, "PNI: Industrial Anomaly Detection using Position and
// Neighborhood Information", ICCV 2023): PatchCore's memory bank, made conditional on where a patch is
// and what surrounds it.
//
// The steps, in the paper's order (Sec. 3):
//
//   - Patch features and an embedding coreset for the nearest-neighbour distance, as PatchCore.
//
//   - A distribution coreset C_dist of K centroids (2048 in the paper): the first K points of the same
//     greedy k-center order; every patch is summarised by its nearest centroid.
//
//   - Position information (Sec. 3.2): p(c | position) as a per-position histogram of the train patches'
//     centroids, accumulated over a small window around each position.
//
//   - Neighbourhood information (Sec. 3.3): p(c | neighbourhood), an MLP trained on normal patches to
//     predict a patch's centroid from the features of its neighbours (9x9 window, centre excluded, in the
//     paper), with cross-entropy, in GoMLX.
//
//   - Score (Sec. 3.4): p(c | Omega) = (p(c | position) + p(c | neighbourhood)) / 2; a bank patch m is
//     plausible at a position when its centroid has p(c(m) | Omega) >= tau; the patch score is
//     -log p(x | Omega) with p(x | m) = exp(-|x - m|), i.e. the distance to the nearest plausible bank
//     patch (the plain nearest-neighbour distance when no centroid is plausible). Maps are upsampled and
//     smoothed (sigma 4); the image score is the largest patch score.
//
//   - Pixel-wise refinement (Sec. 3.5, optional; RefineConfig): an encoder-decoder trained on normal
//     images with synthetic (DRAEM Perlin) defects corrects the map from the image and the map.
package pni

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // graph code reads best unqualified
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train/losses"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/anomalymap"
	"github.com/gonomaly/gonomaly/methods/backbone"
	"github.com/gonomaly/gonomaly/methods/compute"
	"github.com/gonomaly/gonomaly/methods/coreset"
	"github.com/gonomaly/gonomaly/methods/features"
	"github.com/gonomaly/gonomaly/methods/knn"
	"github.com/gonomaly/gonomaly/methods/nn"
	"github.com/gonomaly/gonomaly/methods/safetensors"
)

// Name is PNI's catalogue name.
const Name = "pni"

// FormatVersion is the checkpoint format this package writes and reads.
const FormatVersion = 2

// Config is PNI's configuration; zero fields take the documented defaults (the CPU preset's values
// where the paper's would not fit two cores).
type Config struct {
	// Settings are the fields every method shares (methods.Settings): ImageSize, Backbone (the paper
	// uses Wide-ResNet-101-2, which gonomaly does not ship; the Paper preset uses Wide-ResNet-50-2),
	// Weights, WidthDiv, BackboneSeed (the seeded backbone), Seed (coreset, MLP initialisation and
	// shuffling, refinement), FeatureBatch (the memory knob of extraction and of the streaming Predict)
	// and ImageScore (default methods.ScorePatchMax, the largest patch score; also methods.ScoreMapMax,
	// taken before refinement).
	methods.Settings
	// Features is the patch-feature recipe, as patchcore.Config's.
	Features features.Config `json:"features"`
	// CoresetRatio is the embedding coreset (bank) fraction; default 0.1.
	CoresetRatio float64 `json:"coreset_ratio"`
	// Centroids is K, the size of the distribution coreset; 2048 in the paper, default 256.
	Centroids int `json:"centroids"`
	// PositionRadius spreads each train patch's centroid over the positions within this Chebyshev
	// radius when building the position histograms; default 1.
	PositionRadius int `json:"position_radius"`
	// NeighbourRadius r makes the neighbourhood a (2r+1)x(2r+1) window without its centre; 4 (9x9) in
	// the paper, default 1 (3x3).
	NeighbourRadius int `json:"neighbour_radius"`
	// NeighbourDim pools each neighbour's features to this many dimensions before the MLP (0 keeps D);
	// default 32.
	NeighbourDim int `json:"neighbour_dim"`
	// Hidden and HiddenLayers shape the MLP; defaults 256 and 2.
	Hidden       int `json:"hidden"`
	HiddenLayers int `json:"hidden_layers"`
	// Epochs, BatchSize and LearningRate train the MLP with Adam; defaults 10, 256, 1e-3.
	Epochs       int     `json:"epochs"`
	BatchSize    int     `json:"batch_size"`
	LearningRate float64 `json:"learning_rate"`
	// Tau is the plausibility threshold in units of the uniform probability 1/K: a centroid is plausible
	// where p(c | Omega) >= Tau / K. Default 1.
	Tau float64 `json:"tau"`
	// Sigma is the Gaussian smoothing of the upsampled map; default 4.
	Sigma float64 `json:"sigma"`
	// Refine configures the optional pixel-wise refinement network (Sec. 3.5), off unless Enabled.
	Refine RefineConfig `json:"refine"`
}

// Paper follows the paper where a CPU allows it: Wide-ResNet-50-2 (the paper: Wide-ResNet-101-2),
// 224 px, D = 1024, 1% embedding coreset, K = 2048 centroids, 9x9 neighbourhood. The 80 neighbours are
// pooled to 64 dimensions each before the MLP (full width, NeighbourDim -1, would give the MLP 81,920
// inputs and 168M weights in its first layer).
func Paper() Config {
	s := cpuSettings
	s.ImageSize, s.Backbone = 224, "wide_resnet50_2"
	return Config{Settings: s, Features: features.Config{Dim: 1024},
		CoresetRatio: 0.01, Centroids: 2048, PositionRadius: 4, NeighbourRadius: 4, NeighbourDim: 64,
		Hidden: 2048, HiddenLayers: 2, Epochs: 15, BatchSize: 512, LearningRate: 1e-3, Tau: 1, Sigma: 4,
		Refine: RefineConfig{Enabled: true, Width: 32, Epochs: 20}.withDefaults()}
}

// cpuSettings are the shared settings of the CPU preset: the paper's features (as PatchCore's CPU
// preset, so the two share a feature cache).
var cpuSettings = methods.Settings{ImageSize: 224, Backbone: "wide_resnet50_2", BackboneSeed: methods.DefaultBackboneSeed,
	FeatureBatch: methods.DefaultFeatureBatch, ImageScore: methods.ScorePatchMax}

// CPU fits in minutes on two cores: the paper's features (Wide-ResNet-50-2 at 224 px, D = 1024, 1%
// bank), with a smaller neighbourhood model than the paper's: K = 256 centroids instead of 2,048, a 3x3
// neighbourhood pooled to 32 dimensions instead of 9x9 to 64, a 2x256 MLP instead of 2x2048, trained for
// 10 epochs. The refinement stage is off (it roughly doubles the fit time); set Refine.Enabled to add it.
func CPU() Config {
	return Config{Settings: cpuSettings, Features: features.Config{Dim: 1024},
		CoresetRatio: 0.01, Centroids: 256, PositionRadius: 1, NeighbourRadius: 1, NeighbourDim: 32,
		Hidden: 256, HiddenLayers: 2, Epochs: 10, BatchSize: 256, LearningRate: 1e-3, Tau: 1, Sigma: 4}
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	d := CPU()
	c.Settings = c.Settings.WithDefaults(d.Settings)
	if c.Features.Dim == 0 {
		c.Features.Dim = d.Features.Dim
	}
	c.Features = c.Features.WithDefaults()
	c.Features.BatchSize = c.FeatureBatch
	if c.CoresetRatio <= 0 {
		c.CoresetRatio = 0.1
	}
	if c.Centroids <= 0 {
		c.Centroids = d.Centroids
	}
	if c.PositionRadius < 0 {
		c.PositionRadius = 0
	}
	if c.NeighbourRadius <= 0 {
		c.NeighbourRadius = d.NeighbourRadius
	}
	if c.NeighbourDim == 0 {
		c.NeighbourDim = d.NeighbourDim
	}
	if c.Hidden <= 0 {
		c.Hidden = d.Hidden
	}
	if c.HiddenLayers <= 0 {
		c.HiddenLayers = d.HiddenLayers
	}
	if c.Epochs <= 0 {
		c.Epochs = d.Epochs
	}
	if c.BatchSize <= 0 {
		c.BatchSize = d.BatchSize
	}
	if c.LearningRate <= 0 {
		c.LearningRate = d.LearningRate
	}
	if c.Tau <= 0 {
		c.Tau = 1
	}
	if c.Sigma <= 0 {
		c.Sigma = anomalymap.DefaultSigma
	}
	if c.Refine.Enabled {
		c.Refine = c.Refine.withDefaults()
	}
	return c
}

// PNI is the detector; it implements methods.Detector.
type PNI struct {
	cfg      Config
	ext      *features.Extractor
	bank     *knn.Index // embedding coreset
	bankCent []int32    // nearest centroid of each bank row
	bankImg  []int32    // train image of each bank row (lets refinement leave an image out)
	refine   *refiner
	cents    *knn.Index // distribution coreset
	position []float32  // [gh*gw, K] p(c | position)
	vars     *mlctx.Context
	infer    *mlctx.Exec
	pool     *features.ChannelPool
	h, w, ch int
	gh, gw   int
	// Losses is the mean training cross-entropy of each MLP epoch.
	Losses []float64
}

// New builds an unfitted PNI. It checks the configuration and builds the backbone at once, so a missing
// or wrong weights file is an error here, not at Fit.
func New(cfg Config) (*PNI, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(Name, 32, 1, methods.ScorePatchMax, methods.ScoreMapMax); err != nil {
		return nil, err
	}
	if cfg.CoresetRatio > 1 {
		return nil, fmt.Errorf("pni: coreset ratio %g > 1", cfg.CoresetRatio)
	}
	ext, err := features.NewExtractor(cfg.Settings, cfg.Features)
	if err != nil {
		return nil, fmt.Errorf("pni: %w", err)
	}
	return &PNI{cfg: cfg, ext: ext, h: cfg.ImageSize, w: cfg.ImageSize}, nil
}

// Settings implements methods.Configured.
func (p *PNI) Settings() methods.Settings { return p.cfg.Settings }

// Config returns the configuration with defaults applied.
func (p *PNI) Config() Config { return p.cfg }

// Name implements methods.Detector.
func (p *PNI) Name() string { return Name }

// Backbone returns the feature extractor.
func (p *PNI) Backbone() (*backbone.Backbone, error) { return p.ext.Backbone(), nil }

// Features extracts patch features of images (ImageSize x ImageSize) with the configured backbone and
// recipe.
func (p *PNI) Features(ctx context.Context, images methods.Images) (*features.Set, error) {
	set, err := p.ext.Extract(ctx, images, 0)
	if err != nil {
		return nil, fmt.Errorf("pni: %w", err)
	}
	return set, nil
}

// Fit implements methods.Detector.
func (p *PNI) Fit(ctx context.Context, train methods.Images) error {
	feats, first, err := p.ext.ExtractTrain(ctx, train)
	if err != nil {
		return fmt.Errorf("pni: %w", err)
	}
	if err := p.FitFeatures(ctx, feats, first.H, first.W, first.C); err != nil {
		return err
	}
	if p.cfg.Refine.Enabled {
		return p.FitRefinement(ctx, train)
	}
	return nil
}

// FitFeatures fits from already extracted (for example cached) train features of h x w images (which
// must be ImageSize).
func (p *PNI) FitFeatures(ctx context.Context, train *features.Set, h, w, ch int) error {
	if err := train.Validate(); err != nil {
		return fmt.Errorf("pni: %w", err)
	}
	if h != p.cfg.ImageSize || w != p.cfg.ImageSize {
		return fmt.Errorf("pni: features of %dx%d (W x H) images, but ImageSize is %d: set ImageSize to the size the features were extracted at", w, h, p.cfg.ImageSize)
	}
	if train.N == 0 {
		return fmt.Errorf("pni: no train features")
	}
	cfg := p.cfg
	n, d := train.Patches(), train.D
	kBank := max(1, int(math.Round(cfg.CoresetRatio*float64(n))))
	kDist := min(cfg.Centroids, n)
	// One greedy order serves both coresets, as in the authors' code: its first kBank points are the
	// bank, its first kDist the centroids.
	order, err := coreset.GreedyKCenter(ctx, train.Data, d, max(kBank, kDist), coreset.Options{Seed: cfg.Seed})
	if err != nil {
		return fmt.Errorf("pni: coreset: %w", err)
	}
	rows := func(idx []int) []float32 {
		out := make([]float32, 0, len(idx)*d)
		for _, i := range idx {
			out = append(out, train.Data[i*d:(i+1)*d]...)
		}
		return out
	}
	bank, _ := knn.NewIndex(rows(order[:kBank]), d)
	cents, _ := knn.NewIndex(rows(order[:kDist]), d)

	// Every train patch's centroid: the labels of both models.
	assign, err := cents.Search(ctx, train.Data, 1)
	if err != nil {
		return err
	}
	bankAssign, err := cents.Search(ctx, bank.Bank(), 1)
	if err != nil {
		return err
	}
	p.bank, p.cents, p.bankCent, p.refine = bank, cents, bankAssign.Idx, nil
	p.bankImg = make([]int32, kBank)
	for j, i := range order[:kBank] {
		p.bankImg[j] = int32(i / train.PerImage())
	}
	p.h, p.w, p.ch, p.gh, p.gw = h, w, ch, train.H, train.W
	p.position = positionHistograms(assign.Idx, train.N, train.H, train.W, kDist, cfg.PositionRadius)
	p.pool = p.neighbourPool(d)
	return p.trainMLP(ctx, train, assign.Idx)
}

// positionHistograms is Sec. 3.2: for every grid position, the distribution of the centroids of the
// train patches within radius r of it.
func positionHistograms(labels []int32, n, gh, gw, k, r int) []float32 {
	hist := make([]float32, gh*gw*k)
	for i := 0; i < n; i++ {
		for y := 0; y < gh; y++ {
			for x := 0; x < gw; x++ {
				c := int(labels[(i*gh+y)*gw+x])
				for yy := max(0, y-r); yy <= min(gh-1, y+r); yy++ {
					for xx := max(0, x-r); xx <= min(gw-1, x+r); xx++ {
						hist[(yy*gw+xx)*k+c]++
					}
				}
			}
		}
	}
	for pos := 0; pos < gh*gw; pos++ {
		h := hist[pos*k : (pos+1)*k]
		var s float32
		for _, v := range h {
			s += v
		}
		for c := range h {
			h[c] /= s
		}
	}
	return hist
}

func (p *PNI) neighbourPool(d int) *features.ChannelPool {
	nd := p.cfg.NeighbourDim
	if nd < 0 || nd >= d {
		nd = d
	}
	return features.NewChannelPool(d, nd)
}

// inputDim is the MLP input size: (2r+1)^2 - 1 neighbours of pooled features.
func (p *PNI) inputDim() int {
	s := 2*p.cfg.NeighbourRadius + 1
	return (s*s - 1) * p.pool.Out
}

// neighbourInputs builds the MLP inputs of image i of set: for every position, the pooled features of
// its neighbours (zero outside the grid), centre excluded. Shape [H*W, inputDim].
func (p *PNI) neighbourInputs(set *features.Set, i int) []float32 {
	r := p.cfg.NeighbourRadius
	nd := p.pool.Out
	pooled := make([]float32, set.PerImage()*nd)
	img := set.Image(i)
	for q := 0; q < set.PerImage(); q++ {
		p.pool.Apply(pooled[q*nd:(q+1)*nd], img[q*set.D:(q+1)*set.D])
	}
	in := p.inputDim()
	out := make([]float32, set.PerImage()*in)
	for y := 0; y < set.H; y++ {
		for x := 0; x < set.W; x++ {
			o := out[(y*set.W+x)*in:]
			k := 0
			for dy := -r; dy <= r; dy++ {
				for dx := -r; dx <= r; dx++ {
					if dy == 0 && dx == 0 {
						continue
					}
					yy, xx := y+dy, x+dx
					if yy >= 0 && yy < set.H && xx >= 0 && xx < set.W {
						copy(o[k*nd:(k+1)*nd], pooled[(yy*set.W+xx)*nd:(yy*set.W+xx+1)*nd])
					}
					k++
				}
			}
		}
	}
	return out
}

// mlp is the neighbourhood model: HiddenLayers Dense+ReLU layers, then logits over the K centroids.
func (p *PNI) mlp(ctx *mlctx.Context, x *Node) *Node {
	for l := 0; l < p.cfg.HiddenLayers; l++ {
		x = nn.ReLU(nn.Linear(ctx.In(fmt.Sprintf("hidden_%d", l)), x, p.cfg.Hidden))
	}
	return nn.Linear(ctx.In("logits"), x, p.cents.Len())
}

// trainMLP is Sec. 3.3: learn p(c | neighbourhood) from normal patches with cross-entropy and Adam.
func (p *PNI) trainMLP(ctx context.Context, set *features.Set, labels []int32) error {
	backend, err := compute.Backend()
	if err != nil {
		return err
	}
	in := p.inputDim()
	n := set.Patches()
	inputs := make([]float32, 0, n*in)
	for i := 0; i < set.N; i++ {
		inputs = append(inputs, p.neighbourInputs(set, i)...)
	}
	p.vars = mlctx.New()
	p.vars.SetRNGStateFromSeed(int64(p.cfg.Seed) + 1)
	model := p.vars.In("pni_mlp")
	opt := optimizers.Adam().LearningRate(p.cfg.LearningRate).Done()
	// One training step: cross-entropy of the logits, then Adam's update of the variables (the context
	// executor writes the updated variables back after each call).
	step, err := mlctx.NewExec(backend, model, func(ctx *mlctx.Context, x, y *Node) *Node {
		loss := losses.SparseCategoricalCrossEntropyLogits([]*Node{y}, []*Node{p.mlp(ctx, x)})
		opt.UpdateGraph(ctx, x.Graph(), loss)
		return loss
	})
	if err != nil {
		return err
	}
	batch := min(p.cfg.BatchSize, n)
	steps := n / batch // a fixed batch shape compiles once; the remainder is reshuffled in
	rng := rand.New(rand.NewPCG(p.cfg.Seed, 0x5eed))
	xb := make([]float32, batch*in)
	yb := make([]int32, batch)
	start := time.Now()
	p.Losses = p.Losses[:0]
	for epoch := 0; epoch < p.cfg.Epochs; epoch++ {
		perm := rng.Perm(n)
		var sum float64
		for s := 0; s < steps; s++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			for b, j := range perm[s*batch : (s+1)*batch] {
				copy(xb[b*in:(b+1)*in], inputs[j*in:(j+1)*in])
				yb[b] = labels[j]
			}
			m, err := step.Exec(tensors.FromFlatDataAndDimensions(xb, batch, in), tensors.FromFlatDataAndDimensions(yb, batch, 1))
			if err != nil {
				return fmt.Errorf("pni: training the neighbourhood model: %w", err)
			}
			loss := float64(tensors.ToScalar[float32](m[0]))
			m[0].FinalizeAll()
			sum += loss
			methods.ReportProgress(ctx, methods.Event{Task: "pni: neighbourhood model", Done: epoch*steps + s + 1,
				Total: p.cfg.Epochs * steps, Elapsed: time.Since(start), Metrics: map[string]float64{"loss": loss, "epoch": float64(epoch + 1)}})
		}
		p.Losses = append(p.Losses, sum/float64(steps))
	}
	methods.ReportProgress(ctx, methods.Event{Task: "pni: neighbourhood model", Done: p.cfg.Epochs * steps,
		Total: p.cfg.Epochs * steps, Elapsed: time.Since(start), Finished: true})
	p.infer = nil
	return nil
}

// NeighbourPrior returns p(c | neighbourhood) for every patch of image i of set: [H*W, K].
func (p *PNI) NeighbourPrior(set *features.Set, i int) ([]float32, error) {
	if p.vars == nil {
		return nil, fmt.Errorf("pni: %w", methods.ErrNotFitted)
	}
	if p.infer == nil {
		backend, err := compute.Backend()
		if err != nil {
			return nil, err
		}
		model := p.vars.In("pni_mlp").Reuse()
		p.infer, err = mlctx.NewExec(backend, model, func(ctx *mlctx.Context, x *Node) *Node {
			return Softmax(p.mlp(ctx, x), -1)
		})
		if err != nil {
			return nil, err
		}
	}
	in := p.neighbourInputs(set, i)
	out, err := p.infer.Exec(tensors.FromFlatDataAndDimensions(in, set.PerImage(), p.inputDim()))
	if err != nil {
		return nil, fmt.Errorf("pni: neighbourhood model: %w", err)
	}
	v := tensors.MustCopyFlatData[float32](out[0])
	out[0].FinalizeAll()
	return v, nil
}

// PositionPrior returns p(c | position) as [gh*gw, K] (not a copy) and the grid size; nil before Fit.
func (p *PNI) PositionPrior() (prior []float32, gh, gw, k int) {
	if p.cents == nil {
		return nil, 0, 0, 0
	}
	return p.position, p.gh, p.gw, p.cents.Len()
}

// Centroids returns the distribution coreset (row-major, D columns; not a copy).
func (p *PNI) Centroids() []float32 {
	if p.cents == nil {
		return nil
	}
	return p.cents.Bank()
}

// PriorNLL returns, for every patch of image i of test, -log p(c | position) and -log p(c | neighbourhood)
// of the patch's own nearest centroid c: how surprising the patch is at its place and among its
// neighbours, the two pictures of PNI's priors. Probabilities are floored at 1e-6.
func (p *PNI) PriorNLL(ctx context.Context, test *features.Set, i int) (position, neighbourhood []float32, err error) {
	if p.cents == nil {
		return nil, nil, fmt.Errorf("pni: %w", methods.ErrNotFitted)
	}
	if test.D != p.cents.Dim || test.H != p.gh || test.W != p.gw {
		return nil, nil, fmt.Errorf("pni: test features are %dx%dx%d, the model was fitted on %dx%dx%d",
			test.H, test.W, test.D, p.gh, p.gw, p.cents.Dim)
	}
	nb, err := p.NeighbourPrior(test, i)
	if err != nil {
		return nil, nil, err
	}
	nearest, err := p.cents.Search(ctx, test.Image(i), 1)
	if err != nil {
		return nil, nil, err
	}
	k := p.cents.Len()
	per := test.PerImage()
	position, neighbourhood = make([]float32, per), make([]float32, per)
	for q := 0; q < per; q++ {
		c := int(nearest.Idx[q])
		position[q] = float32(-math.Log(math.Max(float64(p.position[q*k+c]), 1e-6)))
		neighbourhood[q] = float32(-math.Log(math.Max(float64(nb[q*k+c]), 1e-6)))
	}
	return position, neighbourhood, nil
}

// Predict implements methods.Detector: PredictEach's predictions, collected.
func (p *PNI) Predict(ctx context.Context, images methods.Images) ([]methods.Prediction, error) {
	return methods.CollectPredictions(ctx, images, p.PredictEach)
}

// PredictEach implements methods.Streamer: it extracts, scores (and refines, when the model has a
// refinement network) FeatureBatch images at a time, so its memory is the model plus one batch, whatever
// the number of images.
func (p *PNI) PredictEach(ctx context.Context, images methods.Images, fn func(int, methods.Prediction) error) error {
	if p.bank == nil {
		return fmt.Errorf("pni: %w", methods.ErrNotFitted)
	}
	n, start := images.Len(), time.Now()
	for lo := 0; lo < n; lo += p.cfg.FeatureBatch {
		hi := min(lo+p.cfg.FeatureBatch, n)
		// Load the batch once: the backbone and the refinement network both read it.
		part := make(methods.ImageList, hi-lo)
		for j := range part {
			im, err := images.Image(lo + j)
			if err == nil {
				err = p.cfg.CheckInput(images, lo+j, im, p.ch)
			}
			if err != nil {
				return fmt.Errorf("pni: %w", err)
			}
			part[j] = im
		}
		feats, err := p.ext.Extract(ctx, part, p.ch)
		if err != nil {
			return fmt.Errorf("pni: %w", err)
		}
		preds, err := p.scoreFeatures(ctx, feats)
		if err != nil {
			return err
		}
		if p.refine != nil {
			if err := p.Refine(ctx, part, preds); err != nil {
				return err
			}
		}
		for j, pr := range preds {
			if err := fn(lo+j, pr); err != nil {
				return err
			}
		}
		methods.ReportProgress(ctx, methods.Event{Task: "pni: scoring", Done: hi, Total: n, Elapsed: time.Since(start), Finished: hi == n})
	}
	return nil
}

// PatchScores returns the per-patch PNI scores of image i of test, [H*W].
func (p *PNI) PatchScores(ctx context.Context, test *features.Set, i int) ([]float32, error) {
	return p.patchScores(ctx, test, i, -1)
}

// patchScores ignores the bank patches taken from train image exclude (none when negative or unknown).
func (p *PNI) patchScores(ctx context.Context, test *features.Set, i, exclude int) ([]float32, error) {
	if p.bank == nil {
		return nil, fmt.Errorf("pni: %w", methods.ErrNotFitted)
	}
	if test.D != p.bank.Dim || test.H != p.gh || test.W != p.gw {
		return nil, fmt.Errorf("pni: test features are %dx%dx%d, the model was fitted on %dx%dx%d",
			test.H, test.W, test.D, p.gh, p.gw, p.bank.Dim)
	}
	nb, err := p.NeighbourPrior(test, i)
	if err != nil {
		return nil, err
	}
	k := p.cents.Len()
	tau := float32(p.cfg.Tau / float64(k))
	per := test.PerImage()
	d2 := p.bank.SquaredDistances(test.Image(i))
	m := p.bank.Len()
	out := make([]float32, per)
	plausible := make([]bool, k)
	for q := 0; q < per; q++ {
		pos := p.position[q*k : (q+1)*k]
		nbq := nb[q*k : (q+1)*k]
		for c := range plausible {
			plausible[c] = (pos[c]+nbq[c])/2 >= tau
		}
		row := d2[q*m : (q+1)*m]
		best, bestAll := float32(math.Inf(1)), float32(math.Inf(1))
		for j, v := range row {
			if exclude >= 0 && j < len(p.bankImg) && int(p.bankImg[j]) == exclude {
				continue
			}
			bestAll = min(bestAll, v)
			if plausible[p.bankCent[j]] {
				best = min(best, v)
			}
		}
		if math.IsInf(float64(best), 1) {
			best = bestAll
		}
		out[q] = float32(math.Sqrt(float64(max(best, 0))))
	}
	return out, nil
}

// PredictFeatures scores already extracted test features (without refinement).
func (p *PNI) PredictFeatures(ctx context.Context, test *features.Set) ([]methods.Prediction, error) {
	start := time.Now()
	out, err := p.scoreFeatures(ctx, test)
	if err == nil {
		methods.ReportProgress(ctx, methods.Event{Task: "pni: scoring", Done: test.N, Total: test.N, Elapsed: time.Since(start), Finished: true})
	}
	return out, err
}

func (p *PNI) scoreFeatures(ctx context.Context, test *features.Set) ([]methods.Prediction, error) {
	if p.bank == nil {
		return nil, fmt.Errorf("pni: %w", methods.ErrNotFitted)
	}
	if err := test.Validate(); err != nil {
		return nil, fmt.Errorf("pni: %w", err)
	}
	out := make([]methods.Prediction, test.N)
	for i := range out {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s, err := p.PatchScores(ctx, test, i)
		if err != nil {
			return nil, err
		}
		amap := p.mapFromScores(s, test.H, test.W)
		score := slices.Max(s)
		if p.cfg.ImageScore == methods.ScoreMapMax {
			score = anomalymap.ScoreMax(amap)
		}
		out[i] = methods.Prediction{Score: score, Map: amap}
	}
	return out, nil
}

// mapFromScores turns patch scores on a gh x gw grid into a map at the input resolution.
func (p *PNI) mapFromScores(s []float32, gh, gw int) datasets.Image {
	return anomalymap.ToInput(datasets.Image{H: gh, W: gw, C: 1, Pix: s}, p.h, p.w, p.cfg.Sigma)
}

// Save implements methods.Detector.
func (p *PNI) Save(dir string) error {
	if p.bank == nil {
		return fmt.Errorf("pni: %w", methods.ErrNotFitted)
	}
	cfg, err := json.Marshal(p.cfg)
	if err != nil {
		return err
	}
	k := p.cents.Len()
	bankCent := make([]float32, len(p.bankCent))
	for i, c := range p.bankCent {
		bankCent[i] = float32(c)
	}
	ts := map[string]safetensors.Tensor{
		"bank":          {Shape: []int{p.bank.Len(), p.bank.Dim}, Data: p.bank.Bank()},
		"bank_centroid": {Shape: []int{len(bankCent)}, Data: bankCent},
		"centroids":     {Shape: []int{k, p.cents.Dim}, Data: p.cents.Bank()},
		"position":      {Shape: []int{p.gh * p.gw, k}, Data: p.position},
		"grid":          {Shape: []int{2}, Data: []float32{float32(p.gh), float32(p.gw)}},
	}
	for v := range p.vars.IterVariables() {
		if v.Scope() == "" || !v.Trainable || !isModelScope(v.Scope()) {
			continue
		}
		t, err := v.Value()
		if err != nil {
			return err
		}
		ts["mlp:"+v.ScopeAndName()] = safetensors.Tensor{Shape: t.Shape().Dimensions, Data: tensors.MustCopyFlatData[float32](t)}
	}
	if len(p.bankImg) == p.bank.Len() {
		img := make([]float32, len(p.bankImg))
		for i, v := range p.bankImg {
			img[i] = float32(v)
		}
		ts["bank_image"] = safetensors.Tensor{Shape: []int{len(img)}, Data: img}
	}
	if p.refine != nil {
		if err := p.refine.addTensors(ts); err != nil {
			return err
		}
	}
	backboneName := p.ext.Describe()
	return methods.SaveCheckpoint(dir, methods.Manifest{Method: Name, FormatVersion: FormatVersion, Config: cfg,
		Backbone: backboneName, BackboneArch: p.ext.Backbone().Arch(), WeightsSHA256: p.ext.Backbone().WeightsSHA256(),
		ImageH: p.h, ImageW: p.w, Channels: p.ch}, ts)
}

func isModelScope(scope string) bool {
	return len(scope) >= len("/pni_mlp") && scope[:len("/pni_mlp")] == "/pni_mlp"
}

// Load reads a checkpoint written by Save.
func Load(dir string) (*PNI, error) {
	m, ts, err := methods.ReadCheckpoint(dir, Name, FormatVersion)
	if err != nil {
		return nil, err
	}
	var cfg Config
	if err := json.Unmarshal(m.Config, &cfg); err != nil {
		return nil, fmt.Errorf("%s: pni config: %v", dir, err)
	}
	p, err := New(cfg)
	if err != nil {
		return nil, err
	}
	bb := p.ext.Backbone()
	if err := methods.CheckBackbone(dir, m, bb.Arch(), bb.WeightsSHA256(), bb.Source()); err != nil {
		return nil, err
	}
	need := func(name string, rank int) (safetensors.Tensor, error) {
		t, ok := ts[name]
		if !ok || len(t.Shape) != rank || len(t.Data) == 0 {
			return t, fmt.Errorf("%s: pni checkpoint lacks a rank-%d tensor %q", dir, rank, name)
		}
		return t, nil
	}
	var bank, bankCent, cents, pos, grid safetensors.Tensor
	for _, x := range []struct {
		t    *safetensors.Tensor
		name string
		rank int
	}{{&bank, "bank", 2}, {&bankCent, "bank_centroid", 1}, {&cents, "centroids", 2}, {&pos, "position", 2}, {&grid, "grid", 1}} {
		if *x.t, err = need(x.name, x.rank); err != nil {
			return nil, err
		}
	}
	if p.bank, err = knn.NewIndex(bank.Data, bank.Shape[1]); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	if p.cents, err = knn.NewIndex(cents.Data, cents.Shape[1]); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	k := p.cents.Len()
	p.gh, p.gw = int(grid.Data[0]), int(grid.Data[1])
	if len(grid.Data) != 2 || p.gh < 1 || p.gw < 1 || pos.Shape[0] != p.gh*p.gw || pos.Shape[1] != k || len(bankCent.Data) != p.bank.Len() {
		return nil, fmt.Errorf("%s: pni checkpoint tensors disagree in size", dir)
	}
	p.position = pos.Data
	p.bankCent = make([]int32, len(bankCent.Data))
	for i, v := range bankCent.Data {
		if v < 0 || int(v) >= k {
			return nil, fmt.Errorf("%s: bank_centroid %d out of range", dir, int(v))
		}
		p.bankCent[i] = int32(v)
	}
	if t, ok := ts["bank_image"]; ok {
		if len(t.Data) != p.bank.Len() {
			return nil, fmt.Errorf("%s: pni checkpoint: bank_image has %d entries for %d bank rows", dir, len(t.Data), p.bank.Len())
		}
		p.bankImg = make([]int32, len(t.Data))
		for i, v := range t.Data {
			if v < 0 || v > math.MaxInt32 {
				return nil, fmt.Errorf("%s: pni checkpoint: bank_image %v out of range", dir, v)
			}
			p.bankImg[i] = int32(v)
		}
	}
	if m.ImageH != p.cfg.ImageSize || m.ImageW != p.cfg.ImageSize || m.Channels <= 0 {
		return nil, fmt.Errorf("%s: pni manifest's image size %dx%dx%d disagrees with its ImageSize %d", dir, m.ImageW, m.ImageH, m.Channels, p.cfg.ImageSize)
	}
	p.ch = m.Channels
	p.pool = p.neighbourPool(bank.Shape[1])
	p.vars = mlctx.New()
	names := make([]string, 0)
	for name := range ts {
		if len(name) > 4 && name[:4] == "mlp:" {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: pni checkpoint has no neighbourhood-model weights", dir)
	}
	sort.Strings(names)
	for _, name := range names {
		t := ts[name]
		scope, vname := mlctx.SplitScope(name[4:])
		if scope == "" || vname == "" {
			return nil, fmt.Errorf("%s: bad tensor name %q", dir, name)
		}
		p.vars.InAbsPath(scope).VariableWithValue(vname, tensors.FromFlatDataAndDimensions(t.Data, t.Shape...))
	}
	if p.refine, err = loadRefiner(dir, ts); err != nil {
		return nil, err
	}
	if p.cfg.Refine.Enabled && p.refine == nil {
		return nil, fmt.Errorf("%s: pni config has refinement on but the checkpoint has no refinement weights", dir)
	}
	return p, nil
}

// catalogueBuild and catalogueConfigure are the catalogue's Build and Configure of this method.
var catalogueBuild, catalogueConfigure = methods.Configurable(methods.StandardPresets("pni", Paper, CPU),
	func(c *Config) *methods.Settings { return &c.Settings },
	func(c Config) (methods.Detector, error) { return New(c) })

func init() {
	methods.Register(methods.Entry{
		Name:    Name,
		Display: "PNI",
		Family:  methods.MemoryBank,
		Paper: methods.Paper{
			Title:   "PNI: Industrial Anomaly Detection using Position and Neighborhood Information",
			Authors: "Jaehyeok Bae, Jae-Han Lee, Seyun Kim",
			Venue:   "ICCV", Year: 2023, URL: "https://arxiv.org/abs/2211.12634",
		},
		Summary:         "PatchCore's memory bank conditioned on position (per-location centroid histograms) and neighbourhood (an MLP predicting the centroid from neighbouring patches).",
		Trains:          true,
		NeedsPretrained: true,
		Presets:         []string{methods.PresetPaper, methods.PresetCPU},
		Build:           catalogueBuild,
		Configure:       catalogueConfigure,
		Load:            func(dir string, _ methods.Manifest) (methods.Detector, error) { return Load(dir) },
	})
}
