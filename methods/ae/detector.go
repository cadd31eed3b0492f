package ae

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/anomalymap"
	"github.com/gonomaly/gonomaly/methods/backbone"
	"github.com/gonomaly/gonomaly/methods/compute"
	"github.com/gonomaly/gonomaly/methods/internal/trainloop"
	"github.com/gonomaly/gonomaly/methods/nn"
)

// Name is the catalogue name.
const Name = "ae"

// formatVersion is the checkpoint format this package writes and reads.
const formatVersion = 1

// backboneScope holds the frozen backbone's variables: rebuilt from the settings at load, never saved.
const backboneScope = "/backbone"

// featureTaps are the backbone scales of the "feature" map (strides 4 and 8).
var featureTaps = []string{"layer1", "layer2"}

// Detector is a convolutional autoencoder anomaly detector.
type Detector struct {
	cfg      Config
	backbone *backbone.Backbone
	vars     *mlctx.Context
	channels int
	fitted   bool
	// epochsDone counts finished epochs (for resuming).
	epochsDone int
	// History is the mean training loss of each epoch, for loss curves.
	History []float64
	infer   *mlctx.Exec
	loaded  bool
}

// New builds an unfitted detector. The backbone of the feature map is loaded now, so a bad weights
// path fails early.
func New(cfg Config) (*Detector, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	bb, err := backbone.FromSettings(cfg.Settings)
	if err != nil {
		return nil, fmt.Errorf("ae: backbone: %w", err)
	}
	d := &Detector{cfg: cfg, backbone: bb}
	d.reset()
	return d, nil
}

func (d *Detector) reset() {
	d.vars = mlctx.New().Checked(false)
	d.vars.SetRNGStateFromSeed(int64(d.cfg.Seed))
}

// Config returns the detector's configuration.
func (d *Detector) Config() Config { return d.cfg }

// Settings implements methods.Configured.
func (d *Detector) Settings() methods.Settings { return d.cfg.Settings }

// Name is the catalogue name, "ae".
func (d *Detector) Name() string { return Name }

// SetScore changes the anomaly map Predict returns (the network is the same for all three).
func (d *Detector) SetScore(s Score) error {
	c := d.cfg
	c.Score = s
	if err := c.validate(); err != nil {
		return err
	}
	d.cfg = c
	return nil
}

// Fit trains the autoencoder on normal images, reporting progress; it resumes from CheckpointDir when
// that holds a checkpoint of the same recipe, and stops with ctx's error when ctx is cancelled.
func (d *Detector) Fit(ctx context.Context, train methods.Images) error {
	cfg := d.cfg
	imgs, c, err := trainloop.LoadImages(Name, cfg.Settings, train)
	if err != nil {
		return err
	}
	if cfg.Score == ScoreFeature && c != 3 {
		return fmt.Errorf("ae: the feature map needs RGB images; %s has %d channels", methods.ImageName(train, 0), c)
	}
	if d.channels != 0 && d.channels != c {
		d.reset()
		d.epochsDone, d.History = 0, nil
	}
	d.channels = c
	if d.resume() {
		methods.ReportProgress(ctx, methods.Event{Task: "ae: resumed from " + cfg.CheckpointDir, Done: d.epochsDone, Total: cfg.Epochs})
	}
	backend, err := compute.Backend()
	if err != nil {
		return err
	}
	exec, err := mlctx.NewExec(backend, d.vars, func(vctx *mlctx.Context, x *Node) []*Node {
		vctx.SetTraining(x.Graph(), true)
		recon, entropy := reconstruct(vctx.In("ae"), x, cfg)
		rec := reconstructionLoss(x, recon, cfg.Loss)
		loss := rec
		if entropy != nil {
			loss = Add(loss, MulScalar(entropy, cfg.EntropyWeight))
		} else {
			entropy = ScalarZero(x.Graph(), x.DType())
		}
		nn.AdamStep(vctx, loss, nn.AdamConfig{LearningRate: cfg.LearningRate, Beta1: 0.9, Beta2: 0.999}, nil)
		return []*Node{loss, rec, entropy}
	})
	if err != nil {
		return err
	}
	n := len(imgs)
	batch := min(cfg.BatchSize, n)
	var order []int
	loop := trainloop.Loop{
		Task: "ae: training", Epochs: cfg.Epochs, Steps: n / batch, Seed: cfg.Seed,
		EpochStart: func(_ int, rng *rand.Rand) { order = rng.Perm(n) },
		Step: func(_, s int, _ *rand.Rand) (float64, map[string]float64, error) {
			sel := make([]datasets.Image, batch)
			for i, j := range order[s*batch : (s+1)*batch] {
				sel[i] = imgs[j]
			}
			out, err := exec.Exec(trainloop.Batch(sel))
			if err != nil {
				return 0, nil, fmt.Errorf("ae: training step: %w", err)
			}
			loss := float64(tensors.ToScalar[float32](out[0]))
			m := map[string]float64{"reconstruction": float64(tensors.ToScalar[float32](out[1]))}
			if cfg.Memory {
				m["entropy"] = float64(tensors.ToScalar[float32](out[2]))
			}
			return loss, m, nil
		},
		CheckpointEvery: cfg.CheckpointEvery, EpochsDone: &d.epochsDone, History: &d.History,
	}
	if cfg.CheckpointDir != "" {
		loop.Checkpoint = func() error { return d.save(cfg.CheckpointDir, true) }
	}
	d.infer = nil
	err = loop.Run(ctx)
	d.fitted = d.epochsDone > 0
	return err
}

