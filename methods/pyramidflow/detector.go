package pyramidflow

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

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/anomalymap"
	"github.com/gonomaly/gonomaly/methods/backbone"
	"github.com/gonomaly/gonomaly/methods/compute"
	"github.com/gonomaly/gonomaly/methods/safetensors"
)

// formatVersion is the checkpoint format this package writes and reads.
const formatVersion = 1

// templatePrefix names the template levels in a checkpoint's tensors.
const templatePrefix = "/template/level_"

// Detector is a PyramidFlow anomaly detector.
type Detector struct {
	cfg     Config
	encoder *backbone.Backbone // nil in the lite variant
	// inconv is the lite variant's fixed RGB -> Channels map [Channels x 3]; proj the full variant's
	// optional fixed encoder-channel projection [Channels x encoder channels] (nil: none).
	inconv, proj []float32
	projIn       int
	vars         *mlctx.Context
	fitted       bool
	stepsDone    int
	// History is the mean training loss of each epoch, for loss curves.
	History []float64
	// Template is the mean latent pyramid of the training images (levels [h_k, w_k, C], finest first):
	// what a normal image's latents look like (paper Sec. 3.4).
	Template          []datasets.Image
	latentExec, mapEx *mlctx.Exec
}

// New builds an unfitted detector. The encoder (full variant) is built now, so a bad weights path fails early.
func New(cfg Config) (*Detector, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	d := &Detector{cfg: cfg, vars: mlctx.New().Checked(false)}
	if err := d.vars.SetRNGStateFromSeed(int64(cfg.Seed) + 1); err != nil { // reproducible initialisation
		return nil, fmt.Errorf("pyramidflow: %w", err)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x70f1))
	if cfg.Lite() {
		d.inconv = orthonormalColumns(rng, cfg.Channels, 3)
		return d, nil
	}
	enc, err := backbone.New(cfg.Backbone, backbone.Options{Weights: cfg.Weights, Seed: cfg.BackboneSeed, WidthDiv: cfg.WidthDiv})
	if err != nil {
		return nil, fmt.Errorf("pyramidflow: encoder: %w", err)
	}
	d.encoder = enc
	if c := enc.Channels("layer1"); cfg.Channels > 0 && cfg.Channels < c {
		// Orthonormal rows: the transpose of a c x Channels matrix with orthonormal columns.
		cols := orthonormalColumns(rng, c, cfg.Channels)
		d.proj, d.projIn = make([]float32, cfg.Channels*c), c
		for i := 0; i < c; i++ {
			for j := 0; j < cfg.Channels; j++ {
				d.proj[j*c+i] = cols[i*cfg.Channels+j]
			}
		}
	}
	return d, nil
}

// orthonormalColumns returns a rows x cols matrix (rows >= cols, row-major) with orthonormal columns:
// Gram-Schmidt of a Gaussian matrix (torch's orthogonal initialisation, as the authors' input convolution).
func orthonormalColumns(rng *rand.Rand, rows, cols int) []float32 {
	q := make([]float64, rows*cols)
	for i := range q {
		q[i] = rng.NormFloat64()
	}
	for j := 0; j < cols; j++ {
		for k := 0; k < j; k++ {
			dot := 0.0
			for i := 0; i < rows; i++ {
				dot += q[i*cols+j] * q[i*cols+k]
			}
			for i := 0; i < rows; i++ {
				q[i*cols+j] -= dot * q[i*cols+k]
			}
		}
		norm := 0.0
		for i := 0; i < rows; i++ {
			norm += q[i*cols+j] * q[i*cols+j]
		}
		for i := 0; i < rows; i++ {
			q[i*cols+j] /= math.Sqrt(norm)
		}
	}
	out := make([]float32, len(q))
	for i, v := range q {
		out[i] = float32(v)
	}
	return out
}

// Config returns the detector's configuration (defaults applied).
func (d *Detector) Config() Config { return d.cfg }

// Settings implements methods.Configured.
func (d *Detector) Settings() methods.Settings { return d.cfg.Settings }

// Name is the catalogue name, "pyramidflow".
func (d *Detector) Name() string { return Name }

// Encoder returns the frozen encoder, nil in the lite variant.
func (d *Detector) Encoder() *backbone.Backbone { return d.encoder }

