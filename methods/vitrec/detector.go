package vitrec

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/gonomaly/gonomaly/methods/internal/trainloop"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/anomalymap"
	"github.com/gonomaly/gonomaly/methods/compute"
	"github.com/gonomaly/gonomaly/methods/nn"
	"github.com/gonomaly/gonomaly/methods/safetensors"
)

// formatVersion is the checkpoint format this package writes and reads.
const formatVersion = 1

// modelScope holds the model's variables; the optimiser's live under adamScope.
const (
	modelScope = "/vit"
	adamScope  = "/adam"
)

// Detector is the ViT inpainting anomaly detector.
type Detector struct {
	cfg  Config
	vars *mlctx.Context
	// History is the masked-patch loss of every training step.
	History []float64
	// OnEpoch, when set, is called after every finished epoch (1-based); its error stops Fit.
	OnEpoch func(epoch int) error

	epochsDone int
	fitted     bool
	loaded     bool
	infer      *mlctx.Exec
	attnExec   *mlctx.Exec
}

// New builds an unfitted detector.
func New(cfg Config) (*Detector, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Detector{cfg: cfg, vars: newVars(cfg)}, nil
}

func newVars(cfg Config) *mlctx.Context {
	v := mlctx.New().Checked(false)
	v.SetParam(mlctx.ParamInitialSeed, int64(cfg.Seed)+1)
	return v
}

// Config returns the detector's configuration.
func (d *Detector) Config() Config { return d.cfg }

// Settings implements methods.Configured.
func (d *Detector) Settings() methods.Settings { return d.cfg.Settings }

// Name is the catalogue name, "vitrec".
func (d *Detector) Name() string { return "vitrec" }

// Group returns the test-time mask group of token (row, col) of the patch grid: with 4 groups a 2 x 2
// tiling, so that a masked token's four neighbours are visible.
func (c Config) Group(row, col int) int {
	if c.MaskGroups == 1 {
		return 0
	}
	return (row%2)*2 + col%2
}

// toTensor stacks images (values in [0,1]) into [N, H, W, C] centred to [-0.5, 0.5].
func toTensor(imgs []datasets.Image) *tensors.Tensor {
	im := imgs[0]
	per := im.H * im.W * im.C
	buf := make([]float32, len(imgs)*per)
	for i, m := range imgs {
		for j, v := range m.Pix {
			buf[i*per+j] = v - 0.5
		}
	}
	return tensors.FromFlatDataAndDimensions(buf, len(imgs), im.H, im.W, im.C)
}

// groupMask is the [n, T] mask of test pass k (1 where the token is in group k); with one group,
// nothing is masked.
func (d *Detector) groupMask(n, k int) *tensors.Tensor {
	g := d.cfg.grid()
	t := g * g
	buf := make([]float32, n*t)
	if d.cfg.MaskGroups > 1 {
		for i := 0; i < n; i++ {
			for r := 0; r < g; r++ {
				for c := 0; c < g; c++ {
					if d.cfg.Group(r, c) == k {
						buf[i*t+r*g+c] = 1
					}
				}
			}
		}
	}
	return tensors.FromFlatDataAndDimensions(buf, n, t)
}

