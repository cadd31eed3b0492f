package rd

import (
	"fmt"

	"github.com/gonomaly/gonomaly/methods"
)

// Variant selects Reverse Distillation or RD++.
type Variant string

const (
	// RD is Reverse Distillation (Deng and Li, CVPR 2022).
	RD Variant = "rd"
	// RDPlusPlus is RD++ (Tien et al., CVPR 2023).
	RDPlusPlus Variant = "rdpp"
)

// Config is the full recipe of a Reverse Distillation detector. Every field has a documented default
// (the Paper preset); CPU shrinks it to run on two cores.
type Config struct {
	Variant Variant `json:"variant"`
	// Settings are the fields every method shares (methods.Settings): ImageSize (the square input, a
	// multiple of 32; paper 256), Backbone (the teacher: "resnet18", "resnet34", "resnet50" or
	// "wide_resnet50_2", the paper's), Weights, WidthDiv (divides the teacher's and the student's
	// channels, for tests), BackboneSeed (the seeded teacher), Seed (initialisation, shuffling and
	// pseudo-anomalies; 111 as in the official code), FeatureBatch (images per teacher pass in Fit's
	// extraction and per step of the streaming Predict) and ImageScore (methods.ScoreMapMax only, the
	// official code's maximum of the smoothed map).
	methods.Settings
	// Epochs and BatchSize (paper: 200 epochs of batch 16). BatchSize is the training batch.
	Epochs    int `json:"epochs"`
	BatchSize int `json:"batch_size"`
	// LearningRate, Beta1 and Beta2 of Adam for the bottleneck and decoder (paper: 0.005, 0.5, 0.999).
	LearningRate float64 `json:"learning_rate"`
	Beta1        float64 `json:"beta1"`
	Beta2        float64 `json:"beta2"`
	// BottleneckBlocks is the number of residual blocks of the OCBE's layer4-like stage
	// (official code: 2 for ResNet-18/34, 3 for ResNet-50 and Wide-ResNet-50-2).
	BottleneckBlocks int `json:"bottleneck_blocks"`
	// DecoderBlocks are the residual blocks of the decoder's three stages (the teacher's layer1..3 counts,
	// in reverse order of use: stage producing layer3's scale first).
	DecoderBlocks [3]int `json:"decoder_blocks"`
	// Sigma is the Gaussian smoothing of the anomaly map (paper: 4).
	Sigma float64 `json:"sigma"`

	// RD++ only: the projection's Adam learning rate (paper: 0.001) and the weight of the projection
	// loss in the total loss (paper: 0.2).
	ProjLearningRate float64 `json:"proj_learning_rate,omitempty"`
	ProjWeight       float64 `json:"proj_weight,omitempty"`
	// RD++ only: Sinkhorn iterations of the optimal-transport term (see sinkhornDivergence).
	SinkhornIters int `json:"sinkhorn_iters,omitempty"`

	// CheckpointDir, when set, receives a training checkpoint every CheckpointEvery steps; Fit resumes
	// from it when it holds a checkpoint of the same configuration.
	CheckpointDir   string `json:"-"`
	CheckpointEvery int    `json:"-"`
}

// Paper is the paper's recipe, for Reverse Distillation; Paper().WithVariant(RDPlusPlus) is RD++'s
// (Wide-ResNet-50-2 teacher at 256 px, 200 epochs of batch 16, Adam 0.005 / (0.5, 0.999); RD++ adds the
// projection at lr 0.001 weighted 0.2 and 40 Sinkhorn iterations).
func Paper() Config {
	return Config{
		Variant: RD,
		Settings: methods.Settings{ImageSize: 256, Backbone: "wide_resnet50_2", BackboneSeed: methods.DefaultBackboneSeed,
			Seed: 111, FeatureBatch: methods.DefaultFeatureBatch, ImageScore: methods.ScoreMapMax},
		Epochs: 200, BatchSize: 16,
		LearningRate: 0.005, Beta1: 0.5, Beta2: 0.999, BottleneckBlocks: 3, DecoderBlocks: [3]int{3, 4, 6},
		Sigma: 4, CheckpointEvery: 200, ProjLearningRate: 0.001, ProjWeight: 0.2, SinkhornIters: 40,
	}
}