// Features returns the maps the flow works on, one [h, w, C] per image: the lite variant's fixed 1x1
// convolution of the ImageNet-normalised image, or the frozen encoder's layer1 (projected when Channels
// asks for fewer channels than it has).
func (d *Detector) Features(ctx context.Context, images methods.Images) ([]datasets.Image, error) {
	n := images.Len()
	if d.cfg.Lite() {
		c := d.cfg.Channels
		out := make([]datasets.Image, n)
		for i := 0; i < n; i++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			img, err := images.Image(i)
			if err != nil {
				return nil, fmt.Errorf("pyramidflow: %w", err)
			}
			if img.C != 1 && img.C != 3 {
				return nil, fmt.Errorf("pyramidflow: %s has %d channels (want 1 or 3)", methods.ImageName(images, i), img.C)
			}
			f := datasets.NewImage(img.H, img.W, c)
			for p := 0; p < img.H*img.W; p++ {
				var rgb [3]float32
				for k := range rgb {
					v := img.Pix[p*img.C+min(k, img.C-1)]
					rgb[k] = (v - backbone.ImageNetMean[k]) / backbone.ImageNetStd[k]
				}
				for j := 0; j < c; j++ {
					w := d.inconv[j*3 : j*3+3]
					f.Pix[p*c+j] = w[0]*rgb[0] + w[1]*rgb[1] + w[2]*rgb[2]
				}
			}
			out[i] = f
		}
		return out, nil
	}
	ts, err := d.encoder.Extract(ctx, images, d.cfg.FeatureBatch, "layer1")
	if err != nil {
		return nil, fmt.Errorf("pyramidflow: %w", err)
	}
	t := ts[0]
	dims := t.Shape().Dimensions
	data := tensors.MustCopyFlatData[float32](t)
	t.FinalizeAll()
	h, w, c := dims[1], dims[2], dims[3]
	out := make([]datasets.Image, dims[0])
	for i := range out {
		src := data[i*h*w*c : (i+1)*h*w*c]
		if d.proj == nil {
			out[i] = datasets.Image{H: h, W: w, C: c, Pix: src}
			continue
		}
		k := d.cfg.Channels
		f := datasets.NewImage(h, w, k)
		for p := 0; p < h*w; p++ {
			in := src[p*c : (p+1)*c]
			for j := 0; j < k; j++ {
				row := d.proj[j*c : (j+1)*c]
				var s float32
				for q, v := range in {
					s += row[q] * v
				}
				f.Pix[p*k+j] = s
			}
		}
		out[i] = f
	}
	return out, nil
}

