// Package patchcore implements PatchCore (Roth, Pemula, Zepeda, Schölkopf, Brox and Gehler, "Towards
// Total Recall in Industrial Anomaly Detection", CVPR 2022): a memory bank of locally aware patch
// features from normal images, shrunk by a greedy k-center coreset, against which every test patch is
// scored by its nearest-neighbour distance.
//
// The steps, in the paper's words and order:
//   - Locally aware patch features (Sec. 3.1): features.Extract (layer2 + layer3, 3x3 neighbourhood
//     average, upsample and concatenate, adaptive average pooling to D).
//   - Coreset-reduced patch-feature memory bank (Sec. 3.2, Algorithm 1): coreset.GreedyKCenter.
//   - Anomaly detection (Sec. 3.3, Eq. 6-7): nearest-neighbour distance per patch (knn), the image score
//     re-weighted by the softmax over the b nearest bank neighbours of the most anomalous patch's
//     nearest bank patch; the patch map upsampled to the input and smoothed with a Gaussian (sigma 4).
package patchcore

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/anomalymap"
	"github.com/gonomaly/gonomaly/methods/backbone"
	"github.com/gonomaly/gonomaly/methods/coreset"
	"github.com/gonomaly/gonomaly/methods/features"
	"github.com/gonomaly/gonomaly/methods/knn"
	"github.com/gonomaly/gonomaly/methods/safetensors"
)

// Name is PatchCore's catalogue name.
const Name = "patchcore"

// FormatVersion is the checkpoint format this package writes and reads.
const FormatVersion = 1

// Config is PatchCore's configuration. Zero fields take the documented defaults (the Paper preset's
// values, except where noted).
type Config struct {
	// Backbone is the feature extractor architecture (backbone.Architectures); default
	// "wide_resnet50_2" (the paper's).
	Backbone string `json:"backbone"`
	// Weights is backbone.Options.Weights: "" for ImageNet weights from the cache or hub (with a seeded
	// fallback and a notice when offline), a local .safetensors path, or "random".
	Weights string `json:"weights"`
	// Seed drives the seeded backbone initialisation (when no weights load) and the coreset.
	Seed uint64 `json:"seed"`
	// WidthDiv divides the backbone's channel counts (tests and tiny experiments); default 1.
	WidthDiv int `json:"width_div,omitempty"`
	// InputSize is the image side the preset is meant for (the paper resizes to 256 and centre-crops
	// 224). Load datasets at this size; Fit records whatever size the train images have and Predict
	// requires the same.
	InputSize int `json:"input_size"`
	// Features is the patch-feature recipe (taps layer2+layer3, 3x3 neighbourhood, D = 1024).
	Features features.Config `json:"features"`
	// CoresetRatio is the fraction of train patches kept in the bank: 0.01, 0.1 (default) or 0.25 in
	// the paper. 1 keeps every patch.
	CoresetRatio float64 `json:"coreset_ratio"`
	// CoresetDim is the random-projection dimension of the coreset search; default 128.
	CoresetDim int `json:"coreset_dim"`
	// Reweight is b, the number of bank neighbours in the image-score re-weighting (Eq. 7); default 9.
	// -1 disables re-weighting (image score = largest patch score).
	Reweight int `json:"reweight"`
	// Sigma is the Gaussian smoothing of the upsampled map; default 4.
	Sigma float64 `json:"sigma"`
}

// Paper is the paper's recipe: Wide-ResNet-50-2, 224 px (256 resized, centre crop), layer2+layer3,
// D = 1024, 10% coreset, b = 9, sigma 4.
func Paper() Config {
	return Config{Backbone: "wide_resnet50_2", InputSize: 224, Features: features.Config{Dim: 1024},
		CoresetRatio: 0.1, CoresetDim: 128, Reweight: 9, Sigma: 4}
}

// CPU is a recipe that fits a category in minutes on two cores with GoMLX's pure-Go backend:
// ResNet-18 at 128 px (a 16x16 patch grid), D = 256, 5% coreset. Same scoring as the paper.
func CPU() Config {
	return Config{Backbone: "resnet18", InputSize: 128, Features: features.Config{Dim: 256},
		CoresetRatio: 0.05, CoresetDim: 128, Reweight: 9, Sigma: 4}
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Backbone == "" {
		c.Backbone = "wide_resnet50_2"
	}
	if c.InputSize <= 0 {
		c.InputSize = 224
	}
	c.Features = c.Features.WithDefaults()
	if c.CoresetRatio <= 0 {
		c.CoresetRatio = 0.1
	}
	if c.CoresetDim <= 0 {
		c.CoresetDim = 128
	}
	if c.Reweight == 0 {
		c.Reweight = 9
	}
	if c.Sigma <= 0 {
		c.Sigma = anomalymap.DefaultSigma
	}
	return c
}

