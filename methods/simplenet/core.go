package simplenet

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/anomalymap"
	"github.com/gonomaly/gonomaly/methods/compute"
	"github.com/gonomaly/gonomaly/methods/features"
	"github.com/gonomaly/gonomaly/methods/safetensors"
)

// formatVersion is the checkpoint format both methods of this package write and read.
const formatVersion = 1

// Training is the schedule and checkpointing both methods share.
type Training struct {
	// Epochs over the training images and BatchSize images per step (every patch of those images is a
	// row of the step's batch).
	Epochs    int `json:"epochs"`
	BatchSize int `json:"batch_size"`
	// Sigma is the Gaussian smoothing of the upsampled patch-score map (4 in both papers' pipelines).
	Sigma float64 `json:"sigma"`
	// CheckpointDir, when set, receives a training checkpoint (with the optimiser state) at the end of
	// the first epoch after every CheckpointEvery steps, and at the end; Fit resumes from it when it holds
	// a checkpoint of the same recipe.
	CheckpointDir   string `json:"-"`
	CheckpointEvery int    `json:"-"`
}

func (t Training) validate(method string) error {
	switch {
	case t.Epochs < 1 || t.BatchSize < 1:
		return fmt.Errorf("%s: epochs (%d) and batch size (%d) must be positive", method, t.Epochs, t.BatchSize)
	case t.Sigma < 0:
		return fmt.Errorf("%s: Sigma %g must not be negative", method, t.Sigma)
	}
	return nil
}

// Epoch is what one training epoch measured: the mean loss and the means of the method's other step
// metrics (SimpleNet: p_true and p_fake; Deep SVDD: mean squared distance and radius).
type Epoch struct {
	Loss    float64            `json:"loss"`
	Metrics map[string]float64 `json:"metrics,omitempty"`
}

// head is what differs between the one-class models trained on frozen patch features.
type head interface {
	// trainGraph builds one optimisation step on feats [rows, D] (and the host-made aux input, when
	// the method has one) and returns the loss followed by the step metrics.
	trainGraph(vctx *mlctx.Context, feats, aux *Node) []*Node
	// metricNames names the metrics trainGraph returns after the loss.
	metricNames() []string
	// aux makes the step's extra input (SimpleNet's noise), or nil.
	aux(step int, rows, dim int) *tensors.Tensor
	// scoreGraph maps feats [rows, D] to patch anomaly scores [rows] (higher is more anomalous).
	scoreGraph(vctx *mlctx.Context, feats *Node) *Node
	// prepare runs before the first step of a fresh (not resumed) training.
	prepare(ctx context.Context, train *features.Set) error
	// afterStep sees every step's outputs (Deep SVDD's radius update).
	afterStep(epoch int, out []*tensors.Tensor) error
	// required lists the tensors a checkpoint must hold.
	required() []string
	// recipe is the configuration as JSON, without what may change between a run and its resumption.
	recipe() []byte
	// recipeOf is recipe for a configuration read from a checkpoint.
	recipeOf(raw json.RawMessage) ([]byte, error)
	// configJSON is the configuration as the manifest stores it.
	configJSON() (json.RawMessage, error)
	// reset clears what prepare and the steps computed, when Fit starts afresh.
	reset()
}

// core is the part both detectors share: frozen patch features, training loop with progress,
// checkpoints, resumption and cancellation, streaming prediction, save and load.
type core struct {
	method   string
	settings methods.Settings
	training Training
	ext      *features.Extractor
	vars     *mlctx.Context
	head     head
	rng      *rand.Rand // variable initialisation

	fitted     bool
	loaded     bool
	epochsDone int
	history    []Epoch
	ch, gh, gw int
	dim        int
	execs      map[string]*mlctx.Exec
}

func newCore(method string, s methods.Settings, recipe features.Config, t Training) (*core, error) {
	ext, err := features.NewExtractor(s, recipe)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	return &core{method: method, settings: s, training: t, ext: ext, vars: mlctx.New().Checked(false),
		rng: rand.New(rand.NewPCG(s.Seed, 0x5eed)), execs: map[string]*mlctx.Exec{}}, nil
}

