package pyramidflow

import (
	"fmt"

	"github.com/gonomaly/gonomaly/methods"
)

// Name is the catalogue name.
const Name = "pyramidflow"

// NoEncoder is the Backbone of the "lite" variant: no pretrained encoder, the flow works on the image
// itself (through a fixed semi-orthogonal 1x1 convolution from RGB to Channels, as the authors' code).
const NoEncoder = "none"

// The extra presets of the lite variant (beside methods.PresetPaper and methods.PresetCPU, the full
// variant with a frozen encoder).
const (
	PresetPaperLite = "paper-lite"
	PresetCPULite   = "cpu-lite"
)

// VolumeNorm names the axes volume normalisation averages the coupling log-scales over (paper Sec. 3.3).
type VolumeNorm string

const (
	// ChannelVolumeNorm (CVN) subtracts the mean over batch and channels: each position keeps its volume.
	ChannelVolumeNorm VolumeNorm = "cvn"
	// SpatialVolumeNorm (SVN) subtracts the mean over batch and positions: each channel keeps its volume.
	SpatialVolumeNorm VolumeNorm = "svn"
)

// Config is the full recipe of a PyramidFlow detector. Paper and PaperLite are the paper's two variants;
// CPU and CPULite shrink them for two cores.
type Config struct {
	// Settings are the fields every method shares (methods.Settings): ImageSize (square input; paper 1024
	// with the encoder, 256 without), Backbone (the frozen encoder, "resnet18" in the paper, or NoEncoder
	// for the lite variant), Weights, WidthDiv, BackboneSeed, Seed (flow initialisation, the lite input
	// convolution, shuffling), FeatureBatch (images per encoder and inference pass) and ImageScore
	// (methods.ScoreMapMax only: the maximum of the map, as the authors' evaluation).
	methods.Settings
	// Channels is the number of channels the flow works on: the lite variant's input convolution maps
	// RGB to Channels (paper 16); with an encoder, 0 keeps the encoder's channels (paper: ResNet-18
	// layer1, 64) and a positive value projects them with a fixed random semi-orthogonal 1x1 map (a CPU
	// shrink, not in the paper).
	Channels int `json:"channels"`
	// Levels is the number of pyramid levels (paper: 4; 8 for metal_nut, carpet, transistor; 2 for screw).
	Levels int `json:"levels"`
	// Stacks is the number of stacked pyramid-coupling rounds; each updates every level once (paper: 4).
	Stacks int `json:"stacks"`
	// Kernel is the side of the coupling subnets' convolutions (paper: 7).
	Kernel int `json:"kernel"`
	// Clamp bounds the coupling log-scales softly to (-Clamp, Clamp) (paper: 2).
	Clamp float64 `json:"clamp"`
	// VolumeNorm is CVN or SVN (paper: SVN for carpet, grid, bottle, transistor, CVN otherwise).
	VolumeNorm VolumeNorm `json:"volume_norm"`
	// Epochs over the training images in batches of BatchSize images (paper: 15 epochs of 2).
	Epochs    int `json:"epochs"`
	BatchSize int `json:"batch_size"`
	// LearningRate, Beta1, Beta2, AdamEpsilon and WeightDecay are Adam's (paper code: 2e-4, 0.5, 0.9,
	// 1e-4, 1e-5, CS-Flow's optimiser); ClipNorm clips the global gradient norm (paper code: 1).
	LearningRate float64 `json:"learning_rate"`
	Beta1        float64 `json:"beta1"`
	Beta2        float64 `json:"beta2"`
	AdamEpsilon  float64 `json:"adam_epsilon"`
	WeightDecay  float64 `json:"weight_decay"`
	ClipNorm     float64 `json:"clip_norm"`

	// CheckpointDir, when set, receives a training checkpoint every CheckpointEvery optimisation steps
	// and after the last; Fit resumes from it when it holds a checkpoint of the same recipe.
	CheckpointDir   string `json:"-"`
	CheckpointEvery int    `json:"-"`
}

// Paper is the paper's full variant and the authors' defaults: a frozen ResNet-18 up to layer1 on
// 1024 px images (a 256 x 256 x 64 feature map), 4 pyramid levels, 4 stacks of couplings with 7 x 7
// subnets and clamp 2, channel volume normalisation, 15 epochs of image pairs, Adam (2e-4, betas 0.5 and
// 0.9, eps 1e-4, weight decay 1e-5) with the gradient norm clipped to 1. The paper reports pixel AUROC
// 96.0 on MVTec AD.
func Paper() Config {
	return Config{
		Settings: methods.Settings{ImageSize: 1024, Backbone: "resnet18", BackboneSeed: methods.DefaultBackboneSeed,
			FeatureBatch: methods.DefaultFeatureBatch, ImageScore: methods.ScoreMapMax},
		Levels: 4, Stacks: 4, Kernel: 7, Clamp: 2, VolumeNorm: ChannelVolumeNorm,
		Epochs: 15, BatchSize: 2,
		LearningRate: 2e-4, Beta1: 0.5, Beta2: 0.9, AdamEpsilon: 1e-4, WeightDecay: 1e-5, ClipNorm: 1,
		CheckpointEvery: 200,
	}
}