// PatchCore is the detector. Build it with New; it implements methods.Detector.
type PatchCore struct {
	cfg      Config
	ext      features.Extractor
	index    *knn.Index
	h, w, ch int // input size and channels seen at Fit
	gh, gw   int // patch grid
	// FitStats holds what the last Fit measured.
	FitStats Stats
}

// Stats reports the cost of a fit.
type Stats struct {
	TrainPatches, BankRows, Dim int
	ExtractTime, CoresetTime    time.Duration
}

// BankBytes is the memory the bank occupies (float32 rows).
func (s Stats) BankBytes() int64 { return int64(s.BankRows) * int64(s.Dim) * 4 }

// New builds an unfitted PatchCore. The backbone is built (and its weights loaded) on first use.
func New(cfg Config) (*PatchCore, error) {
	cfg = cfg.WithDefaults()
	if cfg.CoresetRatio > 1 {
		return nil, fmt.Errorf("patchcore: coreset ratio %g > 1", cfg.CoresetRatio)
	}
	return &PatchCore{cfg: cfg, ext: features.Extractor{Arch: cfg.Backbone, Weights: cfg.Weights, Seed: cfg.Seed, WidthDiv: cfg.WidthDiv, Recipe: cfg.Features}}, nil
}

// Config returns the configuration with defaults applied.
func (p *PatchCore) Config() Config { return p.cfg }

// Name implements methods.Detector.
func (p *PatchCore) Name() string { return Name }

// Backbone returns the feature extractor, building it on first call.
func (p *PatchCore) Backbone() (*backbone.Backbone, error) {
	bb, err := p.ext.Backbone()
	if err != nil {
		return nil, fmt.Errorf("patchcore: %w", err)
	}
	return bb, nil
}

// Features extracts the patch features of images with the configured backbone and recipe.
func (p *PatchCore) Features(ctx context.Context, images methods.Images) (*features.Set, error) {
	set, err := p.ext.Extract(ctx, images)
	if err != nil {
		return nil, fmt.Errorf("patchcore: %w", err)
	}
	return set, nil
}

// Fit implements methods.Detector: extract train patch features, then keep a coreset of them as the bank.
func (p *PatchCore) Fit(ctx context.Context, train methods.Images) error {
	start := time.Now()
	feats, first, err := p.ext.ExtractTrain(ctx, train)
	if err != nil {
		return fmt.Errorf("patchcore: %w", err)
	}
	extract := time.Since(start)
	if err := p.FitFeatures(ctx, feats, first.H, first.W, first.C); err != nil {
		return err
	}
	p.FitStats.ExtractTime = extract
	return nil
}

// FitFeatures builds the bank from already extracted (for example cached) train features of images
// of size h x w with ch channels.
func (p *PatchCore) FitFeatures(ctx context.Context, train *features.Set, h, w, ch int) error {
	if err := train.Validate(); err != nil {
		return fmt.Errorf("patchcore: %w", err)
	}
	if train.N == 0 {
		return fmt.Errorf("patchcore: no train features")
	}
	start := time.Now()
	bank := train.Data
	n := train.Patches()
	if p.cfg.CoresetRatio < 1 {
		k := max(1, int(math.Round(p.cfg.CoresetRatio*float64(n))))
		idx, err := coreset.GreedyKCenter(ctx, train.Data, train.D, k, coreset.Options{Dim: p.cfg.CoresetDim, Seed: p.cfg.Seed})
		if err != nil {
			return fmt.Errorf("patchcore: coreset: %w", err)
		}
		bank = make([]float32, 0, k*train.D)
		for _, i := range idx {
			bank = append(bank, train.Data[i*train.D:(i+1)*train.D]...)
		}
	} else {
		bank = append([]float32(nil), bank...)
	}
	ix, err := knn.NewIndex(bank, train.D)
	if err != nil {
		return fmt.Errorf("patchcore: %w", err)
	}
	p.index, p.h, p.w, p.ch, p.gh, p.gw = ix, h, w, ch, train.H, train.W
	p.FitStats = Stats{TrainPatches: n, BankRows: ix.Len(), Dim: train.D, CoresetTime: time.Since(start)}
	methods.ReportProgress(ctx, methods.Event{Task: "patchcore: memory bank", Done: 1, Total: 1, Finished: true,
		Elapsed: time.Since(start), Metrics: map[string]float64{
			"train_patches": float64(n), "bank_rows": float64(ix.Len()), "bank_MiB": float64(p.FitStats.BankBytes()) / (1 << 20)}})
	return nil
}