// pyramids decomposes each feature map into the Laplacian pyramid.
func (d *Detector) pyramids(feats []datasets.Image) ([][]datasets.Image, error) {
	out := make([][]datasets.Image, len(feats))
	for i, f := range feats {
		p, err := BuildPyramid(f, d.cfg.Levels)
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

// batchTensors stacks level k of the pyramids idx into tensors [len(idx), h_k, w_k, C].
func batchTensors(pyrs [][]datasets.Image, idx []int) []*tensors.Tensor {
	levels := len(pyrs[idx[0]])
	out := make([]*tensors.Tensor, levels)
	for k := 0; k < levels; k++ {
		l := pyrs[idx[0]][k]
		data := make([]float32, 0, len(idx)*len(l.Pix))
		for _, i := range idx {
			data = append(data, pyrs[i][k].Pix...)
		}
		out[k] = tensors.FromFlatDataAndDimensions(data, len(idx), l.H, l.W, l.C)
	}
	return out
}

// asArgs turns tensors into Exec arguments.
func asArgs(ts ...[]*tensors.Tensor) []any {
	var out []any
	for _, l := range ts {
		for _, t := range l {
			out = append(out, t)
		}
	}
	return out
}

// Fit trains the flow from scratch on pairs of normal images (the encoder stays frozen), then records
// the template, the mean latent pyramid of the training images. It reports progress, stops with
// ctx.Err() when ctx is cancelled, checkpoints every CheckpointEvery steps when CheckpointDir is set,
// and resumes from it.
func (d *Detector) Fit(ctx context.Context, train methods.Images) error {
	cfg := d.cfg
	if train == nil || train.Len() < 2 {
		return fmt.Errorf("pyramidflow: need at least 2 training images (the loss compares pairs)")
	}
	if d.resume() {
		methods.ReportProgress(ctx, methods.Event{Task: Name + ": resumed from " + cfg.CheckpointDir, Done: d.stepsDone})
	}
	feats, err := d.Features(ctx, cfg.Checked(train, 0))
	if err != nil {
		return err
	}
	pyrs, err := d.pyramids(feats)
	if err != nil {
		return err
	}
	backend, err := compute.Backend()
	if err != nil {
		return err
	}
	exec, err := mlctx.NewExec(backend, d.vars, func(vctx *mlctx.Context, levels []*graph.Node) *graph.Node {
		g := levels[0].Graph()
		vctx.SetTraining(g, true)
		z, _ := cfg.Forward(vctx, levels)
		loss := cfg.pairLoss(z)
		cfg.adamStep(vctx, loss)
		return loss
	})
	if err != nil {
		return err
	}
	n := len(pyrs)
	batch := min(cfg.BatchSize, n)
	perEpoch := n / batch
	total := cfg.Epochs * perEpoch
	start, startStep := time.Now(), d.stepsDone
	for epoch := d.stepsDone / perEpoch; epoch < cfg.Epochs; epoch++ {
		order := rand.New(rand.NewPCG(cfg.Seed, uint64(epoch)+1)).Perm(n)
		var sum float64
		count := 0
		for s := 0; s < perEpoch; s++ {
			if epoch*perEpoch+s < d.stepsDone {
				continue // done before the resume
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			out, err := exec.Exec(asArgs(batchTensors(pyrs, order[s*batch:(s+1)*batch]))...)
			if err != nil {
				return fmt.Errorf("pyramidflow: training step: %w", err)
			}
			loss := float64(tensors.ToScalar[float32](out[0]))
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				return fmt.Errorf("pyramidflow: training diverged (loss %v at epoch %d); lower LearningRate", loss, epoch+1)
			}
			sum += loss
			count++
			d.stepsDone++
			metrics := map[string]float64{"loss": loss, "epoch": float64(epoch + 1)}
			if el := time.Since(start).Seconds(); el > 0 {
				metrics["step/s"] = float64(d.stepsDone-startStep) / el
			}
			methods.ReportProgress(ctx, methods.Event{Task: Name + ": training", Done: d.stepsDone, Total: total,
				Metrics: metrics, Elapsed: time.Since(start)})
			if cfg.CheckpointDir != "" && cfg.CheckpointEvery > 0 && d.stepsDone%cfg.CheckpointEvery == 0 && d.stepsDone < total {
				if err := d.checkpoint(ctx, pyrs); err != nil {
					return err
				}
			}
		}
		if count > 0 {
			d.History = append(d.History, sum/float64(count))
		}
	}
	if err := d.calibrate(ctx, pyrs); err != nil {
		return err
	}
	if cfg.CheckpointDir != "" {
		if err := d.save(cfg.CheckpointDir, true); err != nil {
			return err
		}
	}
	methods.ReportProgress(ctx, methods.Event{Task: Name + ": training", Done: total, Total: total, Finished: true, Elapsed: time.Since(start)})
	return nil
}

// checkpoint records the template and writes a training checkpoint.
func (d *Detector) checkpoint(ctx context.Context, pyrs [][]datasets.Image) error {
	if err := d.calibrate(ctx, pyrs); err != nil {
		return err
	}
	return d.save(d.cfg.CheckpointDir, true)
}

// latents runs the flow (inference mode) on pyramids idx and returns the latent levels as tensors.
func (d *Detector) latents(pyrs [][]datasets.Image, idx []int) ([]*tensors.Tensor, error) {
	if d.latentExec == nil {
		backend, err := compute.Backend()
		if err != nil {
			return nil, err
		}
		cfg := d.cfg
		d.latentExec, err = mlctx.NewExec(backend, d.vars, func(vctx *mlctx.Context, levels []*graph.Node) []*graph.Node {
			z, _ := cfg.Forward(vctx, levels)
			return z
		})
		if err != nil {
			return nil, err
		}
	}
	out, err := d.latentExec.Exec(asArgs(batchTensors(pyrs, idx))...)
	if err != nil {
		return nil, fmt.Errorf("pyramidflow: inference: %w", err)
	}
	return out, nil
}

// calibrate records the template, the mean latent pyramid of the training pyramids, and marks the
// detector fitted.
func (d *Detector) calibrate(ctx context.Context, pyrs [][]datasets.Image) error {
	d.latentExec, d.mapEx = nil, nil // variables changed
	sums := make([][]float64, d.cfg.Levels)
	for k := range sums {
		sums[k] = make([]float64, len(pyrs[0][k].Pix))
	}
	batch := d.cfg.FeatureBatch
	for lo := 0; lo < len(pyrs); lo += batch {
		if err := ctx.Err(); err != nil {
			return err
		}
		idx := make([]int, min(batch, len(pyrs)-lo))
		for i := range idx {
			idx[i] = lo + i
		}
		z, err := d.latents(pyrs, idx)
		if err != nil {
			return err
		}
		for k, t := range z {
			data := tensors.MustCopyFlatData[float32](t)
			t.FinalizeAll()
			per := len(sums[k])
			for i := range idx {
				for p, v := range data[i*per : (i+1)*per] {
					sums[k][p] += float64(v)
				}
			}
		}
	}
	d.Template = make([]datasets.Image, d.cfg.Levels)
	for k, s := range sums {
		l := pyrs[0][k]
		t := datasets.NewImage(l.H, l.W, l.C)
		for p, v := range s {
			t.Pix[p] = float32(v / float64(len(pyrs)))
		}
		d.Template[k] = t
	}
	d.fitted = true
	return nil
}

// templateTensors returns the template as tensors [1, h_k, w_k, C].
func (d *Detector) templateTensors() []*tensors.Tensor {
	out := make([]*tensors.Tensor, len(d.Template))
	for k, t := range d.Template {
		out[k] = tensors.FromFlatDataAndDimensions(append([]float32(nil), t.Pix...), 1, t.H, t.W, t.C)
	}
	return out
}

// Latents returns, for every image, its latent pyramid (levels [h_k, w_k, C], finest first): what
// the flow maps the image's pyramid to (for histograms against the standard normal and level maps).
func (d *Detector) Latents(ctx context.Context, images methods.Images) ([][]datasets.Image, error) {
	if !d.fitted {
		return nil, fmt.Errorf("%s: %w", Name, methods.ErrNotFitted)
	}
	n, batch := images.Len(), d.cfg.FeatureBatch
	checked := d.cfg.Checked(images, 0)
	out := make([][]datasets.Image, 0, n)
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		feats, err := d.Features(ctx, methods.Slice(checked, lo, hi))
		if err != nil {
			return nil, err
		}
		pyrs, err := d.pyramids(feats)
		if err != nil {
			return nil, err
		}
		idx := make([]int, hi-lo)
		for i := range idx {
			idx[i] = i
		}
		z, err := d.latents(pyrs, idx)
		if err != nil {
			return nil, err
		}
		for i := range idx {
			var levels []datasets.Image
			for k, t := range z {
				l := pyrs[0][k]
				data := tensors.MustCopyFlatData[float32](t)
				per := len(l.Pix)
				levels = append(levels, datasets.Image{H: l.H, W: l.W, C: l.C, Pix: data[i*per : (i+1)*per]})
			}
			out = append(out, levels)
		}
		for _, t := range z {
			t.FinalizeAll()
		}
	}
	return out, nil
}

// Predict scores images as the paper: the pyramid difference between the image's latents and the
// template, composed to the feature map's resolution and averaged over channels, upsampled bilinearly
// to the input; the image score is its maximum. It collects PredictEach's predictions.
func (d *Detector) Predict(ctx context.Context, images methods.Images) ([]methods.Prediction, error) {
	return methods.CollectPredictions(ctx, images, d.PredictEach)
}

// PredictEach implements methods.Streamer: Predict's predictions, FeatureBatch images at a time.
func (d *Detector) PredictEach(ctx context.Context, images methods.Images, fn func(int, methods.Prediction) error) error {
	if !d.fitted {
		return fmt.Errorf("%s: %w", Name, methods.ErrNotFitted)
	}
	if images == nil {
		return fmt.Errorf("pyramidflow: no images")
	}
	if d.mapEx == nil {
		backend, err := compute.Backend()
		if err != nil {
			return err
		}
		cfg := d.cfg
		d.mapEx, err = mlctx.NewExec(backend, d.vars, func(vctx *mlctx.Context, in []*graph.Node) *graph.Node {
			z, _ := cfg.Forward(vctx, in[:cfg.Levels])
			return differenceMap(z, in[cfg.Levels:])
		})
		if err != nil {
			return err
		}
	}
	size := d.cfg.ImageSize
	n, batch := images.Len(), d.cfg.FeatureBatch
	checked := d.cfg.Checked(images, 0)
	template := d.templateTensors()
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		feats, err := d.Features(ctx, methods.Slice(checked, lo, hi))
		if err != nil {
			return err
		}
		pyrs, err := d.pyramids(feats)
		if err != nil {
			return err
		}
		idx := make([]int, hi-lo)
		for i := range idx {
			idx[i] = i
		}
		out, err := d.mapEx.Exec(asArgs(batchTensors(pyrs, idx), template)...)
		if err != nil {
			return fmt.Errorf("pyramidflow: inference: %w", err)
		}
		maps := tensors.MustCopyFlatData[float32](out[0])
		out[0].FinalizeAll()
		h, w := feats[0].H, feats[0].W
		for i := range idx {
			m := datasets.Image{H: h, W: w, C: 1, Pix: maps[i*h*w : (i+1)*h*w]}
			if h != size || w != size {
				m = anomalymap.Upsample(m, size, size)
			}
			if err := fn(lo+i, methods.Prediction{Score: anomalymap.ScoreMax(m), Map: m}); err != nil {
				return err
			}
		}
		methods.ReportProgress(ctx, methods.Event{Task: Name + ": predicting", Done: hi, Total: n, Finished: hi == n})
	}
	return nil
}

