package cflow

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/anomalymap"
	"github.com/gonomaly/gonomaly/methods/backbone"
	"github.com/gonomaly/gonomaly/methods/compute"
	"github.com/gonomaly/gonomaly/methods/safetensors"
)

// formatVersion is the checkpoint format this package writes and reads.
const formatVersion = 1

// Detector is a CFLOW-AD anomaly detector.
type Detector struct {
	cfg     Config
	encoder *backbone.Backbone
	vars    *mlctx.Context
	fitted  bool
	// epochsDone counts finished meta epochs (for resuming).
	epochsDone int
	// History is the mean training loss of each meta epoch (over all taps' steps), for loss curves.
	History []float64
	// MaxLogLikelihood is, per tap, the largest per-dimension log-likelihood of a training fiber: the
	// normaliser of the probability maps (see the package doc).
	MaxLogLikelihood []float64
	infer            []*mlctx.Exec
}

// New builds an unfitted detector. The encoder is built now, so a bad weights path fails early.
func New(cfg Config) (*Detector, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	enc, err := backbone.New(cfg.Backbone, backbone.Options{Weights: cfg.Weights, Seed: cfg.BackboneSeed, WidthDiv: cfg.WidthDiv})
	if err != nil {
		return nil, fmt.Errorf("cflow: encoder: %w", err)
	}
	for _, t := range cfg.Taps {
		if enc.OutputSize(t, cfg.ImageSize) < 1 {
			return nil, fmt.Errorf("cflow: ImageSize %d is too small for tap %s of %s", cfg.ImageSize, t, cfg.Backbone)
		}
	}
	// The decoders' initial weights come from the context's random state: seed it, so that a fit is
	// reproducible from the configuration alone.
	vars := mlctx.New().Checked(false)
	if err := vars.SetRNGStateFromSeed(int64(cfg.Seed)); err != nil {
		return nil, fmt.Errorf("cflow: %w", err)
	}
	return &Detector{cfg: cfg, encoder: enc, vars: vars}, nil
}

// Config returns the detector's configuration (defaults applied).
func (d *Detector) Config() Config { return d.cfg }

// Settings implements methods.Configured.
func (d *Detector) Settings() methods.Settings { return d.cfg.Settings }

// Name is the catalogue name, "cflow".
func (d *Detector) Name() string { return Name }

// Encoder returns the frozen encoder (for notebooks that show its feature maps).
func (d *Detector) Encoder() *backbone.Backbone { return d.encoder }

// tapFeatures holds one tap's encoder features of a set of images, NHWC.
type tapFeatures struct {
	n, h, w, c int
	data       []float32
	pos        []float32 // positional encoding [h·w·P]
}

// extract runs the encoder on images and returns every tap's features.
func (d *Detector) extract(ctx context.Context, images methods.Images) ([]tapFeatures, error) {
	ts, err := d.encoder.Extract(ctx, images, d.cfg.FeatureBatch, d.cfg.Taps...)
	if err != nil {
		return nil, fmt.Errorf("cflow: %w", err)
	}
	out := make([]tapFeatures, len(ts))
	for i, t := range ts {
		dims := t.Shape().Dimensions
		pos := PositionalEncoding(d.cfg.ConditionDims, dims[1], dims[2])
		if d.cfg.Unconditional {
			clear(pos)
		}
		out[i] = tapFeatures{n: dims[0], h: dims[1], w: dims[2], c: dims[3], data: tensors.MustCopyFlatData[float32](t), pos: pos}
		t.FinalizeAll()
	}
	return out, nil
}

// gather returns the fibers idx (flat positions image·h·w + y·w + x) as tensors [len(idx), C] and their
// conditions [len(idx), P].
func (f *tapFeatures) gather(idx []int, p int) (*tensors.Tensor, *tensors.Tensor) {
	fib := make([]float32, len(idx)*f.c)
	cond := make([]float32, len(idx)*p)
	hw := f.h * f.w
	for i, j := range idx {
		copy(fib[i*f.c:(i+1)*f.c], f.data[j*f.c:(j+1)*f.c])
		pos := j % hw
		copy(cond[i*p:(i+1)*p], f.pos[pos*p:(pos+1)*p])
	}
	return tensors.FromFlatDataAndDimensions(fib, len(idx), f.c), tensors.FromFlatDataAndDimensions(cond, len(idx), p)
}