// Bank returns the memory bank rows (row-major, Dim columns; not a copy) and their dimension; nil
// before Fit.
func (p *PatchCore) Bank() ([]float32, int) {
	if p.index == nil {
		return nil, 0
	}
	return p.index.Bank(), p.index.Dim
}

// Predict implements methods.Detector.
func (p *PatchCore) Predict(ctx context.Context, images methods.Images) ([]methods.Prediction, error) {
	if p.index == nil {
		return nil, fmt.Errorf("patchcore: %w", methods.ErrNotFitted)
	}
	if images.Len() == 0 {
		return nil, nil
	}
	feats, err := p.Features(ctx, methods.SizeChecked(images, p.h, p.w, p.ch))
	if err != nil {
		return nil, err
	}
	return p.PredictFeatures(ctx, feats)
}

// PredictFeatures scores already extracted test features (from the same backbone and recipe).
func (p *PatchCore) PredictFeatures(ctx context.Context, test *features.Set) ([]methods.Prediction, error) {
	if p.index == nil {
		return nil, fmt.Errorf("patchcore: %w", methods.ErrNotFitted)
	}
	if err := test.Validate(); err != nil {
		return nil, fmt.Errorf("patchcore: %w", err)
	}
	if test.D != p.index.Dim || test.H != p.gh || test.W != p.gw {
		return nil, fmt.Errorf("patchcore: test features are %dx%dx%d, the bank was built from %dx%dx%d",
			test.H, test.W, test.D, p.gh, p.gw, p.index.Dim)
	}
	start := time.Now()
	res, err := p.index.Search(ctx, test.Data, 1)
	if err != nil {
		return nil, err
	}
	per := test.PerImage()
	out := make([]methods.Prediction, test.N)
	for i := range out {
		patch := res.Dist[i*per : (i+1)*per]
		score, err := p.imageScore(ctx, test, i, patch, res.Idx[i*per:(i+1)*per])
		if err != nil {
			return nil, err
		}
		m := datasets.Image{H: test.H, W: test.W, C: 1, Pix: append([]float32(nil), patch...)}
		out[i] = methods.Prediction{Score: score, Map: anomalymap.ToInput(m, p.h, p.w, p.cfg.Sigma)}
		methods.ReportProgress(ctx, methods.Event{Task: "patchcore: scoring", Done: i + 1, Total: test.N,
			Elapsed: time.Since(start), Finished: i+1 == test.N})
	}
	return out, nil
}

// imageScore is Eq. 6-7: s* is the largest nearest-neighbour distance among the image's patches, at
// patch m_test,* whose nearest bank patch is m*; it is scaled by
// 1 - exp(|m_test,* - m*|) / sum over the b nearest bank neighbours m of m* of exp(|m_test,* - m|),
// so a patch far from a sparse region of the bank counts less than one far from a dense region.
func (p *PatchCore) imageScore(ctx context.Context, test *features.Set, i int, patch []float32, nn []int32) (float32, error) {
	best := 0
	for j, v := range patch {
		if v > patch[best] {
			best = j
		}
	}
	sStar := patch[best]
	b := p.cfg.Reweight
	if b < 0 || p.index.Len() < 2 {
		return sStar, nil
	}
	mStar := p.index.Row(int(nn[best]))
	nb, err := p.index.Search(ctx, mStar, b)
	if err != nil {
		return 0, err
	}
	query := test.Data[(i*test.PerImage()+best)*test.D : (i*test.PerImage()+best+1)*test.D]
	// exp(s*) / sum exp(d_m) = 1 / sum exp(d_m - s*); every d_m >= s* (m* is the nearest), so no overflow.
	var sum float64
	for _, id := range nb.Idx {
		d := math.Sqrt(float64(sqDist(query, p.index.Row(int(id)))))
		sum += math.Exp(math.Min(d-float64(sStar), 700))
	}
	w := 1 - 1/sum
	return float32(w) * sStar, nil
}