// Maps is the autoencoder's view of one image: its reconstruction and the three anomaly maps (at the
// input resolution, before smoothing).
type Maps struct {
	Reconstruction    datasets.Image
	L2, SSIM, Feature datasets.Image
}

// inferGraph returns the reconstructions and the three raw maps [N,S,S] of a batch of images.
func (d *Detector) inferGraph(vctx *mlctx.Context, x *Node) []*Node {
	cfg := d.cfg
	recon, _ := reconstruct(vctx.In("ae"), x, cfg)
	l2 := ReduceMean(Square(Sub(recon, x)), -1)
	ssim := OneMinus(nn.SSIMMap(recon, x, nn.DefaultSSIM()))
	size := cfg.ImageSize
	feat := ZerosLike(l2)
	if x.Shape().Dimensions[3] == 3 {
		bctx := vctx.InAbsPath(backboneScope)
		fx := d.backbone.Forward(bctx, x, featureTaps...)
		fr := d.backbone.Forward(bctx, recon, featureTaps...)
		for i := range fx {
			dist := ReduceAndKeep(Square(Sub(fx[i], fr[i])), ReduceMean, -1) // [N,h,w,1]
			up := nn.UpsampleBilinear(dist, size, size, false)
			feat = Add(feat, Squeeze(up, -1))
		}
	}
	return []*Node{recon, l2, ssim, feat}
}

// EachMaps computes the reconstruction and maps of FeatureBatch images at a time and hands them to fn.
func (d *Detector) EachMaps(ctx context.Context, images methods.Images, fn func(int, Maps) error) error {
	if !d.fitted {
		return fmt.Errorf("ae: %w", methods.ErrNotFitted)
	}
	if d.infer == nil {
		backend, err := compute.Backend()
		if err != nil {
			return err
		}
		before := trainloop.CountVariables(d.vars, backboneScope)
		exec, err := mlctx.NewExec(backend, d.vars, d.inferGraph)
		if err != nil {
			return err
		}
		// Compile now, on a dummy batch, to catch a checkpoint that lacks a tensor.
		if _, err := exec.Exec(trainloop.Batch([]datasets.Image{datasets.NewImage(d.cfg.ImageSize, d.cfg.ImageSize, d.channels)})); err != nil {
			return fmt.Errorf("ae: inference: %w", err)
		}
		if d.loaded && trainloop.CountVariables(d.vars, backboneScope) != before {
			return fmt.Errorf("ae: the checkpoint lacks some of the network's tensors")
		}
		d.infer = exec
	}
	return trainloop.EachBatch(ctx, "ae: predicting", d.cfg.Settings, d.channels, images, func(lo int, batch []datasets.Image) error {
		out, err := d.infer.Exec(trainloop.Batch(batch))
		if err != nil {
			return fmt.Errorf("ae: inference: %w", err)
		}
		parts := make([][]datasets.Image, len(out))
		for k, t := range out {
			parts[k] = trainloop.Unbatch(t)
			t.FinalizeAll()
		}
		for i := range batch {
			if err := fn(lo+i, Maps{Reconstruction: parts[0][i], L2: parts[1][i], SSIM: parts[2][i], Feature: parts[3][i]}); err != nil {
				return err
			}
		}
		return nil
	})
}

// Predict scores images with the map Config.Score names, smoothed with a Gaussian of Config.Sigma; the
// image score is the map's maximum. It collects PredictEach's predictions.
func (d *Detector) Predict(ctx context.Context, images methods.Images) ([]methods.Prediction, error) {
	return methods.CollectPredictions(ctx, images, d.PredictEach)
}

