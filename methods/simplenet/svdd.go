package simplenet

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/features"
	"github.com/gonomaly/gonomaly/methods/nn"
)

// SVDDName is Deep SVDD's catalogue name.
const SVDDName = "deepsvdd"

// Objective is Deep SVDD's training objective.
type Objective string

// The two objectives of Ruff et al. (Sec. 3.1 and 3.2).
const (
	// OneClass minimises the mean squared distance to c (Eq. 4).
	OneClass Objective = "one-class"
	// SoftBoundary minimises R^2 + 1/(nu n) sum max(0, |phi(x) - c|^2 - R^2) (Eq. 3): a fraction nu of
	// the training data may fall outside the sphere.
	SoftBoundary Objective = "soft-boundary"
)

// SVDDConfig is the recipe of the Deep SVDD detector on frozen patch features.
type SVDDConfig struct {
	// Settings are the fields every method shares (ImageScore: methods.ScoreMapMax or
	// methods.ScorePatchMax). Seed drives the projection's initialisation and the shuffling.
	methods.Settings
	// Features is the frozen patch-feature recipe (PatchCore's; Dim 1536).
	Features features.Config `json:"features"`
	// Training: Paper 150 epochs of batch 8 images, map sigma 4.
	Training
	// Objective is OneClass (default) or SoftBoundary; Nu is the soft boundary's nu in (0, 1] (0.1).
	Objective Objective `json:"objective"`
	Nu        float64   `json:"nu"`
	// Hidden and RepDim are the widths of phi: D -> Hidden -> RepDim, LeakyReLU between (512, 128).
	Hidden int `json:"hidden"`
	RepDim int `json:"rep_dim"`
	// LeakySlope is the LeakyReLU slope (torch's default 0.01, the authors' networks').
	LeakySlope float64 `json:"leaky_slope"`
	// LearningRate and WeightDecay of Adam (1e-4 and 5e-7, the authors' code), betas 0.9, 0.999.
	LearningRate float64 `json:"learning_rate"`
	WeightDecay  float64 `json:"weight_decay"`
	// WarmUpEpochs: the soft boundary's radius is updated only from this epoch on (10).
	WarmUpEpochs int `json:"warm_up_epochs"`
	// CenterEps: coordinates of c closer to 0 than this are pushed to ±CenterEps (0.1), since a zero
	// coordinate is matched by zero weights (the authors' code).
	CenterEps float64 `json:"center_eps"`
	// Bias adds bias terms to phi. Deep SVDD forbids them (Prop. 2: a bias can output c for every input,
	// the hypersphere collapse); this switch exists to show the collapse, never to detect.
	Bias bool `json:"bias,omitempty"`
}

// SVDDPaper is the paper's recipe on frozen Wide-ResNet-50-2 patch features at 224 px: a bias-free
// 1536-512-128 network, c the mean initial output, one-class objective (nu 0.1 for the soft boundary),
// Adam at 1e-4 with weight decay 5e-7, 150 epochs. The paper trains a LeNet-type CNN on 32 px images
// after autoencoder pretraining; here phi is a trained projection of frozen patch features and is not
// pretrained.
func SVDDPaper() SVDDConfig {
	return SVDDConfig{
		Settings: methods.Settings{ImageSize: 224, Backbone: "wide_resnet50_2", BackboneSeed: methods.DefaultBackboneSeed,
			FeatureBatch: methods.DefaultFeatureBatch, ImageScore: methods.ScoreMapMax},
		Features:  features.Config{Dim: 1536},
		Training:  Training{Epochs: 150, BatchSize: 8, Sigma: 4, CheckpointEvery: 200},
		Objective: OneClass, Nu: 0.1, Hidden: 512, RepDim: 128, LeakySlope: 0.01,
		LearningRate: 1e-4, WeightDecay: 5e-7, WarmUpEpochs: 10, CenterEps: 0.1,
	}
}

