package simplenet

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/features"
	"github.com/gonomaly/gonomaly/methods/nn"
)

// Name is SimpleNet's catalogue name.
const Name = "simplenet"

// Config is SimpleNet's recipe. Every field has a documented default, the Paper preset's.
type Config struct {
	// Settings are the fields every method shares: ImageSize (Paper 288, the authors' MVTec run: resize
	// to 329, centre crop 288), Backbone (wide_resnet50_2), Weights, WidthDiv, BackboneSeed, Seed (the
	// adaptor's and discriminator's initialisation, the shuffling and the noise), FeatureBatch and
	// ImageScore (methods.ScoreMapMax, the paper's maximum of the anomaly map; methods.ScorePatchMax is
	// the authors' code's largest patch score).
	methods.Settings
	// Features is the patch-feature recipe, PatchCore's: layer2 + layer3, 3x3 neighbourhood, pooled to
	// Dim 1536 (fewer when the backbone has fewer channels).
	Features features.Config `json:"features"`
	// Training: 160 epochs (the code's 40 meta-epochs of 4 discriminator epochs) of batch 8, map sigma 4.
	Training
	// Hidden is the discriminator's hidden width (1024).
	Hidden int `json:"hidden"`
	// NoiseStd is the standard deviation of the Gaussian noise that makes anomalous features (0.015).
	NoiseStd float64 `json:"noise_std"`
	// Margin is the truncated L1 loss's threshold th (0.5): normal scores above th and anomalous scores
	// below -th cost nothing.
	Margin float64 `json:"margin"`
	// LeakySlope is the discriminator's LeakyReLU slope (0.2).
	LeakySlope float64 `json:"leaky_slope"`
	// AdaptorLR and DiscriminatorLR are Adam's learning rates (1e-4 and 2e-4), WeightDecay the L2 decay
	// of both (1e-5), Beta1 and Beta2 Adam's (torch defaults 0.9, 0.999).
	AdaptorLR       float64 `json:"adaptor_lr"`
	DiscriminatorLR float64 `json:"discriminator_lr"`
	WeightDecay     float64 `json:"weight_decay"`
	Beta1           float64 `json:"beta1"`
	Beta2           float64 `json:"beta2"`
}

// Paper is the paper's recipe with the authors' MVTec run settings: Wide-ResNet-50-2 at 288 px,
// layer2+layer3 patch features of 1536 dimensions, a 1536 x 1536 linear adaptor, Gaussian noise of
// sigma 0.015, a 1536-1024-1 discriminator with batch norm and LeakyReLU 0.2, the truncated L1 loss
// with thresholds 0.5, Adam at 1e-4 (adaptor) and 2e-4 (discriminator) with weight decay 1e-5, 160
// epochs of batch 8; maps smoothed with sigma 4, image score the map's maximum.
func Paper() Config {
	return Config{
		Settings: methods.Settings{ImageSize: 288, Backbone: "wide_resnet50_2", BackboneSeed: methods.DefaultBackboneSeed,
			FeatureBatch: methods.DefaultFeatureBatch, ImageScore: methods.ScoreMapMax},
		Features: features.Config{Dim: 1536},
		Training: Training{Epochs: 160, BatchSize: 8, Sigma: 4, CheckpointEvery: 200},
		Hidden:   1024, NoiseStd: 0.015, Margin: 0.5, LeakySlope: 0.2,
		AdaptorLR: 1e-4, DiscriminatorLR: 2e-4, WeightDecay: 1e-5, Beta1: 0.9, Beta2: 0.999,
	}
}

// CPU trains a category in minutes on two cores: ResNet-18 at 128 px (a 16x16 grid of 384-dimensional
// patch features, so a 384 x 384 adaptor and a 384-1024-1 discriminator), 40 epochs instead of 160, and
// noise of sigma 0.1 instead of 0.015: with the paper's sigma the discriminator had not begun to tell
// noisy from normal features by the end of this schedule (loss still 0.97 of its initial 1.0, p_true and
// p_fake under 1%, on the seeded backbone), and a larger noise is an easier task learnt in fewer steps.
// Loss, optimiser and scoring are the paper's.
func CPU() Config {
	c := Paper()
	c.ImageSize, c.Backbone, c.Epochs, c.NoiseStd = 128, "resnet18", 40, 0.1
	return c
}

func (c Config) withDefaults() Config {
	c.Settings = c.Settings.WithDefaults(Paper().Settings)
	c.Features = c.Features.WithDefaults()
	c.Features.BatchSize = c.FeatureBatch
	return c
}