// passOrder returns the fibers of one pass over a tap, shuffled: all positions of every image, or at
// most FibersPerImage random positions per image.
func (d *Detector) passOrder(f *tapFeatures, rng *rand.Rand) []int {
	hw := f.h * f.w
	var idx []int
	for img := 0; img < f.n; img++ {
		if d.cfg.FibersPerImage > 0 && d.cfg.FibersPerImage < hw {
			for _, p := range rng.Perm(hw)[:d.cfg.FibersPerImage] {
				idx = append(idx, img*hw+p)
			}
			continue
		}
		for p := 0; p < hw; p++ {
			idx = append(idx, img*hw+p)
		}
	}
	rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
	return idx
}

// passLen returns the number of fibers in one pass over tap f.
func (d *Detector) passLen(f *tapFeatures) int {
	per := f.h * f.w
	if d.cfg.FibersPerImage > 0 {
		per = min(per, d.cfg.FibersPerImage)
	}
	return f.n * per
}

// Fit trains one conditional flow per tap on the fibers of normal images, then records each
// tap's largest training log-likelihood. It reports progress, stops with ctx.Err() when ctx is
// cancelled, checkpoints after meta epochs when CheckpointDir is set, and resumes from it.
func (d *Detector) Fit(ctx context.Context, train methods.Images) error {
	cfg := d.cfg
	if train == nil || train.Len() == 0 {
		return fmt.Errorf("cflow: no training images")
	}
	if d.resume() {
		methods.ReportProgress(ctx, methods.Event{Task: Name + ": resumed from " + cfg.CheckpointDir, Done: d.epochsDone, Total: cfg.MetaEpochs})
	}
	feats, err := d.extract(ctx, cfg.Checked(train, 0))
	if err != nil {
		return err
	}
	backend, err := compute.Backend()
	if err != nil {
		return err
	}
	opt := optimizers.Adam().LearningRate(cfg.LearningRate).Done()
	lrVar := optimizers.LearningRateVar(d.vars, dtypes.Float32, cfg.LearningRate)
	steps := make([]int, len(feats))
	batches := make([]int, len(feats))
	execs := make([]*mlctx.Exec, len(feats))
	stepsPerMeta := 0
	for t := range feats {
		total := d.passLen(&feats[t])
		batches[t] = min(cfg.FiberBatch, total)
		steps[t] = total / batches[t]
		stepsPerMeta += cfg.SubEpochs * steps[t]
		tap := t
		execs[t], err = mlctx.NewExec(backend, d.vars, func(vctx *mlctx.Context, fibers, cond *graph.Node) *graph.Node {
			g := fibers.Graph()
			vctx.SetTraining(g, true)
			loss := trainingLoss(cfg.logLikelihood(vctx, tap, fibers, cond))
			opt.UpdateGraph(vctx, g, loss)
			return loss
		})
		if err != nil {
			return err
		}
	}
	totalSteps := cfg.MetaEpochs * stepsPerMeta
	start := time.Now()
	for epoch := d.epochsDone; epoch < cfg.MetaEpochs; epoch++ {
		var sum float64
		step := 0
		for sub := 0; sub < cfg.SubEpochs; sub++ {
			for t := range feats {
				rng := rand.New(rand.NewPCG(cfg.Seed, uint64(((epoch*cfg.SubEpochs+sub)*len(feats)+t)+1)))
				order := d.passOrder(&feats[t], rng)
				b := batches[t]
				for s := 0; s < steps[t]; s++ {
					if err := ctx.Err(); err != nil {
						return err
					}
					lrVar.MustSetValue(tensors.FromScalar(float32(cfg.learningRate(epoch, step, stepsPerMeta))))
					fib, cond := feats[t].gather(order[s*b:(s+1)*b], cfg.ConditionDims)
					out, err := execs[t].Exec(fib, cond)
					if err != nil {
						return fmt.Errorf("cflow: training step: %w", err)
					}
					loss := float64(tensors.ToScalar[float32](out[0]))
					if math.IsNaN(loss) || math.IsInf(loss, 0) {
						return fmt.Errorf("cflow: training diverged (loss %v at meta epoch %d, tap %s); lower LearningRate", loss, epoch+1, cfg.Taps[t])
					}
					sum += loss
					step++
					done := epoch*stepsPerMeta + step
					metrics := map[string]float64{"loss": loss, "meta_epoch": float64(epoch + 1)}
					if el := time.Since(start).Seconds(); el > 0 {
						metrics["step/s"] = float64(done-d.epochsDone*stepsPerMeta) / el
					}
					methods.ReportProgress(ctx, methods.Event{Task: Name + ": training", Done: done, Total: totalSteps,
						Metrics: metrics, Elapsed: time.Since(start)})
				}
			}
		}
		d.History = append(d.History, sum/float64(max(step, 1)))
		d.epochsDone = epoch + 1
		if cfg.CheckpointDir != "" && (d.epochsDone%max(cfg.CheckpointEvery, 1) == 0 || d.epochsDone == cfg.MetaEpochs) {
			if err := d.calibrate(ctx, feats); err != nil {
				return err
			}
			if err := d.save(cfg.CheckpointDir, true); err != nil {
				return err
			}
		}
	}
	if err := d.calibrate(ctx, feats); err != nil {
		return err
	}
	methods.ReportProgress(ctx, methods.Event{Task: Name + ": training", Done: totalSteps, Total: totalSteps,
		Finished: true, Elapsed: time.Since(start)})
	return nil
}

