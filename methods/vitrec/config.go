package vitrec

import (
	"fmt"

	"github.com/gonomaly/gonomaly/methods"
)

// NoBackbone is the Settings.Backbone of a model trained from scratch.
const NoBackbone = "none"

// Config is the full recipe of the ViT inpainting model.
type Config struct {
	// Settings are the fields every method shares. ImageSize is a multiple of Patch; Backbone is "none"
	// and Weights "" or "random"; Seed drives initialisation, masks and shuffling; FeatureBatch is the
	// images per step of the streaming Predict; ImageScore is methods.ScoreMapMax.
	methods.Settings
	// Patch is the side of a patch (token) in pixels.
	Patch int `json:"patch"`
	// Dim is the token width (divided by Settings.WidthDiv), Depth the number of encoder blocks, Heads
	// the attention heads (Dim/WidthDiv must divide by it) and MLP the hidden width of each block's MLP
	// as a multiple of Dim.
	Dim   int `json:"dim"`
	Depth int `json:"depth"`
	Heads int `json:"heads"`
	MLP   int `json:"mlp"`
	// MaskGroups is the number of interleaved token groups; training masks a random 1/MaskGroups of
	// the tokens (the test-time condition), Predict runs one pass per group. 4 (a 2 x 2 tiling) or 1
	// (no masking: plain reconstruction of all patches, VT-ADL's condition, kept to show why it fails).
	MaskGroups int `json:"mask_groups"`
	// Channels of the input images (3).
	Channels int `json:"channels"`
	// Epochs, BatchSize and Adam's LearningRate, Beta1 and Beta2 (MAE's betas: 0.9, 0.95).
	Epochs       int     `json:"epochs"`
	BatchSize    int     `json:"batch_size"`
	LearningRate float64 `json:"learning_rate"`
	Beta1        float64 `json:"beta1"`
	Beta2        float64 `json:"beta2"`
	// Sigma smooths the error map.
	Sigma float64 `json:"sigma"`

	// CheckpointDir, when set, receives a training checkpoint after an epoch once CheckpointEvery steps
	// have passed since the last one, and at the end; Fit resumes from it.
	CheckpointDir   string `json:"-"`
	CheckpointEvery int    `json:"-"`
}

// Paper is a ViT-B/16 encoder (MAE's: 224 px, 16 px patches, width 768, 12 blocks of 12 heads, MLP
// 4x) with MAE's Adam betas (0.9, 0.95) and base learning rate 1.5e-4, trained 200 epochs of batch 32.
// MAE's 75% masking and weight decay are not used: the test condition masks a quarter (see the package
// documentation) and the shared optimiser has no decay; its 1600-epoch ImageNet schedule has no
// counterpart on a 200-image category.
func Paper() Config {
	return Config{
		Settings: methods.Settings{ImageSize: 224, Backbone: NoBackbone, BackboneSeed: methods.DefaultBackboneSeed,
			Seed: 0, FeatureBatch: methods.DefaultFeatureBatch, ImageScore: methods.ScoreMapMax},
		Patch: 16, Dim: 768, Depth: 12, Heads: 12, MLP: 4, MaskGroups: 4, Channels: 3,
		Epochs: 200, BatchSize: 32, LearningRate: 1.5e-4, Beta1: 0.9, Beta2: 0.95, Sigma: 4, CheckpointEvery: 200,
	}
}

// CPU trains in about a minute on two cores: 64 px in 8 px patches (64 tokens), width 64, 3 blocks of
// 4 heads, batch 8, 30 epochs at learning rate 1e-3 (a small transformer tolerates a larger step).
func CPU() Config {
	c := Paper()
	c.ImageSize, c.Patch, c.Dim, c.Depth, c.Heads = 64, 8, 64, 3, 4
	c.BatchSize, c.Epochs, c.LearningRate = 8, 30, 1e-3
	return c
}

// dim is Dim divided by Settings.WidthDiv.
func (c Config) dim() int { return c.Dim / max(c.WidthDiv, 1) }

// grid is the number of patches along a side.
func (c Config) grid() int { return c.ImageSize / c.Patch }

func (c Config) withDefaults() Config {
	c.Settings = c.Settings.WithDefaults(Paper().Settings)
	if c.Channels == 0 {
		c.Channels = 3
	}
	return c
}

func (c Config) validate() error {
	if c.Patch < 1 {
		return fmt.Errorf("vitrec: Patch %d must be positive", c.Patch)
	}
	if err := c.Validate("vitrec", 2*c.Patch, c.Patch, methods.ScoreMapMax); err != nil {
		return err
	}
	switch {
	case c.Backbone != NoBackbone:
		return fmt.Errorf("vitrec: Backbone %q: the model trains from scratch and has no backbone (set %q)", c.Backbone, NoBackbone)
	case c.Weights != "" && c.Weights != "random":
		return fmt.Errorf("vitrec: Weights %q: the model has no pretrained backbone to load weights into (use \"\" or \"random\")", c.Weights)
	case c.Depth < 1 || c.Heads < 1 || c.MLP < 1 || c.dim() < c.Heads || c.dim()%c.Heads != 0:
		return fmt.Errorf("vitrec: width %d (Dim/WidthDiv) must be a positive multiple of Heads %d, Depth %d and MLP %d positive", c.dim(), c.Heads, c.Depth, c.MLP)
	case c.MaskGroups != 1 && c.MaskGroups != 4:
		return fmt.Errorf("vitrec: MaskGroups %d must be 4 (2 x 2 tiling) or 1 (no masking)", c.MaskGroups)
	case c.Channels < 1:
		return fmt.Errorf("vitrec: Channels %d must be positive", c.Channels)
	case c.Epochs < 1 || c.BatchSize < 1:
		return fmt.Errorf("vitrec: epochs (%d) and batch size (%d) must be positive", c.Epochs, c.BatchSize)
	case c.LearningRate <= 0 || c.Beta1 < 0 || c.Beta1 >= 1 || c.Beta2 < 0 || c.Beta2 >= 1:
		return fmt.Errorf("vitrec: bad Adam settings lr %g betas %g, %g", c.LearningRate, c.Beta1, c.Beta2)
	case c.Sigma < 0:
		return fmt.Errorf("vitrec: Sigma must not be negative")
	}
	return nil
}

func presetConfig(preset string) (Config, error) {
	switch preset {
	case methods.PresetPaper:
		return Paper(), nil
	case methods.PresetCPU:
		return CPU(), nil
	}
	return Config{}, fmt.Errorf("vitrec: unknown preset %q", preset)
}
