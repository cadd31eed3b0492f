package ganomaly

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"

	"github.com/gonomaly/gonomaly/methods/internal/trainloop"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/anomalymap"
	"github.com/gonomaly/gonomaly/methods/compute"
	"github.com/gonomaly/gonomaly/methods/nn"
)

// formatVersion is the checkpoint format this package writes and reads.
const formatVersion = 1

// Step records the losses of one training step, for the notebook's training curves.
type Step struct {
	// D is the discriminator's loss; GAdv, GCon and GLat the generator's three terms (unweighted) and G
	// their weighted sum.
	D    float64 `json:"d"`
	GAdv float64 `json:"g_adv"`
	GCon float64 `json:"g_con"`
	GLat float64 `json:"g_lat"`
	G    float64 `json:"g"`
	// Reset is true when D's loss had collapsed below Config.ResetBelow and D was re-initialised.
	Reset bool `json:"reset,omitempty"`
}

// Detector is a GANomaly anomaly detector.
type Detector struct {
	cfg  Config
	vars *mlctx.Context
	// History holds every training step's losses, in order (kept across resumes).
	History []Step
	// OnEpoch, when set, is called after every finished epoch (1-based) with the detector usable for
	// Reconstruct and Predict: how the notebook records samples over training. Its error stops Fit.
	OnEpoch func(epoch int) error

	epochsDone int
	resets     int
	fitted     bool
	loaded     bool
	infer      *mlctx.Exec
}

// New builds an unfitted detector.
func New(cfg Config) (*Detector, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Detector{cfg: cfg, vars: mlctx.New().Checked(false)}, nil
}

// Config returns the detector's configuration.
func (d *Detector) Config() Config { return d.cfg }

// Settings implements methods.Configured.
func (d *Detector) Settings() methods.Settings { return d.cfg.Settings }

// Name is the catalogue name, "ganomaly".
func (d *Detector) Name() string { return "ganomaly" }

// Resets counts the discriminator re-initialisations so far.
func (d *Detector) Resets() int { return d.resets }

// toTensor stacks images (values in [0,1]) into [N, H, W, C] scaled to [-1, 1], as the authors'
// Normalize((0.5,)*3, (0.5,)*3).
func toTensor(imgs []datasets.Image) *tensors.Tensor {
	im := imgs[0]
	per := im.H * im.W * im.C
	buf := make([]float32, len(imgs)*per)
	for i, m := range imgs {
		for j, v := range m.Pix {
			buf[i*per+j] = 2*v - 1
		}
	}
	return tensors.FromFlatDataAndDimensions(buf, len(imgs), im.H, im.W, im.C)
}