// checkpointConfig is what the manifest records beside the configuration.
type checkpointConfig struct {
	Config
	StepsDone int       `json:"steps_done"`
	History   []float64 `json:"history"`
	Encoder   string    `json:"encoder"`
}

// Save writes the fitted detector (without optimiser state) to dir.
func (d *Detector) Save(dir string) error {
	if !d.fitted {
		return fmt.Errorf("%s: %w", Name, methods.ErrNotFitted)
	}
	return d.save(dir, false)
}

func (d *Detector) save(dir string, withOptimizer bool) error {
	cc := checkpointConfig{Config: d.cfg, StepsDone: d.stepsDone, History: d.History, Encoder: NoEncoder}
	if d.encoder != nil {
		cc.Encoder = d.encoder.Source()
	}
	raw, err := json.Marshal(cc)
	if err != nil {
		return err
	}
	ts := map[string]safetensors.Tensor{}
	for v := range d.vars.IterVariables() {
		name := v.ScopeAndName()
		if (!withOptimizer && strings.HasPrefix(name, adamScope+"/")) || strings.HasPrefix(v.Name(), "#") {
			continue // optimiser state (final save) and the context's own state such as "#rngState"
		}
		t := v.MustValue()
		if t.DType() != dtypes.Float32 {
			return fmt.Errorf("pyramidflow: cannot save variable %s of dtype %s", name, t.DType())
		}
		ts[name] = safetensors.Tensor{DType: "F32", Shape: t.Shape().Dimensions, Data: tensors.MustCopyFlatData[float32](t)}
	}
	for k, t := range d.Template {
		ts[fmt.Sprintf("%s%d", templatePrefix, k)] = safetensors.Tensor{DType: "F32", Shape: []int{t.H, t.W, t.C}, Data: t.Pix}
	}
	m := methods.Manifest{Method: Name, FormatVersion: formatVersion, Config: raw,
		ImageH: d.cfg.ImageSize, ImageW: d.cfg.ImageSize, Channels: 3}
	if d.encoder != nil {
		m.Backbone, m.BackboneArch, m.WeightsSHA256 = d.encoder.String(), d.encoder.Arch(), d.encoder.WeightsSHA256()
	}
	return methods.SaveCheckpoint(dir, m, ts)
}