func (c Config) validate() error {
	if err := c.Validate(Name, 32, 1, methods.ScoreMapMax, methods.ScorePatchMax); err != nil {
		return err
	}
	if err := c.Training.validate(Name); err != nil {
		return err
	}
	switch {
	case c.Hidden < 1:
		return fmt.Errorf("simplenet: Hidden %d must be positive", c.Hidden)
	case c.NoiseStd <= 0 || c.Margin < 0:
		return fmt.Errorf("simplenet: NoiseStd %g must be positive and Margin %g not negative", c.NoiseStd, c.Margin)
	case c.AdaptorLR < 0 || c.DiscriminatorLR <= 0 || c.WeightDecay < 0:
		return fmt.Errorf("simplenet: learning rates and weight decay must not be negative")
	case c.Beta1 <= 0 || c.Beta1 >= 1 || c.Beta2 <= 0 || c.Beta2 >= 1:
		return fmt.Errorf("simplenet: Adam betas (%g, %g) must be in (0, 1)", c.Beta1, c.Beta2)
	}
	return nil
}

// SimpleNet is the detector (Liu et al., CVPR 2023). Build it with New; it implements methods.Detector
// and methods.Streamer.
type SimpleNet struct {
	*core
	cfg Config
}

// New builds an unfitted SimpleNet; the backbone is loaded now, so a bad weights path fails here.
func New(cfg Config) (*SimpleNet, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c, err := newCore(Name, cfg.Settings, cfg.Features, cfg.Training)
	if err != nil {
		return nil, err
	}
	s := &SimpleNet{core: c, cfg: cfg}
	c.head = s
	return s, nil
}

// Config returns the configuration with defaults applied.
func (s *SimpleNet) Config() Config { return s.cfg }

// xavierNormal is torch's xavier_normal_ (the authors' init_weight) for an [in, out] weight.
func xavierNormal(rng *rand.Rand, in, out int) func() *tensors.Tensor {
	return func() *tensors.Tensor {
		std := math.Sqrt(2 / float64(in+out))
		data := make([]float32, in*out)
		for i := range data {
			data[i] = float32(rng.NormFloat64() * std)
		}
		return tensors.FromFlatDataAndDimensions(data, in, out)
	}
}

// uniformBias is torch's nn.Linear bias initialisation, uniform in ±1/sqrt(in).
func uniformBias(rng *rand.Rand, in, out int) func() *tensors.Tensor {
	return func() *tensors.Tensor {
		b := 1 / math.Sqrt(float64(in))
		data := make([]float32, out)
		for i := range data {
			data[i] = float32((2*rng.Float64() - 1) * b)
		}
		return tensors.FromFlatDataAndDimensions(data, out)
	}
}

// linear is x [rows, in] times a weight [in, out] (plus a bias when bias is set), with torch's layout
// transposed as in nn.Linear, initialised as the authors do (xavier normal weight).
func (c *core) linear(vctx *mlctx.Context, x *Node, out int, bias bool) *Node {
	in := x.Shape().Dimensions[1]
	w := param(vctx, "weight", true, xavierNormal(c.rng, in, out))
	y := nn.MatMul(x, w.ValueGraph(x.Graph()))
	if bias {
		b := param(vctx, "bias", true, uniformBias(c.rng, in, out))
		y = Add(y, InsertAxes(b.ValueGraph(x.Graph()), 0))
	}
	return y
}

// batchNorm is torch's BatchNorm1d over the rows of x [rows, C]: batch statistics (and running-average
// updates, momentum 0.1) when training, running statistics otherwise.
func batchNorm(vctx *mlctx.Context, x *Node, training bool) *Node {
	g := x.Graph()
	ch := x.Shape().Dimensions[1]
	fill := func(v float32) func() *tensors.Tensor {
		return func() *tensors.Tensor {
			d := make([]float32, ch)
			for i := range d {
				d[i] = v
			}
			return tensors.FromFlatDataAndDimensions(d, ch)
		}
	}
	scale := param(vctx, "weight", true, fill(1)).ValueGraph(g)
	offset := param(vctx, "bias", true, fill(0)).ValueGraph(g)
	runMean := param(vctx, "running_mean", false, fill(0))
	runVar := param(vctx, "running_var", false, fill(1))
	const eps, momentum = 1e-5, 0.1
	if !training {
		return nn.BatchNormInference(x, scale, offset, runMean.ValueGraph(g), runVar.ValueGraph(g), eps)
	}
	y, mean, variance := nn.BatchNormTraining(x, scale, offset, eps)
	n := float64(x.Shape().Dimensions[0])
	unbiased := MulScalar(StopGradient(variance), n/math.Max(n-1, 1))
	runMean.SetValueGraph(Add(MulScalar(runMean.ValueGraph(g), 1-momentum), MulScalar(StopGradient(mean), momentum)))
	runVar.SetValueGraph(Add(MulScalar(runVar.ValueGraph(g), 1-momentum), MulScalar(unbiased, momentum)))
	return y
}

