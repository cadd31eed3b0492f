package methods

import (
	"context"

	"github.com/gonomaly/gonomaly/datasets"
)

// Images is what detectors read: a sized, random-access collection of images (HWC, values in [0,1]).
// Dataset splits implement it and may load lazily from disk.
type Images interface {
	Len() int
	Image(i int) (datasets.Image, error)
}

// ImageList is an in-memory Images: detectors use it for images they make (augmented, synthetic).
type ImageList []datasets.Image

// Len implements Images.
func (l ImageList) Len() int { return len(l) }

// Image implements Images.
func (l ImageList) Image(i int) (datasets.Image, error) { return l[i], nil }

// Prediction is a detector's answer for one image.
type Prediction struct {
	// Score is the image-level anomaly score: higher is more anomalous.
	Score float32
	// Map is the anomaly map at the input image's resolution (C == 1).
	Map datasets.Image
}

// Detector is the contract every method implements.
//
// Fit learns from normal images only. Predict returns one Prediction per image, in order. Save writes a
// checkpoint directory (see SaveCheckpoint) that Load (catalogue.go) reads back.
type Detector interface {
	// Name is the method's catalogue name, e.g. "patchcore".
	Name() string
	// Fit learns from normal images; it reports progress through ReportProgress(ctx, ...) and stops early
	// with ctx.Err() when ctx is cancelled.
	Fit(ctx context.Context, train Images) error
	// Predict scores images; it fails with ErrNotFitted before Fit or Load.
	Predict(ctx context.Context, images Images) ([]Prediction, error)
	// Save writes the fitted detector to dir atomically.
	Save(dir string) error
}

// Streamer is implemented by detectors whose prediction streams: PredictEach loads, scores and hands over
// Settings.FeatureBatch images at a time, calling fn with each image's index and prediction in order, so
// that its memory is bounded by the batch and not by the number of images. fn's error stops it. Every
// catalogue detector implements it, and its Predict collects PredictEach's predictions.
type Streamer interface {
	PredictEach(ctx context.Context, images Images, fn func(i int, p Prediction) error) error
}

// PredictEach streams d's predictions over images to fn, in order: through d's own PredictEach when it
// is a Streamer, else by calling Predict on slices of Settings.FeatureBatch images (DefaultFeatureBatch
// when d does not report its Settings).
func PredictEach(ctx context.Context, d Detector, images Images, fn func(i int, p Prediction) error) error {
	if s, ok := d.(Streamer); ok {
		return s.PredictEach(ctx, images, fn)
	}
	batch := DefaultFeatureBatch
	if c, ok := d.(Configured); ok && c.Settings().FeatureBatch > 0 {
		batch = c.Settings().FeatureBatch
	}
	for lo := 0; lo < images.Len(); lo += batch {
		hi := min(lo+batch, images.Len())
		preds, err := d.Predict(ctx, Slice(images, lo, hi))
		if err != nil {
			return err
		}
		for j, p := range preds {
			if err := fn(lo+j, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// CollectPredictions runs a streaming prediction (a Streamer's PredictEach) and returns its predictions
// in order: how streaming detectors implement Predict.
func CollectPredictions(ctx context.Context, images Images, each func(context.Context, Images, func(int, Prediction) error) error) ([]Prediction, error) {
	out := make([]Prediction, images.Len())
	err := each(ctx, images, func(i int, p Prediction) error {
		out[i] = p
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
