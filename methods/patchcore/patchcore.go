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
//     nearest bank patch (Config.ImageScore, methods.ScoreReweighted by default); the patch map upsampled
//     to the input and smoothed with a Gaussian (sigma 4).
package patchcore

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
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
const FormatVersion = 2

// Config is PatchCore's configuration. Zero fields take the documented defaults (the Paper preset's
// values, except where noted).
type Config struct {
	// Settings are the fields every method shares (methods.Settings): ImageSize (default 224), Backbone
	// (default "wide_resnet50_2", the paper's), Weights, WidthDiv, BackboneSeed (the seeded backbone),
	// Seed (the coreset's random projection), FeatureBatch (the memory knob of Fit's extraction and of
	// the streaming Predict) and ImageScore (default methods.ScoreReweighted, Eq. 7; also
	// methods.ScorePatchMax and methods.ScoreMapMax).
	methods.Settings
	// Features is the patch-feature recipe (taps layer2+layer3, 3x3 neighbourhood, D = 1024); its
	// BatchSize is replaced by FeatureBatch.
	Features features.Config `json:"features"`
	// CoresetRatio is the fraction of train patches kept in the bank: 0.01, 0.1 (default) or 0.25 in
	// the paper. 1 keeps every patch.
	CoresetRatio float64 `json:"coreset_ratio"`
	// CoresetDim is the random-projection dimension of the coreset search; default 128.
	CoresetDim int `json:"coreset_dim"`
	// Reweight is b, the number of bank neighbours in the re-weighted image score (Eq. 7, ImageScore
	// methods.ScoreReweighted); default 9.
	Reweight int `json:"reweight"`
	// Sigma is the Gaussian smoothing of the upsampled map; default 4.
	Sigma float64 `json:"sigma"`
}

// paperSettings are the shared settings of the Paper preset.
var paperSettings = methods.Settings{ImageSize: 224, Backbone: "wide_resnet50_2", BackboneSeed: methods.DefaultBackboneSeed,
	FeatureBatch: methods.DefaultFeatureBatch, ImageScore: methods.ScoreReweighted}

// Paper is the paper's recipe: Wide-ResNet-50-2, 224 px (the paper resizes to 256 and centre-crops 224:
// datasets.Options{ImageSize: 256, CropSize: 224}), layer2+layer3, D = 1024, 10% coreset, re-weighted
// image score with b = 9, sigma 4.
func Paper() Config {
	return Config{Settings: paperSettings, Features: features.Config{Dim: 1024},
		CoresetRatio: 0.1, CoresetDim: 128, Reweight: 9, Sigma: 4}
}

// CPU is the paper's recipe with a 1% coreset, the paper's own "PatchCore-1%" (Table 1 of the paper:
// image AUROC 99.0 against 99.1 for 10%): Wide-ResNet-50-2 at 224 px, layer2+layer3, D = 1024, same
// scoring. On two cores with the fastgo backend it fits a 200-image category in about half a minute
// (feature extraction; the 1% coreset takes seconds where 10% takes about 40 s) and scores an image in
// about 150 ms. ResNet-18 at 128 px, the preset before fastgo, is cfg.Backbone = "resnet18",
// cfg.ImageSize = 128, cfg.Features.Dim = 256.
func CPU() Config {
	c := Paper()
	c.CoresetRatio = 0.01
	return c
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	c.Settings = c.Settings.WithDefaults(paperSettings)
	c.Features = c.Features.WithDefaults()
	c.Features.BatchSize = c.FeatureBatch
	if c.CoresetRatio <= 0 {
		c.CoresetRatio = 0.1
	}
	if c.CoresetDim <= 0 {
		c.CoresetDim = 128
	}
	if c.Reweight <= 0 {
		c.Reweight = 9
	}
	if c.Sigma <= 0 {
		c.Sigma = anomalymap.DefaultSigma
	}
	return c
}