// calibrate records each tap's largest per-dimension log-likelihood over the training fibers and marks
// the detector fitted.
func (d *Detector) calibrate(ctx context.Context, feats []tapFeatures) error {
	d.infer = nil
	d.MaxLogLikelihood = make([]float64, len(feats))
	for t := range feats {
		f := &feats[t]
		best := math.Inf(-1)
		const chunk = 4096
		total := f.n * f.h * f.w
		for lo := 0; lo < total; lo += chunk {
			idx := make([]int, min(chunk, total-lo))
			for i := range idx {
				idx[i] = lo + i
			}
			ll, err := d.logLikelihood(ctx, t, f, idx)
			if err != nil {
				return err
			}
			for _, v := range ll {
				best = max(best, float64(v))
			}
		}
		d.MaxLogLikelihood[t] = best
	}
	d.fitted = true
	return nil
}

// logLikelihood returns the per-dimension log-likelihood of fibers idx of tap t.
func (d *Detector) logLikelihood(ctx context.Context, t int, f *tapFeatures, idx []int) ([]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if d.infer == nil {
		backend, err := compute.Backend()
		if err != nil {
			return nil, err
		}
		d.infer = make([]*mlctx.Exec, len(d.cfg.Taps))
		for i := range d.infer {
			tap := i
			d.infer[i], err = mlctx.NewExec(backend, d.vars, func(vctx *mlctx.Context, fibers, cond *graph.Node) *graph.Node {
				return d.cfg.logLikelihood(vctx, tap, fibers, cond)
			})
			if err != nil {
				return nil, err
			}
		}
	}
	fib, cond := f.gather(idx, d.cfg.ConditionDims)
	out, err := d.infer[t].Exec(fib, cond)
	if err != nil {
		return nil, fmt.Errorf("cflow: inference: %w", err)
	}
	ll := tensors.MustCopyFlatData[float32](out[0])
	out[0].FinalizeAll()
	return ll, nil
}

