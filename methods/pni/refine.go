package pni

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // graph code reads best unqualified
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/datasets/anomalysynth"
	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/backbone"
	"github.com/gonomaly/gonomaly/methods/compute"
	"github.com/gonomaly/gonomaly/methods/nn"
	"github.com/gonomaly/gonomaly/methods/safetensors"
)

// RefineConfig configures PNI's optional pixel-wise refinement network (paper Sec. 3.5; the authors'
// pixelwise_refinement.py): an encoder-decoder that takes an image and its PNI anomaly map, fuses them
// early, and predicts a correction to the map; it is trained on normal images with synthetic defects,
// whose masks are the targets. The refined map is (1-Weight)*map + Weight*(map + correction).
//
// What differs from the paper, and why: the paper's encoder is an ImageNet DenseNet-161 (one copy for
// the image and one for the map, averaged after the early layers) trained for 55,000 iterations at
// 320 px; offline and on two cores this is a small from-scratch network with the same shape (two
// early-fused stems, a strided encoder, a decoder of bilinear x2 upsampling then 1x1 and 3x3
// convolutions, no skips) trained for a few hundred steps at a 10x larger learning rate. Defects are
// DRAEM's Perlin anomalies (datasets/anomalysynth). The loss is the paper's: squared error of the map
// plus squared error of its x and y differences, weighted 1/2, 1/4, 1/4.
type RefineConfig struct {
	// Enabled turns the stage on; Fit then calls FitRefinement.
	Enabled bool `json:"enabled"`
	// Samples is the number of synthetic training images; default 2 per train image.
	Samples int `json:"samples,omitempty"`
	// Clean is the fraction of samples left without a defect (their target is an empty mask, which
	// teaches the network to leave normal maps alone); default 0.25.
	Clean float64 `json:"clean"`
	// Width is the channel count of the first encoder stage; default 16.
	Width int `json:"width"`
	// Epochs, BatchSize and LearningRate train with Adam; defaults 20, 8, 1e-3 (paper: 1e-4, batch 8).
	Epochs       int     `json:"epochs"`
	BatchSize    int     `json:"batch_size"`
	LearningRate float64 `json:"learning_rate"`
	// Weight is the share of the network's prediction in the refined map; 0.1 in the authors' code.
	Weight float64 `json:"weight"`
}

func (r RefineConfig) withDefaults() RefineConfig {
	if r.Clean <= 0 || r.Clean >= 1 {
		r.Clean = 0.25
	}
	if r.Width <= 0 {
		r.Width = 16
	}
	if r.Epochs <= 0 {
		r.Epochs = 20
	}
	if r.BatchSize <= 0 {
		r.BatchSize = 8
	}
	if r.LearningRate <= 0 {
		r.LearningRate = 1e-3
	}
	if r.Weight <= 0 || r.Weight > 1 {
		r.Weight = 0.1
	}
	return r
}

// refiner is a trained refinement network and the normalisation that maps PNI scores to its [0, 1]
// input range.
type refiner struct {
	vars   *mlctx.Context
	exec   *mlctx.Exec
	lo, hi float32
	Losses []float64
}

const refineScope = "pni_refine"

// refineNet is the encoder-decoder; img is normalised [N,H,W,C], m is the clipped map [N,H,W,1]. It
// returns the correction [N,H,W,1].
func refineNet(ctx *mlctx.Context, img, m *Node, width int) *Node {
	conv := func(name string, x *Node, ch, kernel, stride int) *Node {
		return nn.Conv(ctx.In(name), x).Channels(ch).Kernel(kernel).Stride(stride).Padding(kernel / 2).Done()
	}
	dims := func(x *Node) (int, int) { return x.Shape().Dimensions[1], x.Shape().Dimensions[2] }
	sizes := [][2]int{}
	h, w := dims(img)
	sizes = append(sizes, [2]int{h, w})
	// Early fusion: image and map have their own stems, averaged (the paper averages the early
	// features of its two encoders).
	x := MulScalar(Add(nn.ReLU(conv("image_stem", img, width, 3, 2)), nn.ReLU(conv("map_stem", m, width, 3, 2))), 0.5)
	h, w = dims(x)
	sizes = append(sizes, [2]int{h, w})
	ch := width
	for i := 1; i <= 2; i++ {
		ch *= 2
		x = nn.ReLU(conv(fmt.Sprintf("encoder_%d", i), x, ch, 3, 2))
		h, w = dims(x)
		sizes = append(sizes, [2]int{h, w})
	}
	for i := len(sizes) - 2; i >= 0; i-- {
		x = nn.UpsampleBilinear(x, sizes[i][0], sizes[i][1], true)
		ch = max(4, ch/2)
		x = nn.ReLU(conv(fmt.Sprintf("decoder_%d_a", i), x, ch, 1, 1))
		x = nn.ReLU(conv(fmt.Sprintf("decoder_%d_b", i), x, ch, 3, 1))
	}
	return conv("out", x, 1, 1, 1)
}