// PatchCore is the detector. Build it with New; it implements methods.Detector and methods.Streamer.
type PatchCore struct {
	cfg    Config
	ext    *features.Extractor
	index  *knn.Index
	ch     int // channels seen at Fit
	gh, gw int // patch grid
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

// New builds an unfitted PatchCore. It checks the configuration and builds the backbone at once, so a
// missing or wrong weights file is an error here, not at Fit.
func New(cfg Config) (*PatchCore, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(Name, 32, 1, methods.ScoreReweighted, methods.ScorePatchMax, methods.ScoreMapMax); err != nil {
		return nil, err
	}
	if cfg.CoresetRatio > 1 {
		return nil, fmt.Errorf("patchcore: coreset ratio %g > 1", cfg.CoresetRatio)
	}
	ext, err := features.NewExtractor(cfg.Settings, cfg.Features)
	if err != nil {
		return nil, fmt.Errorf("patchcore: %w", err)
	}
	return &PatchCore{cfg: cfg, ext: ext}, nil
}

// Config returns the configuration with defaults applied.
func (p *PatchCore) Config() Config { return p.cfg }

// Settings implements methods.Configured.
func (p *PatchCore) Settings() methods.Settings { return p.cfg.Settings }

// Name implements methods.Detector.
func (p *PatchCore) Name() string { return Name }

// Backbone returns the feature extractor.
func (p *PatchCore) Backbone() (*backbone.Backbone, error) { return p.ext.Backbone(), nil }

// Features extracts the patch features of images (ImageSize x ImageSize) with the configured backbone
// and recipe.
func (p *PatchCore) Features(ctx context.Context, images methods.Images) (*features.Set, error) {
	set, err := p.ext.Extract(ctx, images, 0)
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
// of size h x w (which must be ImageSize) with ch channels.
func (p *PatchCore) FitFeatures(ctx context.Context, train *features.Set, h, w, ch int) error {
	if err := train.Validate(); err != nil {
		return fmt.Errorf("patchcore: %w", err)
	}
	if h != p.cfg.ImageSize || w != p.cfg.ImageSize {
		return fmt.Errorf("patchcore: features of %dx%d (W x H) images, but ImageSize is %d: set ImageSize to the size the features were extracted at", w, h, p.cfg.ImageSize)
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
	p.index, p.ch, p.gh, p.gw = ix, ch, train.H, train.W
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

// Predict implements methods.Detector: PredictEach's predictions, collected.
func (p *PatchCore) Predict(ctx context.Context, images methods.Images) ([]methods.Prediction, error) {
	return methods.CollectPredictions(ctx, images, p.PredictEach)
}

// PredictEach implements methods.Streamer: it extracts and scores FeatureBatch images at a time, so its
// memory is the bank plus one batch, whatever the number of images.
func (p *PatchCore) PredictEach(ctx context.Context, images methods.Images, fn func(int, methods.Prediction) error) error {
	if p.index == nil {
		return fmt.Errorf("patchcore: %w", methods.ErrNotFitted)
	}
	n, start := images.Len(), time.Now()
	for lo := 0; lo < n; lo += p.cfg.FeatureBatch {
		hi := min(lo+p.cfg.FeatureBatch, n)
		feats, err := p.ext.Extract(ctx, methods.Slice(images, lo, hi), p.ch)
		if err != nil {
			return fmt.Errorf("patchcore: %w", err)
		}
		preds, err := p.scoreFeatures(ctx, feats)
		if err != nil {
			return err
		}
		for j, pr := range preds {
			if err := fn(lo+j, pr); err != nil {
				return err
			}
		}
		methods.ReportProgress(ctx, methods.Event{Task: "patchcore: scoring", Done: hi, Total: n,
			Elapsed: time.Since(start), Finished: hi == n})
	}
	return nil
}

// PredictFeatures scores already extracted test features (from the same backbone and recipe).
func (p *PatchCore) PredictFeatures(ctx context.Context, test *features.Set) ([]methods.Prediction, error) {
	start := time.Now()
	out, err := p.scoreFeatures(ctx, test)
	if err == nil {
		methods.ReportProgress(ctx, methods.Event{Task: "patchcore: scoring", Done: test.N, Total: test.N,
			Elapsed: time.Since(start), Finished: true})
	}
	return out, err
}

func (p *PatchCore) scoreFeatures(ctx context.Context, test *features.Set) ([]methods.Prediction, error) {
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
	res, err := p.index.Search(ctx, test.Data, 1)
	if err != nil {
		return nil, err
	}
	per := test.PerImage()
	out := make([]methods.Prediction, test.N)
	for i := range out {
		patch := res.Dist[i*per : (i+1)*per]
		m := datasets.Image{H: test.H, W: test.W, C: 1, Pix: append([]float32(nil), patch...)}
		amap := anomalymap.ToInput(m, p.cfg.ImageSize, p.cfg.ImageSize, p.cfg.Sigma)
		var score float32
		switch p.cfg.ImageScore {
		case methods.ScoreMapMax:
			score = anomalymap.ScoreMax(amap)
		case methods.ScorePatchMax:
			score = slices.Max(patch)
		default:
			if score, err = p.imageScore(ctx, test, i, patch, res.Idx[i*per:(i+1)*per]); err != nil {
				return nil, err
			}
		}
		out[i] = methods.Prediction{Score: score, Map: amap}
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
	if p.index.Len() < 2 {
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
		Backbone: p.manifestBackbone(), BackboneArch: p.ext.Backbone().Arch(), WeightsSHA256: p.ext.Backbone().WeightsSHA256(),
		ImageH: p.cfg.ImageSize, ImageW: p.cfg.ImageSize, Channels: p.ch},
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
	bb := p.ext.Backbone()
	if err := methods.CheckBackbone(dir, m, bb.Arch(), bb.WeightsSHA256(), bb.Source()); err != nil {
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
	if m.ImageH != p.cfg.ImageSize || m.ImageW != p.cfg.ImageSize || m.Channels <= 0 {
		return nil, fmt.Errorf("%s: patchcore manifest's image size %dx%dx%d disagrees with its ImageSize %d", dir, m.ImageW, m.ImageH, m.Channels, p.cfg.ImageSize)
	}
	ix, err := knn.NewIndex(bank.Data, bank.Shape[1])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	p.index, p.ch = ix, m.Channels
	p.gh, p.gw = int(grid.Data[0]), int(grid.Data[1])
	p.FitStats = Stats{BankRows: ix.Len(), Dim: ix.Dim}
	return p, nil
}

// catalogueBuild and catalogueConfigure are the catalogue's Build and Configure of this method.
var catalogueBuild, catalogueConfigure = methods.Configurable(methods.StandardPresets("patchcore", Paper, CPU),
	func(c *Config) *methods.Settings { return &c.Settings },
	func(c Config) (methods.Detector, error) { return New(c) })

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
		Build:           catalogueBuild,
		Configure:       catalogueConfigure,
		Load:            func(dir string, _ methods.Manifest) (methods.Detector, error) { return Load(dir) },
	})
}