func sqDist(a, b []float32) float32 {
	var s float32
	b = b[:len(a)]
	for i, v := range a {
		d := v - b[i]
		s += d * d
	}
	return s
}

// manifestBackbone names the backbone and its weights in the checkpoint manifest.
func (p *PatchCore) manifestBackbone() string {
	return p.ext.Describe()
}

// Save implements methods.Detector: the bank and the configuration, atomically.
func (p *PatchCore) Save(dir string) error {
	if p.index == nil {
		return fmt.Errorf("patchcore: %w", methods.ErrNotFitted)
	}
	cfg, err := json.Marshal(p.cfg)
	if err != nil {
		return err
	}
	grid := []float32{float32(p.gh), float32(p.gw)}
	return methods.SaveCheckpoint(dir, methods.Manifest{Method: Name, FormatVersion: FormatVersion, Config: cfg,
		Backbone: p.manifestBackbone(), ImageH: p.h, ImageW: p.w, Channels: p.ch},
		map[string]safetensors.Tensor{
			"bank": {DType: "F32", Shape: []int{p.index.Len(), p.index.Dim}, Data: p.index.Bank()},
			"grid": {DType: "F32", Shape: []int{2}, Data: grid},
		})
}

// Load reads a checkpoint written by Save.
func Load(dir string) (*PatchCore, error) {
	m, ts, err := methods.ReadCheckpoint(dir, Name, FormatVersion)
	if err != nil {
		return nil, err
	}
	var cfg Config
	if err := json.Unmarshal(m.Config, &cfg); err != nil {
		return nil, fmt.Errorf("%s: patchcore config: %v", dir, err)
	}
	p, err := New(cfg)
	if err != nil {
		return nil, err
	}
	bank, ok := ts["bank"]
	if !ok || len(bank.Shape) != 2 || bank.Shape[0] == 0 {
		return nil, fmt.Errorf("%s: patchcore checkpoint has no [rows, dim] tensor \"bank\"", dir)
	}
	grid, ok := ts["grid"]
	if !ok || len(grid.Data) != 2 || grid.Data[0] < 1 || grid.Data[1] < 1 {
		return nil, fmt.Errorf("%s: patchcore checkpoint has no valid \"grid\" tensor", dir)
	}
	if m.ImageH <= 0 || m.ImageW <= 0 || m.Channels <= 0 {
		return nil, fmt.Errorf("%s: patchcore manifest has no valid image size", dir)
	}
	ix, err := knn.NewIndex(bank.Data, bank.Shape[1])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	p.index, p.h, p.w, p.ch = ix, m.ImageH, m.ImageW, m.Channels
	p.gh, p.gw = int(grid.Data[0]), int(grid.Data[1])
	p.FitStats = Stats{BankRows: ix.Len(), Dim: ix.Dim}
	return p, nil
}

func init() {
	methods.Register(methods.Entry{
		Name:    Name,
		Display: "PatchCore",
		Family:  methods.MemoryBank,
		Paper: methods.Paper{
			Title:   "Towards Total Recall in Industrial Anomaly Detection",
			Authors: "Karsten Roth, Latha Pemula, Joaquin Zepeda, Bernhard Schölkopf, Thomas Brox, Peter Gehler",
			Venue:   "CVPR", Year: 2022, URL: "https://arxiv.org/abs/2106.08265",
		},
		Summary:         "Memory bank of locally aware patch features, shrunk by a greedy k-center coreset; nearest-neighbour distance per patch.",
		Trains:          false,
		NeedsPretrained: true,
		Presets:         []string{methods.PresetPaper, methods.PresetCPU},
		New: func(preset string) (methods.Detector, error) {
			switch preset {
			case methods.PresetPaper:
				return New(Paper())
			case methods.PresetCPU:
				return New(CPU())
			}
			return nil, fmt.Errorf("patchcore: unknown preset %q", preset)
		},
		Load: func(dir string, _ methods.Manifest) (methods.Detector, error) { return Load(dir) },
	})
}