// Fit trains the transformer to inpaint masked patches of normal images.
func (d *Detector) Fit(ctx context.Context, train methods.Images) error {
	cfg := d.cfg
	n := train.Len()
	if n == 0 {
		return fmt.Errorf("vitrec: no training images")
	}
	imgs := make([]datasets.Image, n)
	for i := range imgs {
		im, err := train.Image(i)
		if err != nil {
			return fmt.Errorf("vitrec: training: %w", err)
		}
		if err := cfg.CheckInput(train, i, im, cfg.Channels); err != nil {
			return fmt.Errorf("vitrec: training: %w", err)
		}
		imgs[i] = im
	}
	if d.resume() {
		methods.ReportProgress(ctx, methods.Event{Task: "vitrec: resumed from " + cfg.CheckpointDir, Done: d.epochsDone, Total: cfg.Epochs})
	}
	trainExec, err := d.newTrainExec()
	if err != nil {
		return err
	}
	batch := min(cfg.BatchSize, n)
	stepsPerEpoch := n / batch
	g := cfg.grid()
	t := g * g
	masked := max(t/cfg.MaskGroups, 1)
	var order []int
	loop := trainloop.Loop{
		Task: "vitrec: training", Epochs: cfg.Epochs, Steps: stepsPerEpoch, Seed: cfg.Seed,
		EpochStart: func(_ int, rng *rand.Rand) { order = rng.Perm(n) },
		Step: func(epoch, s int, rng *rand.Rand) (float64, map[string]float64, error) {
			sel := make([]datasets.Image, batch)
			for i, j := range order[s*batch : (s+1)*batch] {
				sel[i] = imgs[j]
			}
			mask := make([]float32, batch*t)
			weight := make([]float32, batch*t)
			for i := 0; i < batch; i++ {
				if cfg.MaskGroups == 1 {
					for j := 0; j < t; j++ {
						weight[i*t+j] = 1
					}
					continue
				}
				for _, j := range rng.Perm(t)[:masked] {
					mask[i*t+j], weight[i*t+j] = 1, 1
				}
			}
			out, err := trainExec.Exec(toTensor(sel), tensors.FromFlatDataAndDimensions(mask, batch, t),
				tensors.FromFlatDataAndDimensions(weight, batch, t))
			if err != nil {
				return 0, nil, fmt.Errorf("vitrec: training step: %w", err)
			}
			loss := float64(tensors.ToScalar[float32](out[0]))
			if math.IsNaN(loss) {
				return 0, nil, fmt.Errorf("vitrec: training diverged at epoch %d step %d (loss NaN)", epoch+1, s+1)
			}
			d.History = append(d.History, loss)
			return loss, nil, nil
		},
		CheckpointEvery: cfg.CheckpointEvery, EpochsDone: &d.epochsDone,
		EpochEnd: func(epochs int) error {
			d.fitted = true // OnEpoch may predict
			if d.OnEpoch != nil {
				return d.OnEpoch(epochs)
			}
			return nil
		},
	}
	if cfg.CheckpointDir != "" {
		loop.Checkpoint = func() error { return d.save(cfg.CheckpointDir, true) }
	}
	err = loop.Run(ctx)
	d.fitted = d.epochsDone > 0
	return err
}

// newTrainExec compiles one training step (inputs: images, token mask, loss weights; output: loss).
func (d *Detector) newTrainExec() (*mlctx.Exec, error) {
	cfg := d.cfg
	backend, err := compute.Backend()
	if err != nil {
		return nil, err
	}
	return mlctx.NewExec(backend, d.vars, func(vctx *mlctx.Context, x, mask, weight *Node) *Node {
		pred, target, _ := forward(vctx.InAbsPath(modelScope), x, mask, cfg)
		loss := maskedMSE(pred, target, weight)
		nn.AdamStep(vctx, loss, nn.AdamConfig{LearningRate: cfg.LearningRate, Beta1: cfg.Beta1, Beta2: cfg.Beta2,
			State: adamScope, Params: nn.Trainable(vctx, x.Graph(), modelScope)}, nil)
		return loss
	})
}

func (d *Detector) model(vctx *mlctx.Context) *mlctx.Context {
	m := vctx.InAbsPath(modelScope)
	if d.loaded {
		// A loaded checkpoint must hold every variable: refuse to invent one.
		m = m.Reuse()
	}
	return m
}

