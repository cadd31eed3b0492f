package rd

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/anomalymap"
	"github.com/gonomaly/gonomaly/methods/backbone"
	"github.com/gonomaly/gonomaly/methods/compute"
	"github.com/gonomaly/gonomaly/methods/safetensors"
)

// formatVersion is the checkpoint format this package writes and reads.
// Version 2: the shared methods.Settings (a separate BackboneSeed for the teacher).
const formatVersion = 2

// Detector is a Reverse Distillation (or RD++) anomaly detector.
type Detector struct {
	cfg     Config
	teacher *backbone.Backbone
	vars    *mlctx.Context
	fitted  bool
	// epochsDone counts finished epochs (for resuming).
	epochsDone int
	// History is the mean training loss of each epoch, for loss curves.
	History []float64
	infer   *mlctx.Exec
	// loaded is true for a detector read from a checkpoint: its graph must not invent variables.
	loaded bool
}

// New builds an unfitted detector. The teacher is loaded now, so a bad weights path fails early.
func New(cfg Config) (*Detector, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	teacher, err := backbone.FromSettings(cfg.Settings)
	if err != nil {
		return nil, fmt.Errorf("rd: teacher: %w", err)
	}
	return &Detector{cfg: cfg, teacher: teacher, vars: mlctx.New().Checked(false)}, nil
}

// Config returns the detector's configuration.
func (d *Detector) Config() Config { return d.cfg }

// Settings implements methods.Configured.
func (d *Detector) Settings() methods.Settings { return d.cfg.Settings }

// Name is the catalogue name: "rd" or "rdpp".
func (d *Detector) Name() string { return string(d.cfg.Variant) }

// Teacher returns the frozen teacher backbone (for notebooks that show its feature maps).
func (d *Detector) Teacher() *backbone.Backbone { return d.teacher }

// features holds teacher maps of a set of images, one flat NHWC slice per tap.
type features struct {
	n    int
	dims [][3]int // per tap: h, w, c
	data [][]float32
}

func (d *Detector) extract(ctx context.Context, images methods.Images) (*features, error) {
	ts, err := d.teacher.Extract(ctx, images, d.cfg.FeatureBatch, teacherTaps...)
	if err != nil {
		return nil, err
	}
	f := &features{n: images.Len()}
	for _, t := range ts {
		dims := t.Shape().Dimensions
		f.dims = append(f.dims, [3]int{dims[1], dims[2], dims[3]})
		f.data = append(f.data, tensors.MustCopyFlatData[float32](t))
	}
	return f, nil
}

// batch gathers images idx of every tap into tensors [len(idx), h, w, c].
func (f *features) batch(idx []int) []*tensors.Tensor {
	out := make([]*tensors.Tensor, len(f.data))
	for s, all := range f.data {
		h, w, c := f.dims[s][0], f.dims[s][1], f.dims[s][2]
		per := h * w * c
		buf := make([]float32, len(idx)*per)
		for i, j := range idx {
			copy(buf[i*per:(i+1)*per], all[j*per:(j+1)*per])
		}
		out[s] = tensors.FromFlatDataAndDimensions(buf, len(idx), h, w, c)
	}
	return out
}