// LogLikelihoodMaps returns, for every image, each tap's per-dimension log-likelihood map at the tap's
// resolution (before normalisation): high where the decoder finds the features likely.
func (d *Detector) LogLikelihoodMaps(ctx context.Context, images methods.Images) ([][]datasets.Image, error) {
	out := make([][]datasets.Image, images.Len())
	err := d.eachLogLikelihoodMaps(ctx, images, func(i int, maps []datasets.Image) error {
		out[i] = maps
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// eachLogLikelihoodMaps computes the maps of FeatureBatch images at a time and hands them to fn in order.
func (d *Detector) eachLogLikelihoodMaps(ctx context.Context, images methods.Images, fn func(int, []datasets.Image) error) error {
	if !d.fitted {
		return fmt.Errorf("%s: %w", Name, methods.ErrNotFitted)
	}
	if images == nil {
		return fmt.Errorf("cflow: no images")
	}
	n, batch := images.Len(), d.cfg.FeatureBatch
	checked := d.cfg.Checked(images, 0)
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		feats, err := d.extract(ctx, methods.Slice(checked, lo, hi))
		if err != nil {
			return err
		}
		perImage := make([][]datasets.Image, hi-lo)
		for t := range feats {
			f := &feats[t]
			idx := make([]int, f.n*f.h*f.w)
			for i := range idx {
				idx[i] = i
			}
			ll, err := d.logLikelihood(ctx, t, f, idx)
			if err != nil {
				return err
			}
			hw := f.h * f.w
			for i := range perImage {
				perImage[i] = append(perImage[i], datasets.Image{H: f.h, W: f.w, C: 1, Pix: ll[i*hw : (i+1)*hw]})
			}
		}
		for i, maps := range perImage {
			if err := fn(lo+i, maps); err != nil {
				return err
			}
		}
		methods.ReportProgress(ctx, methods.Event{Task: Name + ": predicting", Done: hi, Total: n, Finished: hi == n})
	}
	return nil
}

// Predict scores images as the paper: per tap exp(log p - max_train) upsampled bilinearly (align_corners,
// as the authors' code) to the input and summed; the anomaly map is the number of taps minus that sum,
// the image score its maximum. It collects PredictEach's predictions.
func (d *Detector) Predict(ctx context.Context, images methods.Images) ([]methods.Prediction, error) {
	return methods.CollectPredictions(ctx, images, d.PredictEach)
}

// PredictEach implements methods.Streamer: Predict's predictions, FeatureBatch images at a time.
func (d *Detector) PredictEach(ctx context.Context, images methods.Images, fn func(int, methods.Prediction) error) error {
	size := d.cfg.ImageSize
	return d.eachLogLikelihoodMaps(ctx, images, func(i int, maps []datasets.Image) error {
		amap := datasets.NewImage(size, size, 1)
		for p := range amap.Pix {
			amap.Pix[p] = float32(len(maps))
		}
		for t, m := range maps {
			prob := datasets.NewImage(m.H, m.W, 1)
			for p, v := range m.Pix {
				prob.Pix[p] = float32(math.Exp(float64(v) - d.MaxLogLikelihood[t]))
			}
			up := anomalymap.UpsampleAlignCorners(prob, size, size)
			for p, v := range up.Pix {
				amap.Pix[p] -= v
			}
		}
		return fn(i, methods.Prediction{Score: anomalymap.ScoreMax(amap), Map: amap})
	})
}

// checkpointConfig is what the manifest records beside the configuration.
type checkpointConfig struct {
	Config
	EpochsDone       int       `json:"meta_epochs_done"`
	History          []float64 `json:"history"`
	MaxLogLikelihood []float64 `json:"max_log_likelihood"`
	Encoder          string    `json:"encoder"`
}

// Save writes the fitted detector (without optimiser state) to dir.
func (d *Detector) Save(dir string) error {
	if !d.fitted {
		return fmt.Errorf("%s: %w", Name, methods.ErrNotFitted)
	}
	return d.save(dir, false)
}

// isOptimizerState reports whether a variable belongs to the optimiser (moments, step, learning rate).
func isOptimizerState(scopeAndName string) bool {
	return strings.HasPrefix(scopeAndName, "/"+optimizers.AdamDefaultScope) ||
		strings.HasPrefix(scopeAndName, "/"+optimizers.Scope) ||
		strings.HasSuffix(scopeAndName, "/"+optimizers.GlobalStepVariableName)
}

func (d *Detector) save(dir string, withOptimizer bool) error {
	cc := checkpointConfig{Config: d.cfg, EpochsDone: d.epochsDone, History: d.History,
		MaxLogLikelihood: d.MaxLogLikelihood, Encoder: d.encoder.Source()}
	raw, err := json.Marshal(cc)
	if err != nil {
		return err
	}
	ts := map[string]safetensors.Tensor{}
	for v := range d.vars.IterVariables() {
		name := v.ScopeAndName()
		if (!withOptimizer && isOptimizerState(name)) || strings.HasPrefix(v.Name(), "#") {
			continue // "#rngState" and the like: the context's own state, not the model
		}
		t := v.MustValue()
		var data []float32
		switch t.DType() {
		case dtypes.Float32:
			data = tensors.MustCopyFlatData[float32](t)
		case dtypes.Int64:
			for _, x := range tensors.MustCopyFlatData[int64](t) {
				data = append(data, float32(x))
			}
		default:
			return fmt.Errorf("cflow: cannot save variable %s of dtype %s", name, t.DType())
		}
		ts[name] = safetensors.Tensor{DType: "F32", Shape: t.Shape().Dimensions, Data: data}
	}
	return methods.SaveCheckpoint(dir, methods.Manifest{Method: Name, FormatVersion: formatVersion, Config: raw,
		Backbone: d.encoder.String(), BackboneArch: d.encoder.Arch(), WeightsSHA256: d.encoder.WeightsSHA256(),
		ImageH: d.cfg.ImageSize, ImageW: d.cfg.ImageSize, Channels: 3}, ts)
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
	if err != nil || !sameRecipe(other.cfg, d.cfg) {
		return false
	}
	d.vars, d.epochsDone, d.History = other.vars, other.epochsDone, other.History
	d.MaxLogLikelihood, d.fitted, d.infer = other.MaxLogLikelihood, other.fitted, nil
	return true
}

// sameRecipe reports whether a and b train the same way (checkpoint settings aside).
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
		return nil, fmt.Errorf("%s: bad %s configuration: %v", dir, Name, err)
	}
	d, err := New(cc.Config)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	if err := methods.CheckBackbone(dir, m, d.encoder.Arch(), d.encoder.WeightsSHA256(), d.encoder.Source()); err != nil {
		return nil, err
	}
	if len(cc.MaxLogLikelihood) != len(d.cfg.Taps) {
		return nil, fmt.Errorf("%s: checkpoint has %d normalisers for %d taps", dir, len(cc.MaxLogLikelihood), len(d.cfg.Taps))
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
		var value *tensors.Tensor
		if vname == optimizers.GlobalStepVariableName {
			steps := make([]int64, len(t.Data))
			for i, x := range t.Data {
				steps[i] = int64(x)
			}
			value = tensors.FromFlatDataAndDimensions(steps, t.Shape...)
		} else {
			value = tensors.FromFlatDataAndDimensions(t.Data, t.Shape...)
		}
		v := d.vars.InAbsPath(scope).VariableWithValue(vname, value)
		if isOptimizerState(name) || vname == "initialized" {
			v.SetTrainable(false) // optimiser state and ActNorm's flag are not parameters
		}
	}
	d.epochsDone, d.History, d.MaxLogLikelihood, d.fitted = cc.EpochsDone, cc.History, cc.MaxLogLikelihood, true
	return d, nil
}