// adaptor is the feature adaptor G: one linear layer D -> D (Sec. 3.2).
func (s *SimpleNet) adaptor(vctx *mlctx.Context, x *Node) *Node {
	return s.linear(vctx.In("adaptor"), x, x.Shape().Dimensions[1], true)
}

// discriminator is D: linear D -> Hidden, batch norm, LeakyReLU, linear Hidden -> 1 without bias
// (Sec. 3.4); it returns one score per row, high for normal.
func (s *SimpleNet) discriminator(vctx *mlctx.Context, x *Node, training bool) *Node {
	sc := vctx.In("discriminator")
	h := s.linear(sc.In("fc"), x, s.cfg.Hidden, true)
	h = nn.LeakyReLU(batchNorm(sc.In("bn"), h, training), s.cfg.LeakySlope)
	out := s.linear(sc.In("tail"), h, 1, false)
	return Reshape(out, x.Shape().Dimensions[0])
}

// TruncatedL1 is the loss of Sec. 3.5 (Eq. 5-6) on discriminator scores of normal features (true) and
// anomalous features (fake): mean(max(0, th - true)) + mean(max(0, th + fake)).
func TruncatedL1(trueScores, fakeScores *Node, th float64) *Node {
	lt := ReduceAllMean(nn.ReLU(AddScalar(Neg(trueScores), th)))
	lf := ReduceAllMean(nn.ReLU(AddScalar(fakeScores, th)))
	return Add(lt, lf)
}

func (s *SimpleNet) trainGraph(vctx *mlctx.Context, x, noise *Node) []*Node {
	g := x.Graph()
	rowsN, d := x.Shape().Dimensions[0], x.Shape().Dimensions[1]
	q := s.adaptor(vctx, x)
	// Normal and anomalous features go through the discriminator as one batch (one batch-norm
	// statistic, as the authors' torch.cat): stack [q; q + noise] without Concatenate.
	sel := Const(g, [][][]float32{{{0}}, {{1}}}) // [2, 1, 1]
	both := Add(BroadcastToDims(InsertAxes(q, 0), 2, rowsN, d),
		Mul(BroadcastToDims(sel, 2, rowsN, d), BroadcastToDims(InsertAxes(noise, 0), 2, rowsN, d)))
	scores := Reshape(s.discriminator(vctx, Reshape(both, 2*rowsN, d), true), 2, rowsN)
	isTrue := Const(g, [][]float32{{1}, {0}})
	trueScores := ReduceSum(Mul(scores, BroadcastToDims(isTrue, 2, rowsN)), 0)
	fakeScores := ReduceSum(Mul(scores, BroadcastToDims(OneMinus(isTrue), 2, rowsN)), 0)
	loss := TruncatedL1(trueScores, fakeScores, s.cfg.Margin)
	pTrue := ReduceAllMean(ConvertDType(GreaterOrEqual(trueScores, Scalar(g, x.DType(), s.cfg.Margin)), x.DType()))
	pFake := ReduceAllMean(ConvertDType(LessThan(fakeScores, Scalar(g, x.DType(), -s.cfg.Margin)), x.DType()))
	nn.AdamStep(vctx, loss, nn.AdamConfig{Beta1: s.cfg.Beta1, Beta2: s.cfg.Beta2, State: adamScope,
		Params: append(nn.Trainable(vctx, g, "/adaptor"), nn.Trainable(vctx, g, "/discriminator")...), Groups: []nn.ParamGroup{
			{Prefix: "/adaptor", LearningRate: s.cfg.AdaptorLR, WeightDecay: s.cfg.WeightDecay},
			{Prefix: "/discriminator", LearningRate: s.cfg.DiscriminatorLR, WeightDecay: s.cfg.WeightDecay},
		}}, nil)
	return []*Node{loss, pTrue, pFake}
}

func (s *SimpleNet) metricNames() []string { return []string{"p_true", "p_fake"} }