// CPU fits a 60-image category on two CPU cores in minutes on the fastgo backend.
// What it gives up against the paper: the teacher (ResNet-18 instead of Wide-ResNet-50-2), the
// resolution (128 px: a 32x32 finest grid instead of 64x64), depth (one residual block in the
// bottleneck and two per decoder stage instead of 3 and 3/4/6), the schedule (20 epochs of batch 8
// instead of 200 of batch 16) and, for RD++, Sinkhorn iterations (20 instead of 40). Until fastgo it
// was 96 px, one block per stage and 10 epochs, cut for GoMLX's pure-Go backend.
func CPU() Config {
	c := Paper()
	c.Backbone, c.ImageSize, c.Epochs, c.BatchSize = "resnet18", 128, 20, 8
	c.BottleneckBlocks, c.DecoderBlocks = 1, [3]int{2, 2, 2}
	c.SinkhornIters = 20
	// About every third epoch of a 60-image category: a fit interrupted after a minute resumes.
	c.CheckpointEvery = 20
	return c
}

// WithVariant returns c for variant v (RD or RDPlusPlus), the rest of the recipe unchanged.
func (c Config) WithVariant(v Variant) Config {
	c.Variant = v
	return c
}

// widthDiv is Settings.WidthDiv with 0 read as 1.
func (c Config) widthDiv() int { return max(c.WidthDiv, 1) }

// withDefaults fills the shared settings' zero fields.
func (c Config) withDefaults() Config {
	c.Settings = c.Settings.WithDefaults(Paper().Settings)
	return c
}

func (c Config) validate() error {
	if c.Variant != RD && c.Variant != RDPlusPlus {
		return fmt.Errorf("rd: unknown variant %q", c.Variant)
	}
	// The bottleneck works at 1/32 of the input.
	if err := c.Validate(string(c.Variant), 32, 32, methods.ScoreMapMax); err != nil {
		return err
	}
	switch {
	case 64%c.widthDiv() != 0:
		return fmt.Errorf("rd: WidthDiv %d must divide 64", c.WidthDiv)
	case c.Epochs < 1 || c.BatchSize < 1:
		return fmt.Errorf("rd: epochs (%d) and batch size (%d) must be positive", c.Epochs, c.BatchSize)
	case c.LearningRate <= 0:
		return fmt.Errorf("rd: learning rate must be positive")
	case c.BottleneckBlocks < 1 || c.DecoderBlocks[0] < 1 || c.DecoderBlocks[1] < 1 || c.DecoderBlocks[2] < 1:
		return fmt.Errorf("rd: block counts must be positive")
	case c.Variant == RDPlusPlus && (c.ProjLearningRate <= 0 || c.SinkhornIters < 1):
		return fmt.Errorf("rd: RD++ needs a positive projection learning rate and Sinkhorn iterations")
	}
	if _, ok := blockKinds[c.Backbone]; !ok {
		return fmt.Errorf("rd: unsupported teacher %q (resnet18, resnet34, resnet50, wide_resnet50_2)", c.Backbone)
	}
	return nil
}

// blockKinds maps a teacher to its residual block type, expansion and bottleneck width factor.
var blockKinds = map[string]struct {
	bottleneck bool
	expansion  int
	widthMul   int
}{
	"resnet18":        {false, 1, 1},
	"resnet34":        {false, 1, 1},
	"resnet50":        {true, 4, 1},
	"wide_resnet50_2": {true, 4, 2},
}

func presetConfig(v Variant, preset string) (Config, error) {
	switch preset {
	case methods.PresetPaper:
		return Paper().WithVariant(v), nil
	case methods.PresetCPU:
		return CPU().WithVariant(v), nil
	}
	return Config{}, fmt.Errorf("rd: unknown preset %q", preset)
}
