// Package scores makes the anomaly score of a memory-bank or distribution method a small, pluggable
// value: a Func turns cached train features and test features (features.Set) into one score per test
// patch, and Predictions turns those into image scores and anomaly maps. Re-scoring a whole category
// with a new idea takes one call and no backbone pass.
//
// Built-ins: NearestL2 (PatchCore's score), KNNMean (SPADE-style k-NN mean), Cosine, and Mahalanobis
// (PaDiM's per-position Gaussian). A new score is written as plain Go (New) or as a GoMLX graph
// function of the bank and a chunk of queries (Graph), which runs on XLA when a plugin is present.
package scores

import (
	"context"
	"fmt"
	"math"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/anomalymap"
	"github.com/gonomaly/gonomaly/methods/coreset"
	"github.com/gonomaly/gonomaly/methods/features"
	"github.com/gonomaly/gonomaly/methods/knn"
)

// Func is an anomaly score: from train features (normal images only) and test features it returns
// test.Patches() scores in test's patch order (image, row, column); higher means more anomalous.
type Func interface {
	Name() string
	Score(ctx context.Context, train, test *features.Set) ([]float32, error)
}

// funcOf adapts a closure to Func.
type funcOf struct {
	name string
	fn   func(ctx context.Context, train, test *features.Set) ([]float32, error)
}

func (f funcOf) Name() string { return f.name }
func (f funcOf) Score(ctx context.Context, train, test *features.Set) ([]float32, error) {
	if err := checkSets(train, test); err != nil {
		return nil, fmt.Errorf("scores: %s: %w", f.name, err)
	}
	return f.fn(ctx, train, test)
}

// New makes a Func from a plain Go function.
func New(name string, fn func(ctx context.Context, train, test *features.Set) ([]float32, error)) Func {
	return funcOf{name, fn}
}

func checkSets(train, test *features.Set) error {
	if err := train.Validate(); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if err := test.Validate(); err != nil {
		return fmt.Errorf("test: %w", err)
	}
	if train.D != test.D {
		return fmt.Errorf("train features have %d dimensions, test %d", train.D, test.D)
	}
	if train.N == 0 {
		return fmt.Errorf("no train features")
	}
	return nil
}

// Bank returns the rows the bank-based scores search: all train patches, or with 0 < ratio < 1 a
// greedy k-center coreset of that fraction (coreset.GreedyKCenter, seeded).
func Bank(ctx context.Context, train *features.Set, ratio float64, seed uint64) ([]float32, error) {
	if ratio <= 0 || ratio >= 1 {
		return train.Data, nil
	}
	n := train.Patches()
	k := max(1, int(math.Round(ratio*float64(n))))
	idx, err := coreset.GreedyKCenter(ctx, train.Data, train.D, k, coreset.Options{Seed: seed})
	if err != nil {
		return nil, err
	}
	out := make([]float32, 0, k*train.D)
	for _, i := range idx {
		out = append(out, train.Data[i*train.D:(i+1)*train.D]...)
	}
	return out, nil
}

// NearestL2 scores a patch by its Euclidean distance to the nearest train patch: PatchCore's patch
// score (Roth et al., CVPR 2022, Eq. 6, before re-weighting).
type NearestL2 struct {
	// Ratio, when in (0, 1), searches a greedy coreset of that fraction of the train patches instead
	// of all of them (0: all).
	Ratio float64
	// Seed drives the coreset.
	Seed uint64
}

// Name implements Func.
func (s NearestL2) Name() string { return withRatio("nearest-L2", s.Ratio) }

// Score implements Func.
func (s NearestL2) Score(ctx context.Context, train, test *features.Set) ([]float32, error) {
	return KNNMean{K: 1, Ratio: s.Ratio, Seed: s.Seed}.Score(ctx, train, test)
}

// KNNMean scores a patch by the mean Euclidean distance to its K nearest train patches (SPADE: Cohen
// and Hoshen, "Sub-Image Anomaly Detection with Deep Pyramid Correspondences", 2020).
type KNNMean struct {
	// K is the number of neighbours; default 3.
	K int
	// Ratio and Seed: as NearestL2.
	Ratio float64
	Seed  uint64
}