// Name implements methods.Detector.
func (c *core) Name() string { return c.method }

// Settings implements methods.Configured.
func (c *core) Settings() methods.Settings { return c.settings }

// History returns each finished epoch's mean loss and metrics, for training curves.
func (c *core) History() []Epoch { return slices.Clone(c.history) }

// Extractor returns the frozen feature extractor (backbone plus PatchCore's patch-feature recipe).
func (c *core) Extractor() *features.Extractor { return c.ext }

// Features extracts the patch features the detector scores (ImageSize x ImageSize images).
func (c *core) Features(ctx context.Context, images methods.Images) (*features.Set, error) {
	set, err := c.ext.Extract(ctx, images, c.ch)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.method, err)
	}
	return set, nil
}

// param returns the variable name in vctx's scope, creating it with init when absent.
func param(vctx *mlctx.Context, name string, trainable bool, init func() *tensors.Tensor) *mlctx.Variable {
	v := vctx.GetVariableByScopeAndName(vctx.Scope(), name)
	if v == nil {
		v = vctx.VariableWithValue(name, init())
	}
	v.SetTrainable(trainable)
	return v
}

// exec compiles (once) and runs a graph over the detector's variables.
func (c *core) exec(name string, fn func(vctx *mlctx.Context, inputs []*Node) []*Node, args ...any) ([]*tensors.Tensor, error) {
	e := c.execs[name]
	if e == nil {
		backend, err := compute.Backend()
		if err != nil {
			return nil, err
		}
		if e, err = mlctx.NewExec(backend, c.vars, fn); err != nil {
			return nil, err
		}
		c.execs[name] = e
	}
	out, err := e.Exec(args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", c.method, name, err)
	}
	return out, nil
}

// rows copies the patch features of images idx of set into a [len(idx)*H*W, D] tensor.
func rows(set *features.Set, idx []int) *tensors.Tensor {
	per := set.PerImage() * set.D
	buf := make([]float32, len(idx)*per)
	for i, j := range idx {
		copy(buf[i*per:(i+1)*per], set.Data[j*per:(j+1)*per])
	}
	return tensors.FromFlatDataAndDimensions(buf, len(idx)*set.PerImage(), set.D)
}

// Fit implements methods.Detector: extract the frozen patch features of the normal images once, then
// train on them.
func (c *core) Fit(ctx context.Context, train methods.Images) error {
	set, first, err := c.ext.ExtractTrain(ctx, train)
	if err != nil {
		return fmt.Errorf("%s: %w", c.method, err)
	}
	return c.FitFeatures(ctx, set, first.C)
}