// diffMatrix is D with (x D)[j] = x[j] - x[j+1] and 0 for the last column: a forward difference with
// replicate padding, as a product (Slice has no gradient on the pure-Go backend).
func diffMatrix(n int) [][]float32 {
	d := make([][]float32, n)
	for i := range d {
		d[i] = make([]float32, n)
	}
	for j := 0; j+1 < n; j++ {
		d[j][j], d[j+1][j] = 1, -1
	}
	return d
}

// refineLoss is the paper's loss: mean squared error of the map and of its x and y differences,
// weighted 1/2, 1/4, 1/4.
func refineLoss(pred, target *Node) *Node {
	g := pred.Graph()
	dimsOf := pred.Shape().Dimensions
	n, h, w := dimsOf[0], dimsOf[1], dimsOf[2]
	e := Reshape(Sub(pred, target), n, h, w)
	dx := nn.MatMul(Reshape(e, n*h, w), Const(g, diffMatrix(w)))
	dy := nn.MatMul(Reshape(TransposeAllDims(e, 0, 2, 1), n*w, h), Const(g, diffMatrix(h)))
	return Add(MulScalar(ReduceAllMean(Square(e)), 0.5),
		MulScalar(Add(ReduceAllMean(Square(dx)), ReduceAllMean(Square(dy))), 0.25))
}

// normalizedImage is img with ImageNet's per-channel normalisation (the channel mean for grey images).
func normalizedImage(img datasets.Image) []float32 {
	out := make([]float32, len(img.Pix))
	for i, v := range img.Pix {
		c := i % img.C
		mean, std := backbone.ImageNetMean[min(c, 2)], backbone.ImageNetStd[min(c, 2)]
		if img.C != 3 {
			mean, std = 0.449, 0.226
		}
		out[i] = (v - mean) / std
	}
	return out
}

// normalize maps a raw PNI map value to the network's scale; clip bounds it to [0, 1].
func (r *refiner) normalize(v float32, clip bool) float32 {
	x := (v - r.lo) / (r.hi - r.lo)
	if clip {
		x = min(max(x, 0), 1)
	}
	return x
}

// refineSample is one synthetic training example.
type refineSample struct {
	img, m, mask []float32
}

// FitRefinement trains the refinement network (RefineConfig) on train, the normal images PNI was
// fitted on: each sample is a train image with a DRAEM Perlin defect (or none), scored by PNI with the
// bank patches of its own source image left out, so that its normal regions score as an unseen image's
// would rather than as exact bank matches.
func (p *PNI) FitRefinement(ctx context.Context, train methods.Images) error {
	if p.bank == nil {
		return fmt.Errorf("pni: refinement: %w", methods.ErrNotFitted)
	}
	cfg := p.cfg.Refine.withDefaults()
	n := train.Len()
	if n == 0 {
		return fmt.Errorf("pni: refinement: no train images")
	}
	samples := cfg.Samples
	if samples <= 0 {
		samples = 2 * n
	}
	gen := anomalysynth.DefaultPerlin()
	gen.CleanProbability = cfg.Clean
	start := time.Now()
	var data []refineSample
	var all []float32
	const chunk = 16
	for lo := 0; lo < samples; lo += chunk {
		hi := min(samples, lo+chunk)
		var imgs methods.ImageList
		var masks []datasets.Image
		var src []int
		for s := lo; s < hi; s++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			i := s % n
			img, err := train.Image(i)
			if err != nil {
				return fmt.Errorf("pni: refinement: %w", err)
			}
			if err := p.cfg.CheckInput(train, i, img, p.ch); err != nil {
				return fmt.Errorf("pni: refinement: %w", err)
			}
			res, err := gen.Apply(img, p.cfg.Seed*1_000_003+uint64(s))
			if err != nil {
				return fmt.Errorf("pni: refinement: synthetic defect on train image %d: %w", i, err)
			}
			imgs, masks, src = append(imgs, res.Image), append(masks, res.Mask), append(src, i)
		}
		feats, err := p.Features(ctx, imgs)
		if err != nil {
			return err
		}
		for k := range imgs {
			scores, err := p.patchScores(ctx, feats, k, src[k])
			if err != nil {
				return err
			}
			m := p.mapFromScores(scores, feats.H, feats.W)
			data = append(data, refineSample{img: normalizedImage(imgs[k]), m: m.Pix, mask: masks[k].Pix})
			all = append(all, m.Pix...)
		}
		methods.ReportProgress(ctx, methods.Event{Task: "pni: refinement samples", Done: hi, Total: samples, Elapsed: time.Since(start)})
	}
	// The network sees maps on a [0, 1] scale: the 1st and 99th percentiles of the training maps.
	slices.Sort(all)
	r := &refiner{lo: all[len(all)/100], hi: all[len(all)*99/100]}
	if !(r.hi > r.lo) {
		r.hi = r.lo + 1
	}
	for _, d := range data {
		for j, v := range d.m {
			d.m[j] = r.normalize(v, true)
		}
	}
	if err := r.train(ctx, cfg, data, p.h, p.w, p.ch, p.cfg.Seed); err != nil {
		return err
	}
	p.refine = r
	return nil
}