// SVDDCPU fits a category in a minute on two cores: ResNet-18 at 128 px (384-dimensional patch
// features), a 384-256-32 network, 20 epochs at learning rate 1e-3 (ten times the paper's, for 7.5
// times fewer epochs), warm-up 2 epochs.
func SVDDCPU() SVDDConfig {
	c := SVDDPaper()
	c.ImageSize, c.Backbone = 128, "resnet18"
	c.Epochs, c.LearningRate, c.WarmUpEpochs = 20, 1e-3, 2
	c.Hidden, c.RepDim = 256, 32
	return c
}

func (c SVDDConfig) withDefaults() SVDDConfig {
	c.Settings = c.Settings.WithDefaults(SVDDPaper().Settings)
	c.Features = c.Features.WithDefaults()
	c.Features.BatchSize = c.FeatureBatch
	if c.Objective == "" {
		c.Objective = OneClass
	}
	return c
}

func (c SVDDConfig) validate() error {
	if err := c.Validate(SVDDName, 32, 1, methods.ScoreMapMax, methods.ScorePatchMax); err != nil {
		return err
	}
	if err := c.Training.validate(SVDDName); err != nil {
		return err
	}
	switch {
	case c.Objective != OneClass && c.Objective != SoftBoundary:
		return fmt.Errorf("deepsvdd: unknown objective %q (%q or %q)", c.Objective, OneClass, SoftBoundary)
	case c.Objective == SoftBoundary && (c.Nu <= 0 || c.Nu > 1):
		return fmt.Errorf("deepsvdd: nu %g must be in (0, 1]", c.Nu)
	case c.Hidden < 1 || c.RepDim < 1:
		return fmt.Errorf("deepsvdd: Hidden %d and RepDim %d must be positive", c.Hidden, c.RepDim)
	case c.LearningRate <= 0 || c.WeightDecay < 0 || c.CenterEps < 0:
		return fmt.Errorf("deepsvdd: learning rate must be positive, weight decay and CenterEps not negative")
	}
	return nil
}

// SVDD is the Deep SVDD detector (Ruff et al., "Deep One-Class Classification", ICML 2018) on frozen
// patch features: a bias-free network phi maps every patch feature near a fixed centre c, and a patch
// scores its squared distance to c (minus R^2 for the soft boundary).
type SVDD struct {
	*core
	cfg SVDDConfig
}

// NewSVDD builds an unfitted Deep SVDD detector; the backbone is loaded now.
func NewSVDD(cfg SVDDConfig) (*SVDD, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c, err := newCore(SVDDName, cfg.Settings, cfg.Features, cfg.Training)
	if err != nil {
		return nil, err
	}
	s := &SVDD{core: c, cfg: cfg}
	c.head = s
	return s, nil
}

// Config returns the configuration with defaults applied.
func (s *SVDD) Config() SVDDConfig { return s.cfg }

// phi is the network: linear D -> Hidden, LeakyReLU, linear Hidden -> RepDim, without biases unless
// Bias is set.
func (s *SVDD) phi(vctx *mlctx.Context, x *Node) *Node {
	sc := vctx.In("phi")
	h := nn.LeakyReLU(s.linear(sc.In("fc1"), x, s.cfg.Hidden, s.cfg.Bias), s.cfg.LeakySlope)
	return s.linear(sc.In("fc2"), h, s.cfg.RepDim, s.cfg.Bias)
}

// sphere returns the centre c [RepDim] and the radius R (a scalar) variables.
func (s *SVDD) sphere(vctx *mlctx.Context) (c, r *mlctx.Variable) {
	sc := vctx.InAbsPath("/sphere")
	c = param(sc, "c", false, func() *tensors.Tensor {
		return tensors.FromFlatDataAndDimensions(make([]float32, s.cfg.RepDim), s.cfg.RepDim)
	})
	r = param(sc, "radius", false, func() *tensors.Tensor { return tensors.FromFlatDataAndDimensions([]float32{0}, 1) })
	return c, r
}