// resume loads a training checkpoint of the same recipe from CheckpointDir, if there is one.
func (d *Detector) resume() bool {
	if d.cfg.CheckpointDir == "" || d.stepsDone > 0 {
		return false
	}
	if _, err := os.Stat(filepath.Join(d.cfg.CheckpointDir, methods.ManifestFile)); err != nil {
		return false
	}
	other, err := load(d.cfg.CheckpointDir)
	if err != nil || !sameRecipe(other.cfg, d.cfg) {
		return false
	}
	d.vars, d.stepsDone, d.History, d.Template = other.vars, other.stepsDone, other.History, other.Template
	d.fitted, d.latentExec, d.mapEx = other.fitted, nil, nil
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
	if d.encoder != nil {
		if err := methods.CheckBackbone(dir, m, d.encoder.Arch(), d.encoder.WeightsSHA256(), d.encoder.Source()); err != nil {
			return nil, err
		}
	} else if m.BackboneArch != "" {
		return nil, fmt.Errorf("%q: fitted with backbone %s, but its configuration has no encoder", dir, m.BackboneArch)
	}
	names := make([]string, 0, len(ts))
	for name := range ts {
		names = append(names, name)
	}
	sort.Strings(names)
	d.Template = make([]datasets.Image, d.cfg.Levels)
	for _, name := range names {
		t := ts[name]
		if strings.HasPrefix(name, templatePrefix) {
			var k int
			if _, err := fmt.Sscanf(name[len(templatePrefix):], "%d", &k); err != nil || k < 0 || k >= d.cfg.Levels || len(t.Shape) != 3 ||
				t.Shape[0]*t.Shape[1]*t.Shape[2] != len(t.Data) {
				return nil, fmt.Errorf("%s: bad template tensor %q %v", dir, name, t.Shape)
			}
			d.Template[k] = datasets.Image{H: t.Shape[0], W: t.Shape[1], C: t.Shape[2], Pix: t.Data}
			continue
		}
		scope, vname := mlctx.SplitScope(name)
		if scope == "" || vname == "" {
			return nil, fmt.Errorf("%s: bad tensor name %q", dir, name)
		}
		v := d.vars.InAbsPath(scope).VariableWithValue(vname, tensors.FromFlatDataAndDimensions(t.Data, t.Shape...))
		switch {
		case strings.HasPrefix(name, adamScope+"/"), vname == "running_mean", vname == "perm", vname == "sign":
			v.SetTrainable(false) // optimiser state and fixed buffers are not parameters
		}
	}
	for k, t := range d.Template {
		if t.Pix == nil || t.H != d.cfg.ImageSize>>k/d.featureStride() || t.W != t.H {
			return nil, fmt.Errorf("%s: template level %d missing or of the wrong size", dir, k)
		}
	}
	d.stepsDone, d.History, d.fitted = cc.StepsDone, cc.History, true
	return d, nil
}

// featureStride is the input pixels per feature pixel: 1 (lite) or the encoder's layer1 stride (4).
func (d *Detector) featureStride() int {
	if d.encoder == nil {
		return 1
	}
	return d.encoder.Stride("layer1")
}

// LevelDifferences returns, for every image, one map per pyramid level (finest first, at the level's
// resolution): the mean over channels of |latent - template|, the pyramid difference before it is
// composed into the anomaly map (paper Fig. 2's per-level differences).
func (d *Detector) LevelDifferences(ctx context.Context, images methods.Images) ([][]datasets.Image, error) {
	lat, err := d.Latents(ctx, images)
	if err != nil {
		return nil, err
	}
	out := make([][]datasets.Image, len(lat))
	for i, levels := range lat {
		for k, z := range levels {
			t := d.Template[k]
			m := datasets.NewImage(z.H, z.W, 1)
			for p := range m.Pix {
				var s float32
				for c := 0; c < z.C; c++ {
					s += float32(math.Abs(float64(z.Pix[p*z.C+c] - t.Pix[p*z.C+c])))
				}
				m.Pix[p] = s / float32(z.C)
			}
			out[i] = append(out[i], m)
		}
	}
	return out, nil
}
