package metrics

import (
	"context"
	"fmt"
	"sync"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/methods"
)

// EvaluateSplit scores a dataset split with a fitted detector and evaluates it in one call: the
// detector predicts the split streaming (methods.PredictEach, FeatureBatch images at a time), and every
// sample is loaded once, its image going to the detector and its mask to the pixel metrics, so no image
// is decoded twice. Labels and defect types come from the split's items. When an anomalous item has no
// mask (a folder data set without ground truth) the pixel metrics are left out, with a warning. It
// returns the report and the predictions (in split order). See also Evaluate.
func EvaluateSplit(ctx context.Context, d methods.Detector, split *datasets.Split, opts Options) (Report, []methods.Prediction, error) {
	if split == nil || split.Len() == 0 {
		return Report{}, nil, fmt.Errorf("metrics: EvaluateSplit: empty split")
	}
	src := &sampleImages{split: split, masks: make([]datasets.Image, split.Len()), loaded: make([]bool, split.Len())}
	preds := make([]methods.Prediction, split.Len())
	err := methods.PredictEach(ctx, d, src, func(i int, p methods.Prediction) error {
		preds[i] = p
		return nil
	})
	if err != nil {
		return Report{}, nil, err
	}
	masks := src.masks
	var missing string
	for i, it := range split.Items {
		if !src.loaded[i] { // a detector that did not read every image (it should): read the mask alone
			m, err := split.Mask(i)
			if err != nil {
				return Report{}, nil, err
			}
			masks[i] = m
		}
		if it.Label != datasets.Normal && masks[i].H == 0 && missing == "" {
			missing = split.ImageName(i)
		}
	}
	if missing != "" {
		masks = nil
	}
	rep, err := EvaluateContext(ctx, preds, split.Labels(), masks, split.Defects(), opts)
	if err != nil {
		return Report{}, nil, err
	}
	if missing != "" {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("no pixel metrics: %s (and maybe others) has no ground-truth mask", missing))
	}
	return rep, preds, nil
}

// sampleImages serves a split's images to a detector and keeps each sample's mask as it goes.
type sampleImages struct {
	split  *datasets.Split
	mu     sync.Mutex
	masks  []datasets.Image
	loaded []bool
}

func (s *sampleImages) Len() int { return s.split.Len() }

func (s *sampleImages) Image(i int) (datasets.Image, error) {
	smp, err := s.split.Sample(i)
	if err != nil {
		return datasets.Image{}, err
	}
	s.mu.Lock()
	s.masks[i], s.loaded[i] = smp.Mask, true
	s.mu.Unlock()
	return smp.Image, nil
}

func (s *sampleImages) ImageName(i int) string { return s.split.ImageName(i) }