// sqDist is |phi(x) - c|^2 per row.
func (s *SVDD) sqDist(vctx *mlctx.Context, x *Node) *Node {
	z := s.phi(vctx, x)
	cv, _ := s.sphere(vctx)
	d := Sub(z, InsertAxes(cv.ValueGraph(x.Graph()), 0))
	return ReduceSum(Square(d), 1)
}

// SVDDLoss is the Deep SVDD objective on squared distances dist [rows]: their mean (one-class, Eq. 4)
// or R^2 + 1/nu mean(max(0, dist - R^2)) (soft boundary, Eq. 3; r2 is R^2, a [1] node).
func SVDDLoss(dist *Node, obj Objective, r2 *Node, nu float64) *Node {
	if obj == OneClass {
		return ReduceAllMean(dist)
	}
	r2s := Reshape(r2)
	return Add(r2s, MulScalar(ReduceAllMean(nn.ReLU(Sub(dist, r2s))), 1/nu))
}

func (s *SVDD) trainGraph(vctx *mlctx.Context, x, _ *Node) []*Node {
	dist := s.sqDist(vctx, x)
	_, r := s.sphere(vctx)
	rv := r.ValueGraph(x.Graph())
	loss := SVDDLoss(dist, s.cfg.Objective, Square(rv), s.cfg.Nu)
	nn.AdamStep(vctx, loss, nn.AdamConfig{LearningRate: s.cfg.LearningRate, WeightDecay: s.cfg.WeightDecay,
		Beta1: 0.9, Beta2: 0.999, State: adamScope, Params: nn.Trainable(vctx, loss.Graph(), "/phi")}, nil)
	return []*Node{loss, ReduceAllMean(dist), Reshape(rv), dist}
}

func (s *SVDD) metricNames() []string { return []string{"mean_dist2", "radius"} }

func (s *SVDD) aux(int, int, int) *tensors.Tensor { return nil }

// scoreGraph is |phi(x) - c|^2, minus R^2 for the soft boundary (positive outside the sphere).
func (s *SVDD) scoreGraph(vctx *mlctx.Context, x *Node) *Node {
	dist := s.sqDist(vctx, x)
	if s.cfg.Objective == SoftBoundary {
		_, r := s.sphere(vctx)
		rv := Reshape(r.ValueGraph(x.Graph()))
		dist = Sub(dist, Square(rv))
	}
	return dist
}

// prepare fixes c as the mean initial output of phi over every training patch (Sec. 3.3), with
// coordinates nearer 0 than CenterEps pushed to ±CenterEps.
func (s *SVDD) prepare(ctx context.Context, set *features.Set) error {
	sum := make([]float64, s.cfg.RepDim)
	batch := min(s.cfg.BatchSize, set.N)
	count := 0
	for lo := 0; lo < set.N; lo += batch {
		if err := ctx.Err(); err != nil {
			return err
		}
		hi := min(lo+batch, set.N)
		idx := make([]int, hi-lo)
		for i := range idx {
			idx[i] = lo + i
		}
		out, err := s.exec("embed", func(vctx *mlctx.Context, in []*Node) []*Node {
			return []*Node{s.phi(vctx, in[0])}
		}, rows(set, idx))
		if err != nil {
			return err
		}
		z := tensors.MustCopyFlatData[float32](out[0])
		for i, v := range z {
			sum[i%s.cfg.RepDim] += float64(v)
		}
		count += len(z) / s.cfg.RepDim
	}
	c := make([]float32, s.cfg.RepDim)
	for i, v := range sum {
		c[i] = float32(v / float64(count))
	}
	c = CenterFix(c, s.cfg.CenterEps)
	cv, _ := s.sphere(s.vars)
	cv.SetValue(tensors.FromFlatDataAndDimensions(c, s.cfg.RepDim))
	return nil
}