// run inpaints images (one pass per mask group) and hands fn each image and its reconstruction
// (every patch as predicted while masked; values in [0,1]).
func (d *Detector) run(ctx context.Context, images methods.Images, fn func(i int, recon, input datasets.Image) error) error {
	if !d.fitted {
		return fmt.Errorf("vitrec: %w", methods.ErrNotFitted)
	}
	if d.infer == nil {
		backend, err := compute.Backend()
		if err != nil {
			return err
		}
		d.infer, err = mlctx.NewExec(backend, d.vars, func(vctx *mlctx.Context, x, mask *Node) *Node {
			pred, _, _ := forward(d.model(vctx), x, mask, d.cfg)
			return unpatchify(pred, d.cfg.ImageSize, d.cfg.Patch, d.cfg.Channels)
		})
		if err != nil {
			return err
		}
	}
	cfg := d.cfg
	checked := cfg.Checked(images, cfg.Channels)
	n, batch := images.Len(), cfg.FeatureBatch
	for lo := 0; lo < n; lo += batch {
		if err := ctx.Err(); err != nil {
			return err
		}
		hi := min(lo+batch, n)
		sel := make([]datasets.Image, hi-lo)
		for i := range sel {
			im, err := checked.Image(lo + i)
			if err != nil {
				return fmt.Errorf("vitrec: %w", err)
			}
			sel[i] = im
		}
		x := toTensor(sel)
		size, p, c := cfg.ImageSize, cfg.Patch, cfg.Channels
		recon := make([]datasets.Image, len(sel))
		for i := range recon {
			recon[i] = datasets.NewImage(size, size, c)
		}
		for k := 0; k < cfg.MaskGroups; k++ {
			out, err := d.infer.Exec(x, d.groupMask(len(sel), k))
			if err != nil {
				return fmt.Errorf("vitrec: inference: %w", err)
			}
			flat := tensors.MustCopyFlatData[float32](out[0])
			out[0].FinalizeAll()
			per := size * size * c
			for i := range sel {
				for y := 0; y < size; y++ {
					for xx := 0; xx < size; xx++ {
						if cfg.Group(y/p, xx/p) != k {
							continue
						}
						o := (y*size + xx) * c
						for ch := 0; ch < c; ch++ {
							recon[i].Pix[o+ch] = flat[i*per+o+ch] + 0.5
						}
					}
				}
			}
		}
		for i := range sel {
			if err := fn(lo+i, recon[i], sel[i]); err != nil {
				return err
			}
		}
		methods.ReportProgress(ctx, methods.Event{Task: "vitrec: predicting", Done: hi, Total: n, Finished: hi == n})
	}
	return nil
}

// Reconstruct returns every image as the model inpaints it (each patch predicted while masked),
// values in [0,1] (not clipped).
func (d *Detector) Reconstruct(ctx context.Context, images methods.Images) ([]datasets.Image, error) {
	out := make([]datasets.Image, images.Len())
	err := d.run(ctx, images, func(i int, r, _ datasets.Image) error {
		out[i] = r
		return nil
	})
	return out, err
}

// ErrorMap is the per-pixel squared inpainting error averaged over channels, unsmoothed.
func ErrorMap(input, recon datasets.Image) datasets.Image {
	m := datasets.NewImage(input.H, input.W, 1)
	for p := range m.Pix {
		var s float32
		for c := 0; c < input.C; c++ {
			e := input.Pix[p*input.C+c] - recon.Pix[p*input.C+c]
			s += e * e
		}
		m.Pix[p] = s / float32(input.C)
	}
	return m
}

// Predict scores images: the map is ErrorMap smoothed with a Gaussian of Config.Sigma, the image score
// its maximum.
func (d *Detector) Predict(ctx context.Context, images methods.Images) ([]methods.Prediction, error) {
	return methods.CollectPredictions(ctx, images, d.PredictEach)
}

// PredictEach implements methods.Streamer: FeatureBatch images at a time.
func (d *Detector) PredictEach(ctx context.Context, images methods.Images, fn func(int, methods.Prediction) error) error {
	return d.run(ctx, images, func(i int, recon, input datasets.Image) error {
		m := anomalymap.GaussianBlur(ErrorMap(input, recon), d.cfg.Sigma)
		return fn(i, methods.Prediction{Score: anomalymap.ScoreMax(m), Map: m})
	})
}

// Attention holds one image's attention weights: W[b][h] is block b's head h, a Tokens x Tokens
// row-major matrix whose row q is how token q spreads its attention over the tokens (a softmax: it
// sums to 1). Tokens are numbered row-major over the Grid x Grid patch grid.
type Attention struct {
	Grid, Tokens int
	W            [][][]float32
}

