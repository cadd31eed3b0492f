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