// CenterFix returns c with every coordinate of magnitude below eps set to eps with its sign (+eps for
// an exact 0), as the authors' init_center_c: a centre coordinate at 0 is trivially matched by zero
// weights.
func CenterFix(c []float32, eps float64) []float32 {
	out := slices.Clone(c)
	e := float32(eps)
	for i, v := range out {
		switch {
		case v >= 0 && v < e:
			out[i] = e
		case v < 0 && v > -e:
			out[i] = -e
		}
	}
	return out
}

// Quantile is numpy's default (linear) quantile q of xs.
func Quantile(xs []float64, q float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return math.NaN()
	}
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(s)-1)
	return s[lo] + (pos-float64(lo))*(s[hi]-s[lo])
}

// RadiusFromDistances is the soft boundary's radius update: the (1 - nu) quantile of the distances
// sqrt(dist2) of the batch (the authors' get_radius).
func RadiusFromDistances(dist2 []float32, nu float64) float64 {
	d := make([]float64, len(dist2))
	for i, v := range dist2 {
		d[i] = math.Sqrt(math.Max(float64(v), 0))
	}
	return Quantile(d, 1-nu)
}

// afterStep updates R after every step from that batch's distances once the warm-up is over, as the
// authors' code does.
func (s *SVDD) afterStep(epoch int, out []*tensors.Tensor) error {
	if s.cfg.Objective != SoftBoundary || epoch < s.cfg.WarmUpEpochs {
		return nil
	}
	r := RadiusFromDistances(tensors.MustCopyFlatData[float32](out[3]), s.cfg.Nu)
	_, rv := s.sphere(s.vars)
	rv.SetValue(tensors.FromFlatDataAndDimensions([]float32{float32(r)}, 1))
	return nil
}

func (s *SVDD) reset() {}

func (s *SVDD) required() []string {
	return []string{"/phi/fc1/weight", "/phi/fc2/weight", "/sphere/c", "/sphere/radius"}
}

func (s *SVDD) recipe() []byte {
	c := s.cfg
	c.CheckpointDir, c.CheckpointEvery, c.Epochs = "", 0, 0
	return recipeJSON(c)
}

func (s *SVDD) recipeOf(raw json.RawMessage) ([]byte, error) {
	var c SVDDConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	o := SVDD{cfg: c.withDefaults()}
	return o.recipe(), nil
}

func (s *SVDD) configJSON() (json.RawMessage, error) { return json.Marshal(s.cfg) }

// Center returns c, the hypersphere's centre.
func (s *SVDD) Center() []float32 {
	c, _ := s.sphere(s.vars)
	return tensors.MustCopyFlatData[float32](c.MustValue())
}

// Radius returns R (0 unless the soft-boundary objective has updated it).
func (s *SVDD) Radius() float64 {
	_, r := s.sphere(s.vars)
	return float64(tensors.MustCopyFlatData[float32](r.MustValue())[0])
}

// Embed returns phi of every patch of set, [N*H*W, RepDim] row-major.
func (s *SVDD) Embed(set *features.Set) ([]float32, error) {
	if !s.fitted {
		return nil, fmt.Errorf("deepsvdd: %w", methods.ErrNotFitted)
	}
	all := make([]int, set.N)
	for i := range all {
		all[i] = i
	}
	out, err := s.exec("embed", func(vctx *mlctx.Context, in []*Node) []*Node {
		return []*Node{s.phi(vctx, in[0])}
	}, rows(set, all))
	if err != nil {
		return nil, err
	}
	return tensors.MustCopyFlatData[float32](out[0]), nil
}

// LoadSVDD reads a checkpoint written by an SVDD's Save.
func LoadSVDD(dir string) (*SVDD, error) {
	m, ts, sv, err := readCheckpoint(dir, SVDDName)
	if err != nil {
		return nil, err
	}
	var cfg SVDDConfig
	if err := json.Unmarshal(sv.Config, &cfg); err != nil {
		return nil, fmt.Errorf("%s: bad deepsvdd configuration: %v", dir, err)
	}
	s, err := NewSVDD(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	if err := s.restore(dir, m, ts, sv); err != nil {
		return nil, err
	}
	return s, nil
}