// train fits the network with Adam on fixed-size shuffled batches.
func (r *refiner) train(ctx context.Context, cfg RefineConfig, data []refineSample, h, w, c int, seed uint64) error {
	backend, err := compute.Backend()
	if err != nil {
		return err
	}
	r.vars = mlctx.New()
	r.vars.SetRNGStateFromSeed(int64(seed) + 7)
	opt := optimizers.Adam().LearningRate(cfg.LearningRate).Done()
	step, err := mlctx.NewExec(backend, r.vars.In(refineScope), func(ctx *mlctx.Context, img, m, mask *Node) *Node {
		loss := refineLoss(Add(m, refineNet(ctx, img, m, cfg.Width)), mask)
		opt.UpdateGraph(ctx, img.Graph(), loss)
		return loss
	})
	if err != nil {
		return err
	}
	batch := min(cfg.BatchSize, len(data))
	steps := len(data) / batch
	rng := rand.New(rand.NewPCG(seed, 0x4ef1))
	bi, bm, bt := make([]float32, batch*h*w*c), make([]float32, batch*h*w), make([]float32, batch*h*w)
	start := time.Now()
	r.Losses = r.Losses[:0]
	for epoch := 0; epoch < cfg.Epochs; epoch++ {
		perm := rng.Perm(len(data))
		var sum float64
		for s := 0; s < steps; s++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			for b, j := range perm[s*batch : (s+1)*batch] {
				copy(bi[b*h*w*c:], data[j].img)
				copy(bm[b*h*w:], data[j].m)
				copy(bt[b*h*w:], data[j].mask)
			}
			out, err := step.Exec(tensors.FromFlatDataAndDimensions(bi, batch, h, w, c),
				tensors.FromFlatDataAndDimensions(bm, batch, h, w, 1), tensors.FromFlatDataAndDimensions(bt, batch, h, w, 1))
			if err != nil {
				return fmt.Errorf("pni: training the refinement network: %w", err)
			}
			loss := float64(tensors.ToScalar[float32](out[0]))
			out[0].FinalizeAll()
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				return fmt.Errorf("pni: refinement loss diverged (%v) at epoch %d; lower RefineConfig.LearningRate", loss, epoch+1)
			}
			sum += loss
			methods.ReportProgress(ctx, methods.Event{Task: "pni: refinement network", Done: epoch*steps + s + 1, Total: cfg.Epochs * steps,
				Elapsed: time.Since(start), Metrics: map[string]float64{"loss": loss, "epoch": float64(epoch + 1)}})
		}
		r.Losses = append(r.Losses, sum/float64(steps))
	}
	methods.ReportProgress(ctx, methods.Event{Task: "pni: refinement network", Done: cfg.Epochs * steps, Total: cfg.Epochs * steps,
		Elapsed: time.Since(start), Finished: true})
	return nil
}

// apply refines one map (raw PNI scale, h x w) of img in place onto the normalised scale.
func (r *refiner) apply(cfg RefineConfig, img datasets.Image, m datasets.Image) (datasets.Image, error) {
	if r.exec == nil {
		backend, err := compute.Backend()
		if err != nil {
			return datasets.Image{}, err
		}
		r.exec, err = mlctx.NewExec(backend, r.vars.In(refineScope).Reuse(), func(ctx *mlctx.Context, img, m *Node) *Node {
			return Add(m, refineNet(ctx, img, m, cfg.Width))
		})
		if err != nil {
			return datasets.Image{}, err
		}
	}
	clipped := make([]float32, len(m.Pix))
	for i, v := range m.Pix {
		clipped[i] = r.normalize(v, true)
	}
	out, err := r.exec.Exec(tensors.FromFlatDataAndDimensions(normalizedImage(img), 1, img.H, img.W, img.C),
		tensors.FromFlatDataAndDimensions(clipped, 1, m.H, m.W, 1))
	if err != nil {
		return datasets.Image{}, fmt.Errorf("pni: refinement network: %w", err)
	}
	pred := tensors.MustCopyFlatData[float32](out[0])
	out[0].FinalizeAll()
	// The unclipped term keeps the order of scores beyond the training range.
	res := datasets.NewImage(m.H, m.W, 1)
	wt := float32(cfg.Weight)
	for i, v := range m.Pix {
		res.Pix[i] = (1-wt)*r.normalize(v, false) + wt*pred[i]
	}
	return res, nil
}