// Latents returns the decoder outputs z of tap t (an index into Taps) for every position of every image,
// row-major [N·h·w, C] with C the tap's channels: what the flow maps normal features to, N(0, I) when
// the decoder fits (for histograms of latents against the standard normal).
func (d *Detector) Latents(ctx context.Context, images methods.Images, t int) (z []float32, channels int, err error) {
	if !d.fitted {
		return nil, 0, fmt.Errorf("%s: %w", Name, methods.ErrNotFitted)
	}
	if t < 0 || t >= len(d.cfg.Taps) {
		return nil, 0, fmt.Errorf("cflow: tap index %d out of range (%d taps)", t, len(d.cfg.Taps))
	}
	backend, err := compute.Backend()
	if err != nil {
		return nil, 0, err
	}
	cfg := d.cfg
	exec, err := mlctx.NewExec(backend, d.vars, func(vctx *mlctx.Context, fibers, cond *graph.Node) *graph.Node {
		out, _ := cfg.decoder(t).Forward(tapScope(vctx, t), fibers, cond)
		return out
	})
	if err != nil {
		return nil, 0, err
	}
	checked := d.cfg.Checked(images, 0)
	for lo := 0; lo < images.Len(); lo += d.cfg.FeatureBatch {
		hi := min(lo+d.cfg.FeatureBatch, images.Len())
		feats, err := d.extract(ctx, methods.Slice(checked, lo, hi))
		if err != nil {
			return nil, 0, err
		}
		f := &feats[t]
		idx := make([]int, f.n*f.h*f.w)
		for i := range idx {
			idx[i] = i
		}
		fib, cond := f.gather(idx, d.cfg.ConditionDims)
		out, err := exec.Exec(fib, cond)
		if err != nil {
			return nil, 0, fmt.Errorf("cflow: inference: %w", err)
		}
		z = append(z, tensors.MustCopyFlatData[float32](out[0])...)
		out[0].FinalizeAll()
		channels = f.c
	}
	return z, channels, nil
}