// Fit trains the generator and the discriminator on normal images.
func (d *Detector) Fit(ctx context.Context, train methods.Images) error {
	cfg := d.cfg
	n := train.Len()
	if n < 2 {
		return fmt.Errorf("ganomaly: need at least 2 training images (batch norm), got %d", n)
	}
	imgs := make([]datasets.Image, n)
	for i := range imgs {
		im, err := train.Image(i)
		if err != nil {
			return fmt.Errorf("ganomaly: training: %w", err)
		}
		if err := cfg.CheckInput(train, i, im, cfg.Channels); err != nil {
			return fmt.Errorf("ganomaly: training: %w", err)
		}
		imgs[i] = im
	}
	if d.resume() {
		methods.ReportProgress(ctx, methods.Event{Task: "ganomaly: resumed from " + cfg.CheckpointDir, Done: d.epochsDone, Total: cfg.Epochs})
	}
	trainExec, err := d.newTrainExec()
	if err != nil {
		return err
	}
	batch := min(cfg.BatchSize, n)
	stepsPerEpoch := n / batch // one batch shape compiles once; the remainder is reshuffled in
	var order []int
	loop := trainloop.Loop{
		Task: "ganomaly: training", Epochs: cfg.Epochs, Steps: stepsPerEpoch, Seed: cfg.Seed,
		EpochStart: func(_ int, rng *rand.Rand) { order = rng.Perm(n) },
		Step: func(epoch, s int, _ *rand.Rand) (float64, map[string]float64, error) {
			sel := make([]datasets.Image, batch)
			for i, j := range order[s*batch : (s+1)*batch] {
				sel[i] = imgs[j]
			}
			out, err := trainExec.Exec(toTensor(sel))
			if err != nil {
				return 0, nil, fmt.Errorf("ganomaly: training step: %w", err)
			}
			v := make([]float64, len(out))
			for i, o := range out {
				v[i] = float64(tensors.ToScalar[float32](o))
			}
			st := Step{D: v[0], GAdv: v[1], GCon: v[2], GLat: v[3], G: v[4]}
			if math.IsNaN(st.G) || math.IsNaN(st.D) {
				return 0, nil, fmt.Errorf("ganomaly: training diverged at epoch %d step %d (loss NaN)", epoch+1, s+1)
			}
			if st.D < cfg.ResetBelow {
				d.resetDiscriminator()
				st.Reset = true
			}
			d.History = append(d.History, st)
			return st.G, map[string]float64{"loss_d": st.D, "loss_g": st.G}, nil
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

// newTrainExec compiles one training step: both networks' losses and both Adam updates, returning
// the losses D, G adversarial, G contextual, G latent and G total.
func (d *Detector) newTrainExec() (*mlctx.Exec, error) {
	cfg := d.cfg
	backend, err := compute.Backend()
	if err != nil {
		return nil, err
	}
	return mlctx.NewExec(backend, d.vars, func(vctx *mlctx.Context, x *Node) []*Node {
		l := &layers{ctx: vctx, rng: rand.New(rand.NewPCG(cfg.Seed, 1)), training: true, strict: d.loaded}
		t := l.lossTerms(x, cfg)
		// Two optimisers, as the authors': each network is updated from its own loss only.
		g := x.Graph()
		adam := nn.AdamConfig{LearningRate: cfg.LearningRate, Beta1: cfg.Beta1, Beta2: cfg.Beta2}
		gAdam, dAdam := adam, adam
		gAdam.State, gAdam.Params = "/adam_g", nn.Trainable(vctx, g, scopeG)
		dAdam.State, dAdam.Params = "/adam_d", nn.Trainable(vctx, g, scopeD)
		nn.AdamStep(vctx, t.g, gAdam, nil)
		nn.AdamStep(vctx, t.d, dAdam, nil)
		return []*Node{t.d, t.gAdv, t.gCon, t.gLat, t.g}
	})
}

// resetDiscriminator draws D's weights afresh (the authors' reinit_d: netd.apply(weights_init)). As
// there, the optimiser's moments are kept.
func (d *Detector) resetDiscriminator() {
	d.resets++
	rng := rand.New(rand.NewPCG(d.cfg.Seed, 1000+uint64(d.resets)))
	var vs []*mlctx.Variable
	for v := range d.vars.IterVariables() {
		if isD(v) {
			vs = append(vs, v)
		}
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].ScopeAndName() < vs[j].ScopeAndName() })
	for _, v := range vs {
		if err := v.SetValue(initValue(rng, v.Name(), v.Shape().Dimensions)); err != nil {
			panic(err)
		}
	}
}

// run passes images through the generator in inference mode (batch norm on running statistics; the
// authors' test pass keeps batch statistics, which makes a score depend on the rest of its batch) and
// hands fn each image's latent distance and reconstruction (values in [0,1]).
func (d *Detector) run(ctx context.Context, images methods.Images, fn func(i int, score float32, recon, input datasets.Image) error) error {
	if !d.fitted {
		return fmt.Errorf("ganomaly: %w", methods.ErrNotFitted)
	}
	if d.infer == nil {
		backend, err := compute.Backend()
		if err != nil {
			return err
		}
		d.infer, err = mlctx.NewExec(backend, d.vars, func(vctx *mlctx.Context, x *Node) []*Node {
			l := &layers{ctx: vctx, rng: rand.New(rand.NewPCG(d.cfg.Seed, 1)), training: false, strict: true}
			fake, z, zHat := l.generator(x, d.cfg)
			return []*Node{ReduceMean(Square(Sub(z, zHat)), 1), fake}
		})
		if err != nil {
			return err
		}
	}
	checked := d.cfg.Checked(images, d.cfg.Channels)
	n, batch := images.Len(), d.cfg.FeatureBatch
	for lo := 0; lo < n; lo += batch {
		if err := ctx.Err(); err != nil {
			return err
		}
		hi := min(lo+batch, n)
		sel := make([]datasets.Image, hi-lo)
		for i := range sel {
			im, err := checked.Image(lo + i)
			if err != nil {
				return fmt.Errorf("ganomaly: %w", err)
			}
			sel[i] = im
		}
		out, err := d.infer.Exec(toTensor(sel))
		if err != nil {
			return fmt.Errorf("ganomaly: inference: %w", err)
		}
		scores := tensors.MustCopyFlatData[float32](out[0])
		fakes := tensors.MustCopyFlatData[float32](out[1])
		for _, o := range out {
			o.FinalizeAll()
		}
		for i, im := range sel {
			per := im.H * im.W * im.C
			r := datasets.Image{H: im.H, W: im.W, C: im.C, Pix: make([]float32, per)}
			for j, v := range fakes[i*per : (i+1)*per] {
				r.Pix[j] = (v + 1) / 2
			}
			if err := fn(lo+i, scores[i], r, im); err != nil {
				return err
			}
		}
		methods.ReportProgress(ctx, methods.Event{Task: "ganomaly: predicting", Done: hi, Total: n, Finished: hi == n})
	}
	return nil
}

// Reconstruct returns G(x) for every image, values in [0,1].
func (d *Detector) Reconstruct(ctx context.Context, images methods.Images) ([]datasets.Image, error) {
	out := make([]datasets.Image, images.Len())
	err := d.run(ctx, images, func(i int, _ float32, r, _ datasets.Image) error {
		out[i] = r
		return nil
	})
	return out, err
}

// ErrorMap is the per-pixel L1 reconstruction error |x - x̂| averaged over channels, unsmoothed.
func ErrorMap(input, recon datasets.Image) datasets.Image {
	m := datasets.NewImage(input.H, input.W, 1)
	for p := range m.Pix {
		var s float32
		for c := 0; c < input.C; c++ {
			s += float32(math.Abs(float64(input.Pix[p*input.C+c] - recon.Pix[p*input.C+c])))
		}
		m.Pix[p] = s / float32(input.C)
	}
	return m
}

// Predict scores images: the image score is the latent distance mean((z - ẑ)²) (ScoreLatent, the
// paper's; the authors then min-max normalise it over the test set, which does not change any ranking
// metric and is left out), or the maximum of the map (methods.ScoreMapMax). The map is our addition:
// ErrorMap smoothed with a Gaussian of Config.Sigma.
func (d *Detector) Predict(ctx context.Context, images methods.Images) ([]methods.Prediction, error) {
	return methods.CollectPredictions(ctx, images, d.PredictEach)
}

// PredictEach implements methods.Streamer: FeatureBatch images at a time.
func (d *Detector) PredictEach(ctx context.Context, images methods.Images, fn func(int, methods.Prediction) error) error {
	return d.run(ctx, images, func(i int, score float32, recon, input datasets.Image) error {
		m := anomalymap.GaussianBlur(ErrorMap(input, recon), d.cfg.Sigma)
		if d.cfg.ImageScore == methods.ScoreMapMax {
			score = anomalymap.ScoreMax(m)
		}
		return fn(i, methods.Prediction{Score: score, Map: m})
	})
}

// checkpointConfig is what the manifest records beside the configuration.
type checkpointConfig struct {
	Config
	EpochsDone int    `json:"epochs_done"`
	Resets     int    `json:"resets"`
	History    []Step `json:"history"`
}

// Save writes the fitted detector (without optimiser state) to dir.
func (d *Detector) Save(dir string) error {
	if !d.fitted {
		return methods.ErrNotFitted
	}
	return d.save(dir, false)
}

func (d *Detector) save(dir string, withOptimizer bool) error {
	raw, err := json.Marshal(checkpointConfig{Config: d.cfg, EpochsDone: d.epochsDone, Resets: d.resets, History: d.History})
	if err != nil {
		return err
	}
	var skip []string
	if !withOptimizer {
		skip = []string{"/adam"}
	}
	ts := trainloop.Tensors(d.vars, skip...)
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
	d.vars, d.epochsDone, d.History, d.resets = other.vars, other.epochsDone, other.History, other.resets
	d.fitted, d.loaded, d.infer = other.epochsDone > 0, true, nil
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
	m, ts, err := methods.ReadCheckpoint(dir, "ganomaly", formatVersion)
	if err != nil {
		return nil, err
	}
	var cc checkpointConfig
	if err := json.Unmarshal(m.Config, &cc); err != nil {
		return nil, fmt.Errorf("%s: bad ganomaly configuration: %v", dir, err)
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
	d.epochsDone, d.History, d.resets, d.fitted, d.loaded = cc.EpochsDone, cc.History, cc.Resets, true, true
	return d, nil
}