// PredictEach implements methods.Streamer.
func (d *Detector) PredictEach(ctx context.Context, images methods.Images, fn func(int, methods.Prediction) error) error {
	return d.EachMaps(ctx, images, func(i int, m Maps) error {
		amap := d.ScoreMap(m)
		return fn(i, methods.Prediction{Score: anomalymap.ScoreMax(amap), Map: amap})
	})
}

// ScoreMap returns the anomaly map Config.Score selects from m, smoothed with Config.Sigma.
func (d *Detector) ScoreMap(m Maps) datasets.Image {
	raw := m.SSIM
	switch d.cfg.Score {
	case ScoreL2:
		raw = m.L2
	case ScoreFeature:
		raw = m.Feature
	}
	if d.cfg.Sigma > 0 {
		return anomalymap.GaussianBlur(raw, d.cfg.Sigma)
	}
	return datasets.Image{H: raw.H, W: raw.W, C: 1, Pix: append([]float32(nil), raw.Pix...)}
}

// checkpointConfig is what the manifest records beside the configuration.
type checkpointConfig struct {
	Config
	Channels   int       `json:"channels"`
	EpochsDone int       `json:"epochs_done"`
	History    []float64 `json:"history"`
	Backbone   string    `json:"backbone_source"`
}

// Save writes the fitted detector (without optimiser state) to dir.
func (d *Detector) Save(dir string) error {
	if !d.fitted {
		return methods.ErrNotFitted
	}
	return d.save(dir, false)
}

func (d *Detector) save(dir string, withOptimizer bool) error {
	raw, err := json.Marshal(checkpointConfig{Config: d.cfg, Channels: d.channels, EpochsDone: d.epochsDone, History: d.History, Backbone: d.backbone.Source()})
	if err != nil {
		return err
	}
	skip := []string{backboneScope}
	if !withOptimizer {
		skip = append(skip, nn.AdamScope)
	}
	return methods.SaveCheckpoint(dir, methods.Manifest{Method: Name, FormatVersion: formatVersion, Config: raw,
		Backbone: d.backbone.String(), BackboneArch: d.backbone.Arch(), WeightsSHA256: d.backbone.WeightsSHA256(),
		ImageH: d.cfg.ImageSize, ImageW: d.cfg.ImageSize, Channels: d.channels}, trainloop.Tensors(d.vars, skip...))
}

// resume loads a training checkpoint of the same recipe from CheckpointDir, if there is one.
func (d *Detector) resume() bool {
	if d.cfg.CheckpointDir == "" || d.epochsDone > 0 {
		return false
	}
	if _, err := os.Stat(filepath.Join(d.cfg.CheckpointDir, methods.ManifestFile)); err != nil {
		return false
	}
	other, err := load(d.cfg.CheckpointDir)
	if err != nil || !sameRecipe(other.cfg, d.cfg) || other.channels != d.channels {
		return false
	}
	d.vars, d.epochsDone, d.History = other.vars, other.epochsDone, other.History
	return true
}

// sameRecipe compares what changes the trained network (not the schedule's length, the map or the
// checkpointing).
func sameRecipe(a, b Config) bool {
	for _, c := range []*Config{&a, &b} {
		c.CheckpointDir, c.CheckpointEvery, c.Epochs, c.Score, c.Sigma = "", 0, 0, "", 0
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// load reads a checkpoint written by save.
func load(dir string) (*Detector, error) {
	m, ts, err := methods.ReadCheckpoint(dir, Name, formatVersion)
	if err != nil {
		return nil, err
	}
	var cc checkpointConfig
	if err := json.Unmarshal(m.Config, &cc); err != nil {
		return nil, fmt.Errorf("%s: bad ae configuration: %v", dir, err)
	}
	if cc.Channels != 1 && cc.Channels != 3 {
		return nil, fmt.Errorf("%s: ae checkpoint for %d channels (want 1 or 3)", dir, cc.Channels)
	}
	d, err := New(cc.Config)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	if err := methods.CheckBackbone(dir, m, d.backbone.Arch(), d.backbone.WeightsSHA256(), d.backbone.Source()); err != nil {
		return nil, err
	}
	if err := trainloop.Restore(dir, d.vars, ts); err != nil {
		return nil, err
	}
	d.channels, d.epochsDone, d.History, d.fitted, d.loaded = cc.Channels, cc.EpochsDone, cc.History, cc.EpochsDone > 0, true
	return d, nil
}