// Attention returns every block's attention weights for images, computed in test pass group (the
// tokens of that mask group replaced by the mask token; -1: nothing masked).
func (d *Detector) Attention(ctx context.Context, images methods.Images, group int) ([]Attention, error) {
	if !d.fitted {
		return nil, fmt.Errorf("vitrec: %w", methods.ErrNotFitted)
	}
	if group < -1 || group >= d.cfg.MaskGroups {
		return nil, fmt.Errorf("vitrec: mask group %d out of range (-1..%d)", group, d.cfg.MaskGroups-1)
	}
	if d.attnExec == nil {
		backend, err := compute.Backend()
		if err != nil {
			return nil, err
		}
		d.attnExec, err = mlctx.NewExec(backend, d.vars, func(vctx *mlctx.Context, x, mask *Node) []*Node {
			_, _, attn := forward(d.model(vctx), x, mask, d.cfg)
			return attn
		})
		if err != nil {
			return nil, err
		}
	}
	cfg := d.cfg
	checked := cfg.Checked(images, cfg.Channels)
	g := cfg.grid()
	t := g * g
	out := make([]Attention, images.Len())
	for lo := 0; lo < images.Len(); lo += cfg.FeatureBatch {
		hi := min(lo+cfg.FeatureBatch, images.Len())
		sel := make([]datasets.Image, hi-lo)
		for i := range sel {
			im, err := checked.Image(lo + i)
			if err != nil {
				return nil, fmt.Errorf("vitrec: %w", err)
			}
			sel[i] = im
		}
		mask := d.groupMask(len(sel), max(group, 0))
		if group < 0 {
			mask = tensors.FromFlatDataAndDimensions(make([]float32, len(sel)*t), len(sel), t)
		}
		res, err := d.attnExec.Exec(toTensor(sel), mask)
		if err != nil {
			return nil, fmt.Errorf("vitrec: attention: %w", err)
		}
		for i := range sel {
			out[lo+i] = Attention{Grid: g, Tokens: t, W: make([][][]float32, len(res))}
		}
		for b, r := range res {
			flat := tensors.MustCopyFlatData[float32](r)
			r.FinalizeAll()
			for i := range sel {
				heads := make([][]float32, cfg.Heads)
				for h := range heads {
					o := (i*cfg.Heads + h) * t * t
					heads[h] = flat[o : o+t*t]
				}
				out[lo+i].W[b] = heads
			}
		}
	}
	return out, nil
}

// checkpointConfig is what the manifest records beside the configuration.
type checkpointConfig struct {
	Config
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
	raw, err := json.Marshal(checkpointConfig{Config: d.cfg, EpochsDone: d.epochsDone, History: d.History})
	if err != nil {
		return err
	}
	ts := map[string]safetensors.Tensor{}
	for v := range d.vars.IterVariables() {
		name := v.ScopeAndName()
		if !strings.HasPrefix(name, modelScope+"/") && !(withOptimizer && strings.HasPrefix(name, adamScope)) {
			continue
		}
		t := v.MustValue()
		ts[name] = safetensors.Tensor{DType: "F32", Shape: t.Shape().Dimensions, Data: tensors.MustCopyFlatData[float32](t)}
	}
	return methods.SaveCheckpoint(dir, methods.Manifest{Method: d.Name(), FormatVersion: formatVersion, Config: raw,
		ImageH: d.cfg.ImageSize, ImageW: d.cfg.ImageSize, Channels: d.cfg.Channels}, ts)
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
	d.fitted, d.infer, d.attnExec = other.epochsDone > 0, nil, nil
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

// Load reads a checkpoint written by Save (or a training checkpoint).
func Load(dir string) (*Detector, error) { return load(dir) }

func load(dir string) (*Detector, error) {
	m, ts, err := methods.ReadCheckpoint(dir, "vitrec", formatVersion)
	if err != nil {
		return nil, err
	}
	var cc checkpointConfig
	if err := json.Unmarshal(m.Config, &cc); err != nil {
		return nil, fmt.Errorf("%s: bad vitrec configuration: %v", dir, err)
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
	d.epochsDone, d.History, d.fitted, d.loaded = cc.EpochsDone, cc.History, true, true
	return d, nil
}
