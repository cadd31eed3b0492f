package features

import (
	"context"
	"fmt"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/backbone"
)

// Extractor is a backbone, built on first use, plus one patch-feature recipe: the part the
// memory-bank detectors (PatchCore, PNI) share.
type Extractor struct {
	// Arch, Weights, Seed and WidthDiv configure backbone.New.
	Arch, Weights string
	Seed          uint64
	WidthDiv      int
	// Recipe is the patch-feature recipe.
	Recipe Config

	bb *backbone.Backbone
}

// Backbone returns the backbone, building it (and loading its weights) on the first call.
func (e *Extractor) Backbone() (*backbone.Backbone, error) {
	if e.bb == nil {
		bb, err := backbone.New(e.Arch, backbone.Options{Weights: e.Weights, Seed: e.Seed, WidthDiv: e.WidthDiv})
		if err != nil {
			return nil, err
		}
		e.bb = bb
	}
	return e.bb, nil
}

// Extract returns the patch features of images.
func (e *Extractor) Extract(ctx context.Context, images methods.Images) (*Set, error) {
	bb, err := e.Backbone()
	if err != nil {
		return nil, err
	}
	return Extract(ctx, bb, images, e.Recipe)
}

// ExtractTrain extracts the features of a training split and returns its first image, after checking
// that the split is not empty and that every image has the size and channels of the first.
func (e *Extractor) ExtractTrain(ctx context.Context, train methods.Images) (*Set, datasets.Image, error) {
	if train.Len() == 0 {
		return nil, datasets.Image{}, fmt.Errorf("no train images")
	}
	first, err := train.Image(0)
	if err == nil {
		err = first.Validate()
	}
	if err != nil {
		return nil, first, fmt.Errorf("train image 0: %w", err)
	}
	set, err := e.Extract(ctx, methods.SizeChecked(train, first.H, first.W, first.C))
	return set, first, err
}

// Describe names the backbone and where its weights came from, for checkpoint manifests; before the
// backbone is built it is just the architecture.
func (e *Extractor) Describe() string {
	if e.bb == nil {
		return e.Arch
	}
	return e.bb.Arch() + " (" + e.bb.Source() + ")"
}