// Name implements Func.
func (s KNNMean) Name() string {
	return withRatio(fmt.Sprintf("%d-NN mean", max(s.K, 1)), s.Ratio)
}

// Score implements Func.
func (s KNNMean) Score(ctx context.Context, train, test *features.Set) ([]float32, error) {
	if err := checkSets(train, test); err != nil {
		return nil, fmt.Errorf("scores: %s: %w", s.Name(), err)
	}
	k := s.K
	if k <= 0 {
		k = 3
	}
	bank, err := Bank(ctx, train, s.Ratio, s.Seed)
	if err != nil {
		return nil, err
	}
	res, err := knn.Search(ctx, test.Data, bank, test.D, k)
	if err != nil {
		return nil, err
	}
	out := make([]float32, test.Patches())
	for i := range out {
		var sum float32
		for _, d := range res.Dist[i*res.K : (i+1)*res.K] {
			sum += d
		}
		out[i] = sum / float32(res.K)
	}
	return out, nil
}

// Cosine scores a patch by 1 - its largest cosine similarity with a train patch: the nearest-neighbour
// score on the unit sphere, blind to feature magnitude.
type Cosine struct {
	// Ratio and Seed: as NearestL2 (the coreset is taken on the normalised features).
	Ratio float64
	Seed  uint64
}

// Name implements Func.
func (s Cosine) Name() string { return withRatio("cosine", s.Ratio) }

// Score implements Func.
func (s Cosine) Score(ctx context.Context, train, test *features.Set) ([]float32, error) {
	if err := checkSets(train, test); err != nil {
		return nil, fmt.Errorf("scores: %s: %w", s.Name(), err)
	}
	ntrain, ntest := normalized(train), normalized(test)
	bank, err := Bank(ctx, ntrain, s.Ratio, s.Seed)
	if err != nil {
		return nil, err
	}
	res, err := knn.Search(ctx, ntest.Data, bank, test.D, 1)
	if err != nil {
		return nil, err
	}
	out := make([]float32, test.Patches())
	for i := range out {
		d := res.Dist[i]
		out[i] = d * d / 2 // |a-b|^2 = 2 - 2cos for unit vectors
	}
	return out, nil
}

// normalized returns s with every patch scaled to unit length.
func normalized(s *features.Set) *features.Set {
	out := &features.Set{N: s.N, H: s.H, W: s.W, D: s.D, Data: make([]float32, len(s.Data))}
	for i := 0; i < s.Patches(); i++ {
		row := s.Data[i*s.D : (i+1)*s.D]
		var n float64
		for _, v := range row {
			n += float64(v) * float64(v)
		}
		inv := float32(1 / math.Max(math.Sqrt(n), 1e-12))
		o := out.Data[i*s.D : (i+1)*s.D]
		for j, v := range row {
			o[j] = v * inv
		}
	}
	return out
}

func withRatio(name string, ratio float64) string {
	if ratio > 0 && ratio < 1 {
		return fmt.Sprintf("%s (coreset %g%%)", name, ratio*100)
	}
	return name
}

// Predictions turns per-patch scores of test into one methods.Prediction per image: the H x W patch
// map is upsampled to h x w (bilinear) and smoothed with a Gaussian of sigma (anomalymap.ToInput;
// sigma 4 in most recipes, 0 for none); the image score is the map's maximum.
func Predictions(patch []float32, test *features.Set, h, w int, sigma float64) ([]methods.Prediction, error) {
	if len(patch) != test.Patches() {
		return nil, fmt.Errorf("scores: %d patch scores for %d patches", len(patch), test.Patches())
	}
	out := make([]methods.Prediction, test.N)
	per := test.PerImage()
	for i := range out {
		m := datasets.Image{H: test.H, W: test.W, C: 1, Pix: append([]float32(nil), patch[i*per:(i+1)*per]...)}
		full := anomalymap.Upsample(m, h, w)
		if sigma > 0 {
			full = anomalymap.GaussianBlur(full, sigma)
		}
		out[i] = methods.Prediction{Score: anomalymap.ScoreMax(full), Map: full}
	}
	return out, nil
}