// Fit trains the bottleneck and decoder (and RD++'s projection) on normal images.
func (d *Detector) Fit(ctx context.Context, train methods.Images) error {
	cfg := d.cfg
	n := train.Len()
	if n == 0 {
		return fmt.Errorf("rd: no training images")
	}
	imgs := make(methods.ImageList, n)
	for i := range imgs {
		im, err := train.Image(i)
		if err != nil {
			return fmt.Errorf("%s: training: %w", d.Name(), err)
		}
		if err := cfg.CheckInput(train, i, im, 0); err != nil {
			return fmt.Errorf("%s: training: %w", d.Name(), err)
		}
		imgs[i] = im
	}
	if d.resume() {
		methods.ReportProgress(ctx, methods.Event{Task: d.Name() + ": resumed from " + cfg.CheckpointDir, Done: d.epochsDone, Total: cfg.Epochs})
	}
	teach, err := d.extract(ctx, imgs)
	if err != nil {
		return err
	}
	backend, err := compute.Backend()
	if err != nil {
		return err
	}
	batch := min(cfg.BatchSize, n)
	stepsPerEpoch := n / batch // a fixed batch shape compiles once; the remainder is reshuffled in
	trainExec, err := mlctx.NewExec(backend, d.vars, func(vctx *mlctx.Context, inputs []*Node) []*Node {
		return d.trainGraph(vctx, inputs)
	})
	if err != nil {
		return err
	}
	start := time.Now()
	totalSteps := cfg.Epochs * stepsPerEpoch
	sinceCheckpoint := 0
	for epoch := d.epochsDone; epoch < cfg.Epochs; epoch++ {
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(epoch)+1))
		order := rng.Perm(n)
		var sum float64
		for s := 0; s < stepsPerEpoch; s++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			idx := order[s*batch : (s+1)*batch]
			inputs := teach.batch(idx)
			if cfg.Variant == RDPlusPlus {
				noisy, err := d.noisyFeatures(ctx, imgs, idx, rng)
				if err != nil {
					return err
				}
				perm := make([]int32, batch)
				for i, p := range rng.Perm(batch) {
					perm[i] = int32(p)
				}
				inputs = append(inputs, noisy...)
				inputs = append(inputs, tensors.FromValue(perm))
			}
			args := make([]any, len(inputs))
			for i, t := range inputs {
				args[i] = t
			}
			out, err := trainExec.Exec(args...)
			if err != nil {
				return fmt.Errorf("rd: training step: %w", err)
			}
			loss := float64(tensors.ToScalar[float32](out[0]))
			sum += loss
			done := epoch*stepsPerEpoch + s + 1
			metrics := map[string]float64{"loss": loss, "epoch": float64(epoch + 1)}
			if el := time.Since(start).Seconds(); el > 0 {
				metrics["step/s"] = float64(done-d.epochsDone*stepsPerEpoch) / el
			}
			methods.ReportProgress(ctx, methods.Event{Task: d.Name() + ": training", Done: done, Total: totalSteps,
				Metrics: metrics, Elapsed: time.Since(start)})
			sinceCheckpoint++
		}
		d.History = append(d.History, sum/float64(stepsPerEpoch))
		d.epochsDone = epoch + 1
		d.fitted = true
		d.infer = nil
		if cfg.CheckpointDir != "" && (sinceCheckpoint >= max(cfg.CheckpointEvery, 1) || d.epochsDone == cfg.Epochs) {
			if err := d.save(cfg.CheckpointDir, true); err != nil {
				return err
			}
			sinceCheckpoint = 0
		}
	}
	methods.ReportProgress(ctx, methods.Event{Task: d.Name() + ": training", Done: totalSteps, Total: totalSteps,
		Finished: true, Elapsed: time.Since(start)})
	d.fitted = true
	return nil
}

// trainGraph builds one optimisation step and returns the loss (and RD++'s two parts).
func (d *Detector) trainGraph(vctx *mlctx.Context, inputs []*Node) []*Node {
	cfg := d.cfg
	b := &net{ctx: vctx, rng: rand.New(rand.NewPCG(cfg.Seed, 7)), training: true}
	teacher := inputs[:3]
	if cfg.Variant == RD {
		student := b.decoder(b.bottleneck(teacher, cfg), cfg)
		loss := distillationLoss(teacher, student)
		adamStep(vctx, loss, cfg, []paramGroup{{prefix: "/", lr: cfg.LearningRate}})
		return []*Node{loss}
	}
	noisy, perm := inputs[3:6], inputs[6]
	proj := b.projection(teacher)
	projNoisy := b.projection(noisy)
	lProj := projectionLoss(noisy, projNoisy, proj, perm, cfg.SinkhornIters)
	student := b.decoder(b.bottleneck(proj, cfg), cfg)
	lDistill := distillationLoss(teacher, student)
	loss := Add(lDistill, MulScalar(lProj, cfg.ProjWeight))
	adamStep(vctx, loss, cfg, []paramGroup{{prefix: "/proj", lr: cfg.ProjLearningRate}, {prefix: "/", lr: cfg.LearningRate}})
	return []*Node{loss, lDistill, lProj}
}