// FitFeatures trains on already extracted (for example cached) patch features of normal images with ch
// channels, from the same backbone and recipe.
func (c *core) FitFeatures(ctx context.Context, set *features.Set, ch int) error {
	if err := set.Validate(); err != nil {
		return fmt.Errorf("%s: %w", c.method, err)
	}
	if set.N == 0 {
		return fmt.Errorf("%s: no training features", c.method)
	}
	if want := c.ext.Recipe.OutDim(c.ext.Backbone()); set.D != want {
		return fmt.Errorf("%s: features have %d dimensions, the recipe makes %d", c.method, set.D, want)
	}
	t := c.training
	resumed := c.resume(set)
	if resumed {
		methods.ReportProgress(ctx, methods.Event{Task: c.method + ": resumed from " + t.CheckpointDir,
			Done: c.epochsDone, Total: t.Epochs})
	} else if c.epochsDone == 0 {
		c.vars = mlctx.New().Checked(false)
		c.execs = map[string]*mlctx.Exec{}
		c.rng = rand.New(rand.NewPCG(c.settings.Seed, 0x5eed))
		c.history = nil
		c.head.reset()
		c.ch, c.gh, c.gw, c.dim = ch, set.H, set.W, set.D
		if err := c.head.prepare(ctx, set); err != nil {
			return err
		}
	}
	if set.H != c.gh || set.W != c.gw || set.D != c.dim {
		return fmt.Errorf("%s: features are %dx%dx%d, the detector was trained on %dx%dx%d", c.method,
			set.H, set.W, set.D, c.gh, c.gw, c.dim)
	}
	n := set.N
	batch := min(t.BatchSize, n)
	stepsPerEpoch := n / batch // a fixed batch shape compiles once; the remainder is reshuffled in
	total := t.Epochs * stepsPerEpoch
	names := c.head.metricNames()
	start, first := time.Now(), c.epochsDone*stepsPerEpoch
	since := 0
	trainFn := func(vctx *mlctx.Context, in []*Node) []*Node {
		var aux *Node
		if len(in) > 1 {
			aux = in[1]
		}
		return c.head.trainGraph(vctx, in[0], aux)
	}
	for epoch := c.epochsDone; epoch < t.Epochs; epoch++ {
		order := rand.New(rand.NewPCG(c.settings.Seed, uint64(epoch)+1)).Perm(n)
		var sum Epoch
		sum.Metrics = map[string]float64{}
		for s := 0; s < stepsPerEpoch; s++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			step := epoch*stepsPerEpoch + s
			x := rows(set, order[s*batch:(s+1)*batch])
			args := []any{x}
			if a := c.head.aux(step, x.Shape().Dimensions[0], set.D); a != nil {
				args = append(args, a)
			}
			out, err := c.exec("train", trainFn, args...)
			if err != nil {
				return err
			}
			loss := float64(tensors.ToScalar[float32](out[0]))
			sum.Loss += loss
			metrics := map[string]float64{"loss": loss, "epoch": float64(epoch + 1)}
			for i, name := range names {
				v := float64(tensors.ToScalar[float32](out[1+i]))
				sum.Metrics[name] += v
				metrics[name] = v
			}
			if err := c.head.afterStep(epoch, out); err != nil {
				return err
			}
			if el := time.Since(start).Seconds(); el > 0 {
				metrics["step/s"] = float64(step+1-first) / el
			}
			methods.ReportProgress(ctx, methods.Event{Task: c.method + ": training", Done: step + 1, Total: total,
				Metrics: metrics, Elapsed: time.Since(start)})
			since++
		}
		sum.Loss /= float64(stepsPerEpoch)
		for k := range sum.Metrics {
			sum.Metrics[k] /= float64(stepsPerEpoch)
		}
		c.history = append(c.history, sum)
		c.epochsDone = epoch + 1
		c.fitted = true
		if t.CheckpointDir != "" && (since >= max(t.CheckpointEvery, 1) || c.epochsDone == t.Epochs) {
			if err := c.save(t.CheckpointDir, true); err != nil {
				return err
			}
			since = 0
		}
	}
	methods.ReportProgress(ctx, methods.Event{Task: c.method + ": training", Done: total, Total: total,
		Finished: true, Elapsed: time.Since(start)})
	c.fitted = true
	return nil
}

// PatchScores scores already extracted features: one slice of H*W patch scores per image.
func (c *core) PatchScores(set *features.Set) ([][]float32, error) {
	if !c.fitted {
		return nil, fmt.Errorf("%s: %w", c.method, methods.ErrNotFitted)
	}
	if err := set.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", c.method, err)
	}
	if set.H != c.gh || set.W != c.gw || set.D != c.dim {
		return nil, fmt.Errorf("%s: features are %dx%dx%d, the detector was trained on %dx%dx%d", c.method,
			set.H, set.W, set.D, c.gh, c.gw, c.dim)
	}
	out := make([][]float32, set.N)
	if set.N == 0 {
		return out, nil
	}
	all := make([]int, set.N)
	for i := range all {
		all[i] = i
	}
	res, err := c.exec("score", func(vctx *mlctx.Context, in []*Node) []*Node {
		return []*Node{c.head.scoreGraph(vctx, in[0])}
	}, rows(set, all))
	if err != nil {
		return nil, err
	}
	flat := tensors.MustCopyFlatData[float32](res[0])
	per := set.PerImage()
	for i := range out {
		out[i] = flat[i*per : (i+1)*per]
	}
	return out, nil
}

