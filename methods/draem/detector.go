package draem

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
	"github.com/gonomaly/gonomaly/datasets/anomalysynth"
	"github.com/gonomaly/gonomaly/datasets/synth"
	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/anomalymap"
	"github.com/gonomaly/gonomaly/methods/compute"
	"github.com/gonomaly/gonomaly/methods/internal/trainloop"
	"github.com/gonomaly/gonomaly/methods/nn"
)

// Name is the catalogue name.
const Name = "draem"

// formatVersion is the checkpoint format this package writes and reads.
const formatVersion = 1

// Detector is a DRAEM anomaly detector.
type Detector struct {
	cfg      Config
	vars     *mlctx.Context
	channels int
	fitted   bool
	// epochsDone counts finished epochs (for resuming).
	epochsDone int
	// History is the mean training loss of each epoch, for loss curves.
	History []float64
	infer   *mlctx.Exec
	loaded  bool
	// Synth makes the synthetic anomalies (default anomalysynth.DefaultPerlin: DRAEM's recipe with
	// procedural textures; set a DTD source for the paper's textures). Not part of the checkpoint.
	Synth anomalysynth.Perlin
}

// New builds an unfitted detector.
func New(cfg Config) (*Detector, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	d := &Detector{cfg: cfg, Synth: anomalysynth.DefaultPerlin()}
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

// Name is the catalogue name, "draem".
func (d *Detector) Name() string { return Name }

// Sample is one training sample: the normal image, the image with its synthetic anomaly and the
// anomaly's mask.
type Sample struct {
	Clean, Augmented, Mask datasets.Image
}

// MakeSample makes the synthetic training sample of image img for a seed (Synth's recipe: half the
// samples are left clean, with an empty mask).
func (d *Detector) MakeSample(img datasets.Image, seed uint64) (Sample, error) {
	r, err := d.Synth.Apply(img, seed)
	if err != nil {
		return Sample{}, err
	}
	return Sample{Clean: img, Augmented: r.Image, Mask: r.Mask}, nil
}

// sampleSeed is the seed of the synthetic anomaly of sample i of a step: a resumed run draws the same.
func (d *Detector) sampleSeed(epoch, step, i int) uint64 {
	return synth.NewRand(d.cfg.Seed, fmt.Sprintf("draem/%d/%d/%d", epoch, step, i)).Uint64()
}

// losses returns the total training loss and its parts (L2, 1 - SSIM, focal) of one batch.
func (d *Detector) losses(vctx *mlctx.Context, clean, augmented, mask *Node) (total, l2, ssim, focal *Node) {
	rb, db := d.cfg.widths()
	recon := reconstructive(vctx, augmented, rb)
	logits := discriminative(vctx, Concatenate([]*Node{recon, augmented}, 3), db)
	l2 = ReduceAllMean(Square(Sub(recon, clean)))
	ssim = OneMinus(ReduceAllMean(nn.SSIM(recon, clean, nn.DefaultSSIM())))
	focal = FocalLoss(logits, mask, d.cfg.FocalGamma)
	return Add(Add(l2, ssim), focal), l2, ssim, focal
}

// Fit trains both networks on normal images with synthetic anomalies, reporting progress; it resumes
// from CheckpointDir when that holds a checkpoint of the same recipe, and stops with ctx's error when
// ctx is cancelled.
func (d *Detector) Fit(ctx context.Context, train methods.Images) error {
	cfg := d.cfg
	imgs, c, err := trainloop.LoadImages(Name, cfg.Settings, train)
	if err != nil {
		return err
	}
	if d.channels != 0 && d.channels != c {
		d.reset()
		d.epochsDone, d.History = 0, nil
	}
	d.channels = c
	if d.resume() {
		methods.ReportProgress(ctx, methods.Event{Task: "draem: resumed from " + cfg.CheckpointDir, Done: d.epochsDone, Total: cfg.Epochs})
	}
	backend, err := compute.Backend()
	if err != nil {
		return err
	}
	exec, err := mlctx.NewExec(backend, d.vars, func(vctx *mlctx.Context, clean, augmented, mask, lrScale *Node) []*Node {
		vctx.SetTraining(clean.Graph(), true)
		total, l2, ssim, focal := d.losses(vctx, clean, augmented, mask)
		nn.AdamStep(vctx, total, nn.AdamConfig{LearningRate: cfg.LearningRate, Beta1: 0.9, Beta2: 0.999}, lrScale)
		return []*Node{total, l2, ssim, focal}
	})
	if err != nil {
		return err
	}
	n := len(imgs)
	batch := min(cfg.BatchSize, n)
	var order []int
	loop := trainloop.Loop{
		Task: "draem: training", Epochs: cfg.Epochs, Steps: n / batch, Seed: cfg.Seed,
		EpochStart: func(_ int, rng *rand.Rand) { order = rng.Perm(n) },
		Step: func(epoch, s int, _ *rand.Rand) (float64, map[string]float64, error) {
			clean := make([]datasets.Image, batch)
			aug := make([]datasets.Image, batch)
			masks := make([]datasets.Image, batch)
			for i, j := range order[s*batch : (s+1)*batch] {
				smp, err := d.MakeSample(imgs[j], d.sampleSeed(epoch, s, i))
				if err != nil {
					return 0, nil, fmt.Errorf("draem: %s: %w", methods.ImageName(train, j), err)
				}
				clean[i], aug[i], masks[i] = smp.Clean, smp.Augmented, smp.Mask
			}
			out, err := exec.Exec(trainloop.Batch(clean), trainloop.Batch(aug), trainloop.Batch(masks),
				tensors.FromScalar(float32(cfg.lrScale(epoch))))
			if err != nil {
				return 0, nil, fmt.Errorf("draem: training step: %w", err)
			}
			v := make([]float64, len(out))
			for k, t := range out {
				v[k] = float64(tensors.ToScalar[float32](t))
			}
			return v[0], map[string]float64{"l2": v[1], "ssim": v[2], "focal": v[3]}, nil
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

// Output is DRAEM's view of one image: the reconstruction, the anomalous-class probability per pixel
// (the anomaly map) and that map after the mean filter (whose maximum is the image score).
type Output struct {
	Reconstruction     datasets.Image
	Segmentation, Mean datasets.Image
}

// inferGraph returns reconstructions, segmentation maps [N,S,S] and mean-filtered maps.
func (d *Detector) inferGraph(vctx *mlctx.Context, x *Node) []*Node {
	rb, db := d.cfg.widths()
	recon := reconstructive(vctx, x, rb)
	seg := anomalousProbability(discriminative(vctx, Concatenate([]*Node{recon, x}, 3), db))
	k := d.cfg.filterSize()
	mean := Squeeze(nn.AvgPool2D(ExpandAxes(seg, -1), k, 1, k/2), -1)
	return []*Node{recon, seg, mean}
}

// EachOutput runs both networks on FeatureBatch images at a time and hands each image's output to fn.
func (d *Detector) EachOutput(ctx context.Context, images methods.Images, fn func(int, Output) error) error {
	if !d.fitted {
		return fmt.Errorf("draem: %w", methods.ErrNotFitted)
	}
	if d.infer == nil {
		backend, err := compute.Backend()
		if err != nil {
			return err
		}
		before := trainloop.CountVariables(d.vars)
		exec, err := mlctx.NewExec(backend, d.vars, d.inferGraph)
		if err != nil {
			return err
		}
		if _, err := exec.Exec(trainloop.Batch([]datasets.Image{datasets.NewImage(d.cfg.ImageSize, d.cfg.ImageSize, d.channels)})); err != nil {
			return fmt.Errorf("draem: inference: %w", err)
		}
		if d.loaded && trainloop.CountVariables(d.vars) != before {
			return fmt.Errorf("draem: the checkpoint lacks some of the networks' tensors")
		}
		d.infer = exec
	}
	return trainloop.EachBatch(ctx, "draem: predicting", d.cfg.Settings, d.channels, images, func(lo int, batch []datasets.Image) error {
		out, err := d.infer.Exec(trainloop.Batch(batch))
		if err != nil {
			return fmt.Errorf("draem: inference: %w", err)
		}
		parts := make([][]datasets.Image, len(out))
		for k, t := range out {
			parts[k] = trainloop.Unbatch(t)
			t.FinalizeAll()
		}
		for i := range batch {
			if err := fn(lo+i, Output{Reconstruction: parts[0][i], Segmentation: parts[1][i], Mean: parts[2][i]}); err != nil {
				return err
			}
		}
		return nil
	})
}

// Predict scores images: the map is the discriminative network's anomalous-class probability (the
// authors' pixel evaluation), the image score the maximum of that map after the mean filter. It
// collects PredictEach's predictions.
func (d *Detector) Predict(ctx context.Context, images methods.Images) ([]methods.Prediction, error) {
	return methods.CollectPredictions(ctx, images, d.PredictEach)
}

// PredictEach implements methods.Streamer.
func (d *Detector) PredictEach(ctx context.Context, images methods.Images, fn func(int, methods.Prediction) error) error {
	return d.EachOutput(ctx, images, func(i int, o Output) error {
		return fn(i, methods.Prediction{Score: anomalymap.ScoreMax(o.Mean), Map: o.Segmentation})
	})
}

// checkpointConfig is what the manifest records beside the configuration.
type checkpointConfig struct {
	Config
	Channels   int       `json:"channels"`
	EpochsDone int       `json:"epochs_done"`
	History    []float64 `json:"history"`
}

// Save writes the fitted detector (without optimiser state) to dir.
func (d *Detector) Save(dir string) error {
	if !d.fitted {
		return methods.ErrNotFitted
	}
	return d.save(dir, false)
}

func (d *Detector) save(dir string, withOptimizer bool) error {
	raw, err := json.Marshal(checkpointConfig{Config: d.cfg, Channels: d.channels, EpochsDone: d.epochsDone, History: d.History})
	if err != nil {
		return err
	}
	var skip []string
	if !withOptimizer {
		skip = append(skip, nn.AdamScope)
	}
	return methods.SaveCheckpoint(dir, methods.Manifest{Method: Name, FormatVersion: formatVersion, Config: raw,
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

// sameRecipe compares what changes training up to a given epoch. The epoch count stays: it places the
// schedule's milestones.
func sameRecipe(a, b Config) bool {
	a.CheckpointDir, b.CheckpointDir = "", ""
	a.CheckpointEvery, b.CheckpointEvery = 0, 0
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
		return nil, fmt.Errorf("%s: bad draem configuration: %v", dir, err)
	}
	if cc.Channels != 1 && cc.Channels != 3 {
		return nil, fmt.Errorf("%s: draem checkpoint for %d channels (want 1 or 3)", dir, cc.Channels)
	}
	if err := methods.CheckNoBackbone(dir, m); err != nil {
		return nil, err
	}
	d, err := New(cc.Config)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	if err := trainloop.Restore(dir, d.vars, ts); err != nil {
		return nil, err
	}
	d.channels, d.epochsDone, d.History, d.fitted, d.loaded = cc.Channels, cc.EpochsDone, cc.History, cc.EpochsDone > 0, true
	return d, nil
}