// noisyFeatures makes RD++'s pseudo-anomalies for the batch and runs the teacher on them.
func (d *Detector) noisyFeatures(ctx context.Context, imgs methods.ImageList, idx []int, rng *rand.Rand) ([]*tensors.Tensor, error) {
	noisy := make(methods.ImageList, len(idx))
	for i, j := range idx {
		noisy[i] = addNoisePatch(imgs[j], rng)
	}
	f, err := d.extract(ctx, noisy)
	if err != nil {
		return nil, err
	}
	all := make([]int, len(idx))
	for i := range all {
		all[i] = i
	}
	return f.batch(all), nil
}

// inferGraph maps teacher features to the three per-scale anomaly maps [N, h, w].
func (d *Detector) inferGraph(vctx *mlctx.Context, inputs []*Node) []*Node {
	b := &net{ctx: vctx, rng: rand.New(rand.NewPCG(d.cfg.Seed, 7)), training: false, strict: d.loaded}
	teacher := inputs[:3]
	code := teacher
	if d.cfg.Variant == RDPlusPlus {
		code = b.projection(teacher)
	}
	return anomalyMaps(teacher, b.decoder(b.bottleneck(code, d.cfg), d.cfg))
}

// ScaleMaps returns, for every image, the student's disagreement with the teacher at each of the three
// scales (strides 4, 8, 16): 1 - cosine similarity along channels, at the scale's own resolution.
func (d *Detector) ScaleMaps(ctx context.Context, images methods.Images) ([][3]datasets.Image, error) {
	out := make([][3]datasets.Image, images.Len())
	err := d.eachScaleMaps(ctx, images, func(i int, per [3]datasets.Image) error {
		out[i] = per
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// eachScaleMaps computes the scale maps of FeatureBatch images at a time and hands them to fn in order.
func (d *Detector) eachScaleMaps(ctx context.Context, images methods.Images, fn func(int, [3]datasets.Image) error) error {
	if !d.fitted {
		return fmt.Errorf("%s: %w", d.Name(), methods.ErrNotFitted)
	}
	if d.infer == nil {
		backend, err := compute.Backend()
		if err != nil {
			return err
		}
		d.infer, err = mlctx.NewExec(backend, d.vars, func(vctx *mlctx.Context, inputs []*Node) []*Node {
			return d.inferGraph(vctx, inputs)
		})
		if err != nil {
			return err
		}
	}
	n, batch := images.Len(), d.cfg.FeatureBatch
	checked := d.cfg.Checked(images, 0)
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		f, err := d.extract(ctx, methods.Slice(checked, lo, hi))
		if err != nil {
			return fmt.Errorf("%s: %w", d.Name(), err)
		}
		all := make([]int, hi-lo)
		for i := range all {
			all[i] = i
		}
		in := f.batch(all)
		maps, err := d.infer.Exec(in[0], in[1], in[2])
		if err != nil {
			return fmt.Errorf("%s: inference: %w", d.Name(), err)
		}
		flat := make([][]float32, len(maps))
		for s, m := range maps {
			flat[s] = tensors.MustCopyFlatData[float32](m)
		}
		for i := range all {
			var per [3]datasets.Image
			for s, m := range maps {
				dims := m.Shape().Dimensions
				h, w := dims[1], dims[2]
				per[s] = datasets.Image{H: h, W: w, C: 1, Pix: flat[s][i*h*w : (i+1)*h*w]}
			}
			if err := fn(lo+i, per); err != nil {
				return err
			}
		}
		for _, m := range maps {
			m.FinalizeAll()
		}
		methods.ReportProgress(ctx, methods.Event{Task: d.Name() + ": predicting", Done: hi, Total: n, Finished: hi == n})
	}
	return nil
}

// Predict scores images: per scale 1 - cosine between teacher and student features (ScaleMaps),
// upsampled to the input (bilinear, align_corners=true as the official code), summed, smoothed with a
// Gaussian of Config.Sigma; the image score is the map's maximum. It collects PredictEach's predictions.
func (d *Detector) Predict(ctx context.Context, images methods.Images) ([]methods.Prediction, error) {
	return methods.CollectPredictions(ctx, images, d.PredictEach)
}

// PredictEach implements methods.Streamer: Predict's predictions, FeatureBatch images at a time, so that
// memory is bounded by the batch and not by the number of images.
func (d *Detector) PredictEach(ctx context.Context, images methods.Images, fn func(int, methods.Prediction) error) error {
	size := d.cfg.ImageSize
	return d.eachScaleMaps(ctx, images, func(i int, per [3]datasets.Image) error {
		total := datasets.NewImage(size, size, 1)
		for _, small := range per {
			up := anomalymap.UpsampleAlignCorners(small, size, size)
			for p, v := range up.Pix {
				total.Pix[p] += v
			}
		}
		amap := anomalymap.GaussianBlur(total, d.cfg.Sigma)
		return fn(i, methods.Prediction{Score: anomalymap.ScoreMax(amap), Map: amap})
	})
}

// checkpointConfig is what the manifest records beside the configuration.
type checkpointConfig struct {
	Config
	EpochsDone int       `json:"epochs_done"`
	History    []float64 `json:"history"`
	Teacher    string    `json:"teacher"`
}

// Save writes the fitted detector (without optimiser state) to dir.
func (d *Detector) Save(dir string) error {
	if !d.fitted {
		return methods.ErrNotFitted
	}
	return d.save(dir, false)
}

func (d *Detector) save(dir string, withOptimizer bool) error {
	cc := checkpointConfig{Config: d.cfg, EpochsDone: d.epochsDone, History: d.History, Teacher: d.teacher.Source()}
	raw, err := json.Marshal(cc)
	if err != nil {
		return err
	}
	ts := map[string]safetensors.Tensor{}
	for v := range d.vars.IterVariables() {
		name := v.ScopeAndName()
		if !withOptimizer && strings.HasPrefix(name, "/adam") {
			continue
		}
		t := v.MustValue()
		ts[name] = safetensors.Tensor{DType: "F32", Shape: t.Shape().Dimensions, Data: tensors.MustCopyFlatData[float32](t)}
	}
	return methods.SaveCheckpoint(dir, methods.Manifest{Method: d.Name(), FormatVersion: formatVersion, Config: raw,
		Backbone: d.teacher.String(), BackboneArch: d.teacher.Arch(), WeightsSHA256: d.teacher.WeightsSHA256(),
		ImageH: d.cfg.ImageSize, ImageW: d.cfg.ImageSize, Channels: 3}, ts)
}

// resume loads a training checkpoint of the same configuration from CheckpointDir, if there is one.
func (d *Detector) resume() bool {
	if d.cfg.CheckpointDir == "" || d.epochsDone > 0 {
		return false
	}
	if _, err := os.Stat(filepath.Join(d.cfg.CheckpointDir, methods.ManifestFile)); err != nil {
		return false
	}
	other, err := load(d.cfg.CheckpointDir, d.Name())
	if err != nil || !sameRecipe(other.cfg, d.cfg) {
		return false
	}
	d.vars, d.epochsDone, d.History, d.fitted = other.vars, other.epochsDone, other.History, other.epochsDone > 0
	return true
}

func sameRecipe(a, b Config) bool {
	a.CheckpointDir, b.CheckpointDir = "", ""
	a.CheckpointEvery, b.CheckpointEvery = 0, 0
	a.Epochs, b.Epochs = 0, 0
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// load reads a checkpoint written by save.
func load(dir, method string) (*Detector, error) {
	m, ts, err := methods.ReadCheckpoint(dir, method, formatVersion)
	if err != nil {
		return nil, err
	}
	var cc checkpointConfig
	if err := json.Unmarshal(m.Config, &cc); err != nil {
		return nil, fmt.Errorf("%s: bad %s configuration: %v", dir, method, err)
	}
	if err := cc.Config.withDefaults().validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	d, err := New(cc.Config)
	if err != nil {
		return nil, err
	}
	if err := methods.CheckBackbone(dir, m, d.teacher.Arch(), d.teacher.WeightsSHA256(), d.teacher.Source()); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(ts))
	for name := range ts {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t := ts[name]
		scope, vname := mlctx.SplitScope(name)
		if scope == "" || vname == "" {
			return nil, fmt.Errorf("%s: bad tensor name %q", dir, name)
		}
		d.vars.InAbsPath(scope).VariableWithValue(vname, tensors.FromFlatDataAndDimensions(t.Data, t.Shape...))
	}
	d.epochsDone, d.History, d.fitted, d.loaded = cc.EpochsDone, cc.History, true, true
	return d, nil
}