// aux is the step's Gaussian noise [rows, D] of standard deviation NoiseStd (Sec. 3.3), made on the
// host from (Seed, step) so that a resumed run draws the same noise.
func (s *SimpleNet) aux(step, rowsN, d int) *tensors.Tensor {
	return gaussian(rand.New(rand.NewPCG(s.settings.Seed^0x9e3779b97f4a7c15, uint64(step))), s.cfg.NoiseStd, rowsN, d)
}

func gaussian(rng *rand.Rand, std float64, rowsN, d int) *tensors.Tensor {
	data := make([]float32, rowsN*d)
	for i := range data {
		data[i] = float32(rng.NormFloat64() * std)
	}
	return tensors.FromFlatDataAndDimensions(data, rowsN, d)
}

// scoreGraph is the inference score: the negated discriminator output of the adapted features.
func (s *SimpleNet) scoreGraph(vctx *mlctx.Context, x *Node) *Node {
	return Neg(s.discriminator(vctx, s.adaptor(vctx, x), false))
}

func (s *SimpleNet) prepare(context.Context, *features.Set) error { return nil }
func (s *SimpleNet) afterStep(int, []*tensors.Tensor) error       { return nil }
func (s *SimpleNet) reset()                                       {}

func (s *SimpleNet) required() []string {
	return []string{"/adaptor/weight", "/adaptor/bias", "/discriminator/fc/weight", "/discriminator/fc/bias",
		"/discriminator/bn/weight", "/discriminator/bn/bias", "/discriminator/bn/running_mean",
		"/discriminator/bn/running_var", "/discriminator/tail/weight"}
}

func recipeJSON(v any) []byte {
	raw, _ := json.Marshal(v)
	return raw
}

func (s *SimpleNet) recipe() []byte {
	c := s.cfg
	c.CheckpointDir, c.CheckpointEvery, c.Epochs = "", 0, 0
	return recipeJSON(c)
}

func (s *SimpleNet) recipeOf(raw json.RawMessage) ([]byte, error) {
	var c Config
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	o := SimpleNet{cfg: c.withDefaults()}
	return o.recipe(), nil
}

func (s *SimpleNet) configJSON() (json.RawMessage, error) { return json.Marshal(s.cfg) }

// Adapted returns the adapted features q = G(o) of every patch of set, [N*H*W, D] row-major.
func (s *SimpleNet) Adapted(set *features.Set) ([]float32, error) {
	if !s.fitted {
		return nil, fmt.Errorf("simplenet: %w", methods.ErrNotFitted)
	}
	all := make([]int, set.N)
	for i := range all {
		all[i] = i
	}
	out, err := s.exec("adapt", func(vctx *mlctx.Context, in []*Node) []*Node {
		return []*Node{s.adaptor(vctx, in[0])}
	}, rows(set, all))
	if err != nil {
		return nil, err
	}
	return tensors.MustCopyFlatData[float32](out[0]), nil
}

// Discriminate returns the discriminator's output (inference mode: high for normal) for adapted
// feature rows [len(q)/D, D], for example Adapted's, with or without noise added.
func (s *SimpleNet) Discriminate(q []float32) ([]float32, error) {
	if !s.fitted {
		return nil, fmt.Errorf("simplenet: %w", methods.ErrNotFitted)
	}
	if len(q) == 0 || len(q)%s.dim != 0 {
		return nil, fmt.Errorf("simplenet: %d values are not rows of %d features", len(q), s.dim)
	}
	out, err := s.exec("discriminate", func(vctx *mlctx.Context, in []*Node) []*Node {
		return []*Node{s.discriminator(vctx, in[0], false)}
	}, tensors.FromFlatDataAndDimensions(q, len(q)/s.dim, s.dim))
	if err != nil {
		return nil, err
	}
	return tensors.MustCopyFlatData[float32](out[0]), nil
}

// Noise returns Gaussian noise of standard deviation std for rows of adapted features (len n), drawn
// from seed: the anomalous feature generator, for pictures and sweeps.
func Noise(seed uint64, std float64, n int) []float32 {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(rng.NormFloat64() * std)
	}
	return out
}

// load reads a SimpleNet checkpoint.
func load(dir string) (*SimpleNet, error) {
	m, ts, sv, err := readCheckpoint(dir, Name)
	if err != nil {
		return nil, err
	}
	var cfg Config
	if err := json.Unmarshal(sv.Config, &cfg); err != nil {
		return nil, fmt.Errorf("%s: bad simplenet configuration: %v", dir, err)
	}
	s, err := New(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	if err := s.restore(dir, m, ts, sv); err != nil {
		return nil, err
	}
	return s, nil
}

// Load reads a checkpoint written by Save.
func Load(dir string) (*SimpleNet, error) { return load(dir) }