// Predict implements methods.Detector: PredictEach's predictions, collected.
func (c *core) Predict(ctx context.Context, images methods.Images) ([]methods.Prediction, error) {
	return methods.CollectPredictions(ctx, images, c.PredictEach)
}

// PredictEach implements methods.Streamer: it extracts and scores FeatureBatch images at a time. The
// patch scores are upsampled (bilinear) to the input and smoothed with a Gaussian of Sigma; the image
// score is the map's maximum (methods.ScoreMapMax) or the largest patch score (methods.ScorePatchMax).
func (c *core) PredictEach(ctx context.Context, images methods.Images, fn func(int, methods.Prediction) error) error {
	if !c.fitted {
		return fmt.Errorf("%s: %w", c.method, methods.ErrNotFitted)
	}
	n, start, size := images.Len(), time.Now(), c.settings.ImageSize
	for lo := 0; lo < n; lo += c.settings.FeatureBatch {
		hi := min(lo+c.settings.FeatureBatch, n)
		set, err := c.Features(ctx, methods.Slice(images, lo, hi))
		if err != nil {
			return err
		}
		scores, err := c.PatchScores(set)
		if err != nil {
			return err
		}
		for j, ps := range scores {
			patch := datasets.Image{H: c.gh, W: c.gw, C: 1, Pix: ps}
			amap := anomalymap.ToInput(patch, size, size, c.training.Sigma)
			score := anomalymap.ScoreMax(amap)
			if c.settings.ImageScore == methods.ScorePatchMax {
				score = slices.Max(ps)
			}
			if err := fn(lo+j, methods.Prediction{Score: score, Map: amap}); err != nil {
				return err
			}
		}
		methods.ReportProgress(ctx, methods.Event{Task: c.method + ": scoring", Done: hi, Total: n,
			Elapsed: time.Since(start), Finished: hi == n})
	}
	return nil
}

// state is what a checkpoint records beside the configuration.
type state struct {
	EpochsDone int     `json:"epochs_done"`
	History    []Epoch `json:"history"`
	Grid       [2]int  `json:"grid"`
	Dim        int     `json:"dim"`
	Extractor  string  `json:"extractor"`
}

// saved is a checkpoint's configuration record.
type saved struct {
	Config json.RawMessage `json:"config"`
	State  state           `json:"state"`
}

// Save implements methods.Detector: the trained weights (without optimiser state) and the
// configuration, atomically.
func (c *core) Save(dir string) error {
	if !c.fitted {
		return fmt.Errorf("%s: %w", c.method, methods.ErrNotFitted)
	}
	return c.save(dir, false)
}

func (c *core) save(dir string, withOptimizer bool) error {
	cfg, err := c.head.configJSON()
	if err != nil {
		return err
	}
	raw, err := json.Marshal(saved{Config: cfg, State: state{EpochsDone: c.epochsDone, History: c.history,
		Grid: [2]int{c.gh, c.gw}, Dim: c.dim, Extractor: c.ext.Describe()}})
	if err != nil {
		return err
	}
	ts := map[string]safetensors.Tensor{}
	for v := range c.vars.IterVariables() {
		name := v.ScopeAndName()
		if !withOptimizer && strings.HasPrefix(name, adamScope) {
			continue
		}
		t := v.MustValue()
		ts[name] = safetensors.Tensor{DType: "F32", Shape: t.Shape().Dimensions, Data: tensors.MustCopyFlatData[float32](t)}
	}
	bb := c.ext.Backbone()
	return methods.SaveCheckpoint(dir, methods.Manifest{Method: c.method, FormatVersion: formatVersion, Config: raw,
		Backbone: c.ext.Describe(), BackboneArch: bb.Arch(), WeightsSHA256: bb.WeightsSHA256(),
		ImageH: c.settings.ImageSize, ImageW: c.settings.ImageSize, Channels: c.ch}, ts)
}

