package cflow

import (
	"fmt"

	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/flow"
)

// Name is the catalogue name.
const Name = "cflow"

// Config is the full recipe of a CFLOW-AD detector. Paper is the paper's; CPU shrinks it for two cores.
type Config struct {
	// Settings are the fields every method shares (methods.Settings): ImageSize (the square input,
	// paper 256), Backbone (the encoder; paper "wide_resnet50_2"), Weights, WidthDiv, BackboneSeed,
	// Seed (decoder initialisation, permutations and fiber shuffling), FeatureBatch (images per encoder
	// pass) and ImageScore (methods.ScoreMapMax only, the paper's maximum of the map).
	methods.Settings
	// Taps are the encoder layers whose features are modelled (paper: layer1, layer2, layer3).
	Taps []string `json:"taps"`
	// CouplingBlocks is the number of coupling blocks per decoder (paper: 8).
	CouplingBlocks int `json:"coupling_blocks"`
	// Clamp is the soft clamp α of the coupling log-scales (paper: 1.9).
	Clamp float64 `json:"clamp"`
	// ConditionDims is the number of positional-encoding channels (paper: 128; a multiple of 4).
	ConditionDims int `json:"condition_dims"`
	// Unconditional, for ablation, feeds every coupling an all-zero condition instead of the positional
	// encoding: the same decoders (the condition's weights get no gradient) modelling one density of the
	// features wherever they sit, which is what CFLOW-AD's condition is there to avoid on objects.
	Unconditional bool `json:"unconditional,omitempty"`
	// MetaEpochs and SubEpochs: training runs MetaEpochs x SubEpochs passes over all fibers; the
	// learning rate warms up over the first WarmupMetaEpochs and then follows a cosine per meta epoch
	// (paper: 25 x 8, warm-up 2).
	MetaEpochs       int `json:"meta_epochs"`
	SubEpochs        int `json:"sub_epochs"`
	WarmupMetaEpochs int `json:"warmup_meta_epochs"`
	// FiberBatch is the number of fibers per optimisation step (paper: 256).
	FiberBatch int `json:"fiber_batch"`
	// FibersPerImage, when positive, caps the fibers each image contributes to a pass over a tap (a
	// fresh random subset each pass); 0 (the paper) uses all positions.
	FibersPerImage int `json:"fibers_per_image"`
	// LearningRate is Adam's peak learning rate (paper: 2e-4); the warm-up starts at a tenth of it and
	// the cosine decays to LearningRate·DecayRate³ (paper DecayRate: 0.1).
	LearningRate float64 `json:"learning_rate"`
	DecayRate    float64 `json:"decay_rate"`

	// CheckpointDir, when set, receives a training checkpoint after every CheckpointEvery meta epochs
	// (and the last); Fit resumes from it when it holds a checkpoint of the same recipe.
	CheckpointDir   string `json:"-"`
	CheckpointEvery int    `json:"-"`
}

// Paper is the recipe of the paper and the authors' code: Wide-ResNet-50-2 at 256 px tapped at
// layer1..3, 8 coupling blocks with clamp 1.9, a 128-channel positional condition, 25 meta epochs of 8
// sub-epochs over all fibers in batches of 256, Adam at 2e-4 with 2 warm-up meta epochs and cosine decay.
// The paper reports on MVTec AD: image AUROC 98.26, pixel AUROC 98.62, AUPRO 94.60.
func Paper() Config {
	return Config{
		Settings: methods.Settings{ImageSize: 256, Backbone: "wide_resnet50_2", BackboneSeed: methods.DefaultBackboneSeed,
			Seed: 0, FeatureBatch: methods.DefaultFeatureBatch, ImageScore: methods.ScoreMapMax},
		Taps:           []string{"layer1", "layer2", "layer3"},
		CouplingBlocks: 8, Clamp: flow.DefaultClamp, ConditionDims: 128,
		MetaEpochs: 25, SubEpochs: 8, WarmupMetaEpochs: 2, FiberBatch: 256,
		LearningRate: 2e-4, DecayRate: 0.1, CheckpointEvery: 1,
	}
}

// CPU fits a category on two CPU cores in minutes: the paper's encoder (Wide-ResNet-50-2 at 256 px,
// layer1..3), decoders (8 coupling blocks, 128-channel condition) and learning rate. What it gives up is
// the schedule: 4 meta epochs of 1 sub-epoch (warm-up 1) instead of 25 x 8, over at most 256 random
// fibers per image and tap per pass instead of all of them. (A learning rate of 1e-3 to make up for the
// shorter schedule made the loss rise again in the last meta epoch on pill and scored lower.)
func CPU() Config {
	c := Paper()
	c.MetaEpochs, c.SubEpochs, c.WarmupMetaEpochs = 4, 1, 1
	c.FibersPerImage = 256
	return c
}

// withDefaults fills the shared settings' zero fields (Paper's).
func (c Config) withDefaults() Config {
	c.Settings = c.Settings.WithDefaults(Paper().Settings)
	if len(c.Taps) == 0 {
		c.Taps = Paper().Taps
	}
	return c
}

// validate returns a clear error for a configuration that cannot work.
func (c Config) validate() error {
	if err := c.Validate(Name, 32, 1, methods.ScoreMapMax); err != nil {
		return err
	}
	switch {
	case c.CouplingBlocks < 1:
		return fmt.Errorf("cflow: CouplingBlocks %d must be positive", c.CouplingBlocks)
	case c.ConditionDims < 4 || c.ConditionDims%4 != 0:
		return fmt.Errorf("cflow: ConditionDims %d must be a positive multiple of 4", c.ConditionDims)
	case c.MetaEpochs < 1 || c.SubEpochs < 1 || c.WarmupMetaEpochs < 0:
		return fmt.Errorf("cflow: MetaEpochs (%d) and SubEpochs (%d) must be positive, WarmupMetaEpochs (%d) not negative",
			c.MetaEpochs, c.SubEpochs, c.WarmupMetaEpochs)
	case c.FiberBatch < 2:
		return fmt.Errorf("cflow: FiberBatch %d must be at least 2", c.FiberBatch)
	case c.FibersPerImage < 0:
		return fmt.Errorf("cflow: FibersPerImage %d must not be negative", c.FibersPerImage)
	case !(c.LearningRate > 0) || !(c.DecayRate > 0 && c.DecayRate <= 1):
		return fmt.Errorf("cflow: LearningRate %g must be positive and DecayRate %g in (0, 1]", c.LearningRate, c.DecayRate)
	case !(c.Clamp > 0):
		return fmt.Errorf("cflow: Clamp %g must be positive", c.Clamp)
	}
	seen := map[string]bool{}
	for _, t := range c.Taps {
		switch t {
		case "layer1", "layer2", "layer3", "layer4":
		default:
			return fmt.Errorf("cflow: unknown tap %q (layer1..layer4)", t)
		}
		if seen[t] {
			return fmt.Errorf("cflow: tap %q listed twice", t)
		}
		seen[t] = true
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
	}
	return Config{}, fmt.Errorf("cflow: unknown preset %q (%s, %s)", preset, methods.PresetPaper, methods.PresetCPU)
}