// PaperLite is the paper's lite variant: no encoder, 256 px images mapped to 16 channels by a fixed
// semi-orthogonal 1x1 convolution, the rest as Paper.
func PaperLite() Config {
	c := Paper()
	c.Backbone, c.ImageSize, c.Channels = NoEncoder, 256, 16
	return c
}

// CPU fits a category on two CPU cores in minutes. What it gives up against Paper: the resolution
// (128 px, a 32 x 32 feature map instead of 256 x 256), the channels (the encoder's 64 projected to 16
// by a fixed random semi-orthogonal map), the pyramid (3 levels), the depth (2 stacks instead of 4),
// the subnets (5 x 5 instead of 7 x 7), and the schedule (8 epochs of batch 4 at 1e-3 instead of 15
// of 2 at 2e-4).
func CPU() Config {
	c := Paper()
	c.ImageSize, c.Channels, c.Levels, c.Stacks, c.Kernel = 128, 16, 3, 2, 5
	c.Epochs, c.BatchSize, c.LearningRate = 8, 4, 1e-3
	return c
}

// CPULite is the lite variant shrunk as CPU: 64 px images, 8 channels, 4 levels, 2 stacks of 5 x 5
// subnets, 8 epochs of batch 4 at 1e-3.
func CPULite() Config {
	c := CPU()
	c.Backbone, c.ImageSize, c.Channels, c.Levels = NoEncoder, 64, 8, 4
	return c
}

// Lite reports whether the configuration is the lite variant (no encoder).
func (c Config) Lite() bool { return c.Backbone == NoEncoder }

// withDefaults fills the shared settings' zero fields (Paper's).
func (c Config) withDefaults() Config {
	c.Settings = c.Settings.WithDefaults(Paper().Settings)
	return c
}

// validate returns a clear error for a configuration that cannot work.
func (c Config) validate() error {
	minSize := 1 << (c.Levels - 1)
	if !c.Lite() {
		minSize *= 4
	}
	if c.Levels < 2 || c.Levels > 10 {
		return fmt.Errorf("pyramidflow: Levels %d must be in [2, 10]", c.Levels)
	}
	if err := c.Validate(Name, max(minSize, 32), minSize, methods.ScoreMapMax); err != nil {
		return fmt.Errorf("%w (the feature map must halve %d times)", err, c.Levels-1)
	}
	switch {
	case c.Stacks < 1:
		return fmt.Errorf("pyramidflow: Stacks %d must be positive", c.Stacks)
	case c.Kernel < 1 || c.Kernel%2 == 0:
		return fmt.Errorf("pyramidflow: Kernel %d must be a positive odd number", c.Kernel)
	case c.Lite() && c.Channels < 3:
		return fmt.Errorf("pyramidflow: the lite variant needs Channels >= 3 (got %d)", c.Channels)
	case c.Channels < 0:
		return fmt.Errorf("pyramidflow: Channels %d must not be negative", c.Channels)
	case !(c.Clamp > 0):
		return fmt.Errorf("pyramidflow: Clamp %g must be positive", c.Clamp)
	case c.VolumeNorm != ChannelVolumeNorm && c.VolumeNorm != SpatialVolumeNorm:
		return fmt.Errorf("pyramidflow: VolumeNorm %q must be %q or %q", c.VolumeNorm, ChannelVolumeNorm, SpatialVolumeNorm)
	case c.Epochs < 1 || c.BatchSize < 2:
		return fmt.Errorf("pyramidflow: Epochs (%d) must be positive and BatchSize (%d) at least 2 (the loss compares pairs)", c.Epochs, c.BatchSize)
	case !(c.LearningRate > 0) || !(c.Beta1 >= 0 && c.Beta1 < 1) || !(c.Beta2 >= 0 && c.Beta2 < 1) || !(c.AdamEpsilon > 0) || c.WeightDecay < 0 || c.ClipNorm < 0:
		return fmt.Errorf("pyramidflow: bad optimiser settings (LearningRate %g, Beta1 %g, Beta2 %g, AdamEpsilon %g, WeightDecay %g, ClipNorm %g)",
			c.LearningRate, c.Beta1, c.Beta2, c.AdamEpsilon, c.WeightDecay, c.ClipNorm)
	}
	return nil
}

// presetConfig returns the named preset.
func presetConfig(preset string) (Config, error) {
	switch preset {
	case methods.PresetPaper:
		return Paper(), nil
	case methods.PresetCPU:
		return CPU(), nil
	case PresetPaperLite:
		return PaperLite(), nil
	case PresetCPULite:
		return CPULite(), nil
	}
	return Config{}, fmt.Errorf("pyramidflow: unknown preset %q (%s, %s, %s, %s)", preset,
		methods.PresetPaper, methods.PresetCPU, PresetPaperLite, PresetCPULite)
}