// readCheckpoint reads a checkpoint of method: its manifest, tensors and configuration record.
func readCheckpoint(dir, method string) (methods.Manifest, map[string]safetensors.Tensor, saved, error) {
	m, ts, err := methods.ReadCheckpoint(dir, method, formatVersion)
	if err != nil {
		return m, nil, saved{}, err
	}
	var sv saved
	if err := json.Unmarshal(m.Config, &sv); err != nil {
		return m, nil, sv, fmt.Errorf("%s: bad %s configuration: %v", dir, method, err)
	}
	return m, ts, sv, nil
}

// restore fills a freshly built detector from a checkpoint read by readCheckpoint.
func (c *core) restore(dir string, m methods.Manifest, ts map[string]safetensors.Tensor, sv saved) error {
	bb := c.ext.Backbone()
	if err := methods.CheckBackbone(dir, m, bb.Arch(), bb.WeightsSHA256(), bb.Source()); err != nil {
		return err
	}
	st := sv.State
	if st.Grid[0] < 1 || st.Grid[1] < 1 || st.Dim < 1 || m.Channels < 1 {
		return fmt.Errorf("%s: %s checkpoint has no valid grid, dimension or channels", dir, c.method)
	}
	if m.ImageH != c.settings.ImageSize || m.ImageW != c.settings.ImageSize {
		return fmt.Errorf("%s: manifest's image size %dx%d disagrees with ImageSize %d", dir, m.ImageW, m.ImageH, c.settings.ImageSize)
	}
	for _, name := range c.head.required() {
		if _, ok := ts[name]; !ok {
			return fmt.Errorf("%s: %s checkpoint has no tensor %q", dir, c.method, name)
		}
	}
	names := make([]string, 0, len(ts))
	for name := range ts {
		names = append(names, name)
	}
	sort.Strings(names)
	vars := mlctx.New().Checked(false)
	for _, name := range names {
		t := ts[name]
		scope, vname := mlctx.SplitScope(name)
		if scope == "" || vname == "" {
			return fmt.Errorf("%s: bad tensor name %q", dir, name)
		}
		n := 1
		for _, d := range t.Shape {
			n *= d
		}
		if n != len(t.Data) {
			return fmt.Errorf("%s: tensor %q has %d values for shape %v", dir, name, len(t.Data), t.Shape)
		}
		vars.InAbsPath(scope).VariableWithValue(vname, tensors.FromFlatDataAndDimensions(t.Data, t.Shape...))
	}
	c.vars, c.execs = vars, map[string]*mlctx.Exec{}
	c.epochsDone, c.history, c.fitted, c.loaded = st.EpochsDone, st.History, true, true
	c.ch, c.gh, c.gw, c.dim = m.Channels, st.Grid[0], st.Grid[1], st.Dim
	return nil
}

// resume loads a training checkpoint of the same recipe from CheckpointDir, if there is one.
func (c *core) resume(set *features.Set) bool {
	dir := c.training.CheckpointDir
	if dir == "" || c.epochsDone > 0 {
		return false
	}
	if _, err := os.Stat(filepath.Join(dir, methods.ManifestFile)); err != nil {
		return false
	}
	m, ts, sv, err := readCheckpoint(dir, c.method)
	if err != nil {
		return false
	}
	other, err := c.head.recipeOf(sv.Config)
	if err != nil || string(other) != string(c.head.recipe()) {
		return false
	}
	if sv.State.Grid != [2]int{set.H, set.W} || sv.State.Dim != set.D {
		return false
	}
	if err := c.restore(dir, m, ts, sv); err != nil {
		return false
	}
	c.loaded = false
	return true
}
