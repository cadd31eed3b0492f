package draem

import (
	"fmt"

	"github.com/gonomaly/gonomaly/methods"
)

// Config is the full recipe of a DRAEM detector. Paper is the paper's.
type Config struct {
	// Settings are the shared fields (methods.Settings). ImageSize is the input side, a multiple of 32
	// (the discriminative U-Net halves it five times; paper 256). Backbone is methods.NoBackbone: DRAEM
	// trains from scratch. WidthDiv divides both networks' widths (tests). Seed drives initialisation,
	// shuffling and the synthetic anomalies. ImageScore: methods.ScoreMapMax only (of the mean-filtered
	// map).
	methods.Settings
	// ReconWidth and DiscWidth are the base channel counts of the reconstructive and discriminative
	// networks (paper: 128 and 64).
	ReconWidth int `json:"recon_width"`
	DiscWidth  int `json:"disc_width"`
	// Epochs, BatchSize, Adam's LearningRate, and the multistep schedule: the rate is multiplied by
	// Gamma at each fraction of the epochs in Milestones (paper: 700 epochs of batch 8, 1e-4, x0.2 at
	// 80% and 90%).
	Epochs       int       `json:"epochs"`
	BatchSize    int       `json:"batch_size"`
	LearningRate float64   `json:"learning_rate"`
	Milestones   []float64 `json:"milestones"`
	Gamma        float64   `json:"gamma"`
	// FocalGamma is the focal loss's focusing parameter (paper: 2).
	FocalGamma float64 `json:"focal_gamma"`
	// MeanFilter is the side of the mean filter applied to the map before its maximum is taken as the
	// image score, at 256 px (paper: 21); it scales with ImageSize (rounded to an odd size).
	MeanFilter int `json:"mean_filter"`

	// CheckpointDir, when set, receives a training checkpoint every CheckpointEvery steps; Fit resumes
	// from it when it holds a checkpoint of the same configuration.
	CheckpointDir   string `json:"-"`
	CheckpointEvery int    `json:"-"`
}

// Paper is the paper's recipe (Zavrtanik et al., Sec. 4 and the authors' train_DRAEM.py): 256 px,
// reconstructive width 128, discriminative width 64, 700 epochs of batch 8, Adam at 1e-4 decayed by 0.2
// at 80% and 90% of training, focal gamma 2, mean filter 21.
func Paper() Config {
	return Config{
		Settings: methods.Settings{ImageSize: 256, Backbone: methods.NoBackbone, BackboneSeed: methods.DefaultBackboneSeed,
			Seed: 2021, FeatureBatch: methods.DefaultFeatureBatch, ImageScore: methods.ScoreMapMax},
		ReconWidth: 128, DiscWidth: 64,
		Epochs: 700, BatchSize: 8, LearningRate: 1e-4, Milestones: []float64{0.8, 0.9}, Gamma: 0.2,
		FocalGamma: 2, MeanFilter: 21, CheckpointEvery: 500,
	}
}

// CPU keeps both networks' structure, the losses and the schedule's shape, and shrinks the rest to train
// a 60-image category in minutes on two cores: 128 px, widths 8 and 4 (a sixteenth of the paper's), 30
// epochs of batch 8 at learning rate 1e-3 (a higher rate for a far shorter schedule), the same multistep
// decay at 80% and 90%.
func CPU() Config {
	c := Paper()
	c.ImageSize, c.ReconWidth, c.DiscWidth, c.Epochs, c.LearningRate = 128, 8, 4, 30, 1e-3
	return c
}

func (c Config) withDefaults() Config {
	c.Settings = c.Settings.WithDefaults(Paper().Settings)
	return c
}

// widths returns the base widths after WidthDiv.
func (c Config) widths() (recon, disc int) {
	return max(c.ReconWidth/c.WidthDiv, 1), max(c.DiscWidth/c.WidthDiv, 1)
}

// filterSize is the mean filter's side at ImageSize: MeanFilter*ImageSize/256, odd, at least 1.
func (c Config) filterSize() int {
	k := int(float64(c.MeanFilter)*float64(c.ImageSize)/256 + 0.5)
	if k%2 == 0 {
		k++
	}
	return max(k, 1)
}

func (c Config) validate() error {
	if err := c.Validate("draem", 32, 32, methods.ScoreMapMax); err != nil {
		return err
	}
	if err := c.CheckNoBackbone("draem"); err != nil {
		return err
	}
	switch {
	case c.ReconWidth < 1 || c.DiscWidth < 1:
		return fmt.Errorf("draem: widths %d and %d must be positive", c.ReconWidth, c.DiscWidth)
	case c.Epochs < 1 || c.BatchSize < 1 || c.LearningRate <= 0:
		return fmt.Errorf("draem: epochs (%d), batch size (%d) and learning rate (%g) must be positive", c.Epochs, c.BatchSize, c.LearningRate)
	case c.Gamma <= 0 || c.FocalGamma < 0 || c.MeanFilter < 1:
		return fmt.Errorf("draem: Gamma (%g), FocalGamma (%g) and MeanFilter (%d) out of range", c.Gamma, c.FocalGamma, c.MeanFilter)
	}
	for _, m := range c.Milestones {
		if m <= 0 || m > 1 {
			return fmt.Errorf("draem: milestone %g is not a fraction of training in (0, 1]", m)
		}
	}
	return nil
}

// lrScale is the multistep schedule's factor at an epoch: Gamma to the number of milestones passed
// (torch's MultiStepLR with milestones at int(fraction*Epochs)).
func (c Config) lrScale(epoch int) float64 {
	s := 1.0
	for _, m := range c.Milestones {
		if epoch >= int(m*float64(c.Epochs)) {
			s *= c.Gamma
		}
	}
	return s
}
