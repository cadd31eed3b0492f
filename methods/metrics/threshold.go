package metrics

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/gonomaly/gonomaly/datasets"
)

// AdaptiveThreshold returns the threshold a validation set suggests and how it was chosen:
//   - with normal and anomalous samples: the F1-optimal threshold (F1Max), as anomalib's
//     F1AdaptiveThreshold;
//   - with normal samples only: NormalThreshold(scores, q), so that the validation normals are (mostly)
//     classified normal;
//   - with anomalous samples only: the lowest score, so every validation sample is flagged.
//
// A sample is anomalous when score >= threshold.
func AdaptiveThreshold(scores []float64, labels []bool, q float64) (threshold float64, source string, err error) {
	nNeg, nPos, err := checkScores(scores, labels)
	if err != nil {
		return math.NaN(), "", err
	}
	switch {
	case nPos > 0 && nNeg > 0:
		_, t, err := F1Max(scores, labels)
		return t, "F1-max on validation", err
	case nPos == 0:
		t, err := NormalThreshold(scores, q)
		if q <= 0 || q >= 1 {
			return t, "above max normal score on validation (no anomalies)", err
		}
		return t, fmt.Sprintf("%g-quantile of normal scores on validation (no anomalies)", q), err
	default:
		return slices.Min(scores), "min score on validation (no normals)", nil
	}
}

// NormalThreshold returns a threshold learned from normal scores only. With q <= 0 or q >= 1 it is
// the smallest float64 above the largest score, so all given normals fall below it (anomalib's choice of
// an all-normal validation set's max, made strict for the >= rule); otherwise the q-quantile of the
// scores, linearly interpolated as numpy.quantile's default, leaving about a (1-q) share of normals
// flagged.
func NormalThreshold(scores []float64, q float64) (float64, error) {
	if len(scores) == 0 {
		return math.NaN(), errors.New("metrics: no scores to take a threshold from")
	}
	for i, s := range scores {
		if math.IsNaN(s) || math.IsInf(s, 0) {
			return math.NaN(), fmt.Errorf("metrics: score %d is %v; scores must be finite", i, s)
		}
	}
	if q <= 0 || q >= 1 {
		return math.Nextafter(slices.Max(scores), math.Inf(1)), nil
	}
	s := slices.Clone(scores)
	slices.Sort(s)
	pos := q * float64(len(s)-1)
	i := int(pos)
	if i+1 >= len(s) {
		return s[len(s)-1], nil
	}
	f := pos - float64(i)
	return s[i] + f*(s[i+1]-s[i]), nil
}

// Normalizer maps scores to [0, 1] with the threshold at 0.5: ((x - Threshold) / (Max - Min)) + 0.5,
// clipped to [0, 1], as anomalib's min-max normalisation. After it, 0.5 is the decision threshold for
// every method, so maps and scores of different methods share one colour scale. When Max == Min it
// returns 0, 0.5 or 1 as x is below, at or above the threshold.
type Normalizer struct {
	Threshold, Min, Max float64
}

// NewNormalizer builds a Normalizer with the given threshold and the range of scores (typically the
// validation scores).
func NewNormalizer(threshold float64, scores []float64) (Normalizer, error) {
	if len(scores) == 0 {
		return Normalizer{}, errors.New("metrics: no scores to normalise against")
	}
	if math.IsNaN(threshold) || math.IsInf(threshold, 0) {
		return Normalizer{}, fmt.Errorf("metrics: threshold %v is not finite", threshold)
	}
	n := Normalizer{Threshold: threshold, Min: math.Inf(1), Max: math.Inf(-1)}
	for i, s := range scores {
		if math.IsNaN(s) || math.IsInf(s, 0) {
			return Normalizer{}, fmt.Errorf("metrics: score %d is %v; scores must be finite", i, s)
		}
		n.Min, n.Max = math.Min(n.Min, s), math.Max(n.Max, s)
	}
	return n, nil
}

// NewMapNormalizer builds a Normalizer with the given (pixel) threshold and the range of all pixels of
// maps.
func NewMapNormalizer(threshold float64, maps []datasets.Image) (Normalizer, error) {
	if len(maps) == 0 {
		return Normalizer{}, errors.New("metrics: no maps to normalise against")
	}
	if math.IsNaN(threshold) || math.IsInf(threshold, 0) {
		return Normalizer{}, fmt.Errorf("metrics: threshold %v is not finite", threshold)
	}
	mn, mx := float32(math.Inf(1)), float32(math.Inf(-1))
	for i, m := range maps {
		if err := m.Validate(); err != nil {
			return Normalizer{}, fmt.Errorf("metrics: anomaly map %d: %w", i, err)
		}
		for j, v := range m.Pix {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return Normalizer{}, fmt.Errorf("metrics: anomaly map %d has %v at index %d; scores must be finite", i, v, j)
			}
			mn, mx = min(mn, v), max(mx, v)
		}
	}
	return Normalizer{Threshold: threshold, Min: float64(mn), Max: float64(mx)}, nil
}

// Apply normalises one score.
func (n Normalizer) Apply(x float64) float64 {
	span := n.Max - n.Min
	if span == 0 {
		switch {
		case x > n.Threshold:
			return 1
		case x < n.Threshold:
			return 0
		}
		return 0.5
	}
	return min(max((x-n.Threshold)/span+0.5, 0), 1)
}

// ApplyImage returns a normalised copy of an anomaly map.
func (n Normalizer) ApplyImage(im datasets.Image) datasets.Image {
	out := datasets.Image{H: im.H, W: im.W, C: im.C, Pix: make([]float32, len(im.Pix))}
	for i, v := range im.Pix {
		out.Pix[i] = float32(n.Apply(float64(v)))
	}
	return out
}