// Refine replaces the maps of preds (PNI's, for images, in order) by refined ones. Predict calls it when
// the detector was fitted with refinement; image scores are left as they are (the stage is pixel-wise).
func (p *PNI) Refine(ctx context.Context, images methods.Images, preds []methods.Prediction) error {
	if p.refine == nil {
		return fmt.Errorf("pni: refinement: %w", methods.ErrNotFitted)
	}
	if images.Len() != len(preds) {
		return fmt.Errorf("pni: refinement: %d images for %d predictions", images.Len(), len(preds))
	}
	cfg := p.cfg.Refine.withDefaults()
	start := time.Now()
	for i := range preds {
		if err := ctx.Err(); err != nil {
			return err
		}
		img, err := images.Image(i)
		if err != nil {
			return fmt.Errorf("pni: refinement: %w", err)
		}
		if err := p.cfg.CheckInput(images, i, img, p.ch); err != nil {
			return fmt.Errorf("pni: refinement: %w", err)
		}
		if m := preds[i].Map; m.H != p.h || m.W != p.w || m.C != 1 || len(m.Pix) != p.h*p.w {
			return fmt.Errorf("pni: refinement: map %d is %dx%dx%d, want %dx%dx1", i, m.H, m.W, m.C, p.h, p.w)
		}
		if preds[i].Map, err = p.refine.apply(cfg, img, preds[i].Map); err != nil {
			return err
		}
		methods.ReportProgress(ctx, methods.Event{Task: "pni: refining maps", Done: i + 1, Total: len(preds), Elapsed: time.Since(start), Finished: i+1 == len(preds)})
	}
	return nil
}

// Refined reports whether the detector has a trained refinement network.
func (p *PNI) Refined() bool { return p.refine != nil }

// RefineLosses returns the mean training loss of each refinement epoch (nil without refinement).
func (p *PNI) RefineLosses() []float64 {
	if p.refine == nil {
		return nil
	}
	return p.refine.Losses
}

const refinePrefix = "refine:"

// addTensors adds the refinement's weights and normalisation to a checkpoint's tensors.
func (r *refiner) addTensors(ts map[string]safetensors.Tensor) error {
	for v := range r.vars.IterVariables() {
		if !v.Trainable || !strings.HasPrefix(v.Scope(), "/"+refineScope) {
			continue
		}
		t, err := v.Value()
		if err != nil {
			return err
		}
		ts[refinePrefix+v.ScopeAndName()] = safetensors.Tensor{Shape: t.Shape().Dimensions, Data: tensors.MustCopyFlatData[float32](t)}
	}
	ts[refineNorm] = safetensors.Tensor{Shape: []int{2}, Data: []float32{r.lo, r.hi}}
	return nil
}

const refineNorm = "refine_norm"

// loadRefiner rebuilds a refiner from checkpoint tensors; nil when the checkpoint has none.
func loadRefiner(dir string, ts map[string]safetensors.Tensor) (*refiner, error) {
	norm, ok := ts[refineNorm]
	if !ok {
		return nil, nil
	}
	if len(norm.Data) != 2 || !(norm.Data[1] > norm.Data[0]) {
		return nil, fmt.Errorf("%s: pni checkpoint: %s must hold two increasing values", dir, refineNorm)
	}
	r := &refiner{vars: mlctx.New(), lo: norm.Data[0], hi: norm.Data[1]}
	var names []string
	for name := range ts {
		if strings.HasPrefix(name, refinePrefix) {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: pni checkpoint has %s but no refinement weights", dir, refineNorm)
	}
	slices.Sort(names)
	for _, name := range names {
		t := ts[name]
		scope, vname := mlctx.SplitScope(name[len(refinePrefix):])
		if scope == "" || vname == "" {
			return nil, fmt.Errorf("%s: bad tensor name %q", dir, name)
		}
		r.vars.InAbsPath(scope).VariableWithValue(vname, tensors.FromFlatDataAndDimensions(t.Data, t.Shape...))
	}
	return r, nil
}
