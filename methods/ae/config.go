package ae

import (
	"fmt"

	"github.com/gonomaly/gonomaly/methods"
)

// Score names an anomaly map of the autoencoder (see the package documentation).
type Score string

// The anomaly maps.
const (
	ScoreL2      Score = "l2"
	ScoreSSIM    Score = "ssim"
	ScoreFeature Score = "feature"
)

// Config is the full recipe of an autoencoder detector. Paper is Bergmann et al.'s SSIM autoencoder.
type Config struct {
	// Settings are the shared fields (methods.Settings). ImageSize is the input side, a multiple of 16
	// (the encoder halves it four times; paper 128). Backbone, Weights, BackboneSeed and WidthDiv are the
	// frozen backbone of the "feature" map (WidthDiv also divides the autoencoder's channels). Seed drives
	// initialisation and shuffling. ImageScore: methods.ScoreMapMax only.
	methods.Settings
	// Score is the anomaly map Predict returns: "l2", "ssim" or "feature".
	Score Score `json:"score"`
	// Loss is the training reconstruction loss: "l2" (mean squared error) or "ssim" (1 - mean SSIM).
	Loss Score `json:"loss"`
	// LatentDim is the size of the dense latent code (paper: 100).
	LatentDim int `json:"latent_dim"`
	// Memory switches on MemAE's memory module on the encoder's S/16 feature map, with MemoryItems items
	// (Gong et al.: 100 for MNIST, 500 for CIFAR-10, 2000 for video), shrinkage threshold ShrinkThreshold (paper: 1/N to 3/N;
	// 0 means 1/MemoryItems) and entropy loss weight EntropyWeight (paper: 0.0002).
	Memory          bool    `json:"memory"`
	MemoryItems     int     `json:"memory_items,omitempty"`
	ShrinkThreshold float64 `json:"shrink_threshold,omitempty"`
	EntropyWeight   float64 `json:"entropy_weight,omitempty"`
	// Epochs, BatchSize and Adam's LearningRate (MVTec AD's autoencoder baselines: 100 epochs of batch
	// 128, 2e-4).
	Epochs       int     `json:"epochs"`
	BatchSize    int     `json:"batch_size"`
	LearningRate float64 `json:"learning_rate"`
	// Sigma is the Gaussian smoothing of the anomaly map (0: none).
	Sigma float64 `json:"sigma"`

	// CheckpointDir, when set, receives a training checkpoint every CheckpointEvery steps; Fit resumes
	// from it when it holds a checkpoint of the same configuration.
	CheckpointDir   string `json:"-"`
	CheckpointEvery int    `json:"-"`
}

// Paper is Bergmann et al.'s SSIM autoencoder (VISAPP 2019): 128 px, latent 100, trained with the SSIM
// loss and scored by the SSIM map, with the MVTec AD paper's schedule for its autoencoder baselines
// (Bergmann et al., CVPR 2019: 100 epochs, batch 128, Adam 2e-4; their weight decay 1e-5 and patch
// augmentation are not reproduced). The feature map uses a frozen ResNet-18.
func Paper() Config {
	return Config{
		Settings: methods.Settings{ImageSize: 128, Backbone: "resnet18", BackboneSeed: methods.DefaultBackboneSeed,
			Seed: 2019, FeatureBatch: methods.DefaultFeatureBatch, ImageScore: methods.ScoreMapMax},
		Score: ScoreSSIM, Loss: ScoreSSIM, LatentDim: 100,
		MemoryItems: 100, EntropyWeight: 0.0002,
		Epochs: 100, BatchSize: 128, LearningRate: 2e-4, Sigma: 4, CheckpointEvery: 500,
	}
}

// CPU keeps the paper's network and resolution and shortens the schedule: 60 epochs of batch 8 at
// learning rate 1e-3 (a 60-image category gives 7 steps an epoch, not the paper's 78 of 10,000 patches).
func CPU() Config {
	c := Paper()
	c.Epochs, c.BatchSize, c.LearningRate = 60, 8, 1e-3
	return c
}

// WithMemory returns c with MemAE's memory module switched on.
func (c Config) WithMemory() Config {
	c.Memory = true
	return c
}

func (c Config) withDefaults() Config {
	c.Settings = c.Settings.WithDefaults(Paper().Settings)
	if c.Memory && c.ShrinkThreshold == 0 && c.MemoryItems > 0 {
		c.ShrinkThreshold = 1 / float64(c.MemoryItems)
	}
	return c
}

func (c Config) validate() error {
	if err := c.Validate("ae", 32, 16, methods.ScoreMapMax); err != nil {
		return err
	}
	valid := func(s Score) bool { return s == ScoreL2 || s == ScoreSSIM || s == ScoreFeature }
	switch {
	case !valid(c.Score):
		return fmt.Errorf("ae: unknown score %q (l2, ssim, feature)", c.Score)
	case c.Loss != ScoreL2 && c.Loss != ScoreSSIM:
		return fmt.Errorf("ae: unknown loss %q (l2, ssim)", c.Loss)
	case 32%c.WidthDiv != 0:
		return fmt.Errorf("ae: WidthDiv %d must divide 32", c.WidthDiv)
	case c.LatentDim < 1:
		return fmt.Errorf("ae: LatentDim %d must be positive", c.LatentDim)
	case c.Memory && (c.MemoryItems < 2 || c.ShrinkThreshold < 0 || c.ShrinkThreshold >= 1 || c.EntropyWeight < 0):
		return fmt.Errorf("ae: memory needs at least 2 items, a shrink threshold in [0, 1) and a non-negative entropy weight")
	case c.Epochs < 1 || c.BatchSize < 1 || c.LearningRate <= 0:
		return fmt.Errorf("ae: epochs (%d), batch size (%d) and learning rate (%g) must be positive", c.Epochs, c.BatchSize, c.LearningRate)
	case c.Sigma < 0:
		return fmt.Errorf("ae: Sigma %g must not be negative", c.Sigma)
	}
	return nil
}
