package features

import (
	"context"
	"fmt"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/backbone"
)

// Extractor is a backbone plus one patch-feature recipe: the part the memory-bank detectors (PatchCore,
// PNI) share. Build it with NewExtractor.
type Extractor struct {
	// Settings are the detector's shared settings: the backbone (architecture, weights, BackboneSeed,
	// WidthDiv), the input size Fit and Predict check, and FeatureBatch.
	Settings methods.Settings
	// Recipe is the patch-feature recipe; its BatchSize is Settings.FeatureBatch.
	Recipe Config

	bb *backbone.Backbone
}

// NewExtractor builds the backbone now, loading its weights: a missing or wrong weights file is an error
// here, not at Fit.
func NewExtractor(s methods.Settings, recipe Config) (*Extractor, error) {
	recipe = recipe.WithDefaults()
	recipe.BatchSize = s.FeatureBatch
	bb, err := backbone.FromSettings(s)
	if err != nil {
		return nil, err
	}
	return &Extractor{Settings: s, Recipe: recipe, bb: bb}, nil
}

// Backbone returns the backbone.
func (e *Extractor) Backbone() *backbone.Backbone { return e.bb }

// Extract returns the patch features of images, checking that each is the Settings' input size (with
// c channels when c > 0).
func (e *Extractor) Extract(ctx context.Context, images methods.Images, c int) (*Set, error) {
	return Extract(ctx, e.bb, e.Settings.Checked(images, c), e.Recipe)
}

// ExtractTrain extracts the features of a training split and returns its first image, after checking
// that the split is not empty and that every image is the Settings' input size with the channels of the
// first.
func (e *Extractor) ExtractTrain(ctx context.Context, train methods.Images) (*Set, datasets.Image, error) {
	if train.Len() == 0 {
		return nil, datasets.Image{}, fmt.Errorf("no train images")
	}
	first, err := train.Image(0)
	if err == nil {
		err = e.Settings.CheckInput(train, 0, first, 0)
	}
	if err != nil {
		return nil, first, err
	}
	set, err := e.Extract(ctx, train, first.C)
	return set, first, err
}

// Describe names the backbone and where its weights came from, for checkpoint manifests.
func (e *Extractor) Describe() string {
	return e.bb.Arch() + " (" + e.bb.Source() + ")"
}
