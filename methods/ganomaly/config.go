package ganomaly

import (
	"fmt"

	"github.com/gonomaly/gonomaly/methods"
)

// Adversarial selects the generator's adversarial loss.
type Adversarial string

const (
	// AdvFeatureMatching is the paper's: L2 between D's last feature maps of x and x̂ (Salimans et al.,
	// "Improved Techniques for Training GANs", NeurIPS 2016, the remedy GANomaly adopts).
	AdvFeatureMatching Adversarial = "feature_matching"
	// AdvBCE is the plain non-saturating GAN loss -log D(x̂), for the notebook's comparison.
	AdvBCE Adversarial = "bce"
)

// ScoreLatent is GANomaly's image score, the latent distance mean((z - ẑ)²) (paper, eq. 6). The other
// accepted rule is methods.ScoreMapMax, the maximum of the smoothed reconstruction-error map.
const ScoreLatent methods.ImageScore = "latent"

// NoBackbone is the Settings.Backbone of methods that train every weight from scratch.
const NoBackbone = "none"

// Config is GANomaly's full recipe. Paper() is the authors' defaults; CPU() shrinks it for two cores.
type Config struct {
	// Settings are the fields every method shares. ImageSize is a power of two of at least 16 (paper
	// code: 32); Backbone is "none" (nothing is pretrained) and Weights must be "" or "random"; Seed
	// drives initialisation and shuffling; FeatureBatch is the images per step of the streaming
	// Predict; ImageScore is ScoreLatent (the paper's) or methods.ScoreMapMax.
	methods.Settings
	// Latent is the size of z (authors' nz: 100); Width the first layer's channels of every encoder,
	// doubled at each halving (ngf = ndf: 64), divided by Settings.WidthDiv (tests).
	Latent int `json:"latent"`
	Width  int `json:"width"`
	// Channels of the input images (3).
	Channels int `json:"channels"`
	// Epochs and BatchSize (authors' defaults: 15 epochs of 64).
	Epochs    int `json:"epochs"`
	BatchSize int `json:"batch_size"`
	// LearningRate, Beta1 and Beta2 of both Adam optimisers (2e-4, 0.5, 0.999).
	LearningRate float64 `json:"learning_rate"`
	Beta1        float64 `json:"beta1"`
	Beta2        float64 `json:"beta2"`
	// WAdv, WCon and WLat weight the adversarial, contextual and latent losses (1, 50, 1).
	WAdv float64 `json:"w_adv"`
	WCon float64 `json:"w_con"`
	WLat float64 `json:"w_lat"`
	// Adversarial is the generator's adversarial loss (AdvFeatureMatching, the paper's).
	Adversarial Adversarial `json:"adversarial"`
	// ResetBelow re-initialises D when its loss falls below it (authors' code: 1e-5); 0 never does.
	ResetBelow float64 `json:"reset_below"`
	// LabelSmoothing lowers D's target for real images to 1-LabelSmoothing (one-sided label smoothing,
	// Salimans et al. 2016); the paper uses 0.
	LabelSmoothing float64 `json:"label_smoothing"`
	// Sigma smooths the reconstruction-error map (our addition, see the package documentation).
	Sigma float64 `json:"sigma"`

	// CheckpointDir, when set, receives a training checkpoint after an epoch once CheckpointEvery steps
	// have passed since the last one, and at the end; Fit resumes from it when it holds a checkpoint of
	// the same recipe.
	CheckpointDir   string `json:"-"`
	CheckpointEvery int    `json:"-"`
}

// Paper is the authors' default recipe (their options.py): 32 px, nz 100, ngf = ndf = 64, 15 epochs of
// batch 64, Adam 2e-4 / (0.5, 0.999), weights 1 / 50 / 1, feature matching, D reset below 1e-5.
func Paper() Config {
	return Config{
		Settings: methods.Settings{ImageSize: 32, Backbone: NoBackbone, BackboneSeed: methods.DefaultBackboneSeed,
			Seed: 0, FeatureBatch: methods.DefaultFeatureBatch, ImageScore: ScoreLatent},
		Latent: 100, Width: 64, Channels: 3, Epochs: 15, BatchSize: 64,
		LearningRate: 2e-4, Beta1: 0.5, Beta2: 0.999, WAdv: 1, WCon: 50, WLat: 1,
		Adversarial: AdvFeatureMatching, ResetBelow: 1e-5, Sigma: 4, CheckpointEvery: 100,
	}
}

// CPU trains on a 60-image category of the synthetic benchmark in minutes on two cores: 64 px (so the
// reconstruction map shows something), half the channels (32), and batch 8 for 50 epochs. The paper's
// 15 epochs of 64 were meant for tens of thousands of images; on 60 they are 15 steps, and at Adam's 2e-4
// from DCGAN's N(0, 0.02) initialisation the generator needs a few hundred steps before its output
// leaves mid-grey. 50 epochs of 8 give 350 steps.
func CPU() Config {
	c := Paper()
	c.ImageSize, c.Width, c.BatchSize, c.Epochs = 64, 32, 8, 50
	return c
}

// withDefaults fills the shared settings' zero fields.
func (c Config) withDefaults() Config {
	c.Settings = c.Settings.WithDefaults(Paper().Settings)
	if c.Channels == 0 {
		c.Channels = 3
	}
	if c.Adversarial == "" {
		c.Adversarial = AdvFeatureMatching
	}
	return c
}

// width is Width divided by Settings.WidthDiv.
func (c Config) width() int { return c.Width / max(c.WidthDiv, 1) }

func (c Config) validate() error {
	if err := c.Validate("ganomaly", 16, 1, ScoreLatent, methods.ScoreMapMax); err != nil {
		return err
	}
	switch {
	case c.ImageSize&(c.ImageSize-1) != 0:
		return fmt.Errorf("ganomaly: ImageSize %d must be a power of two (DCGAN halves it down to 4)", c.ImageSize)
	case c.Backbone != NoBackbone:
		return fmt.Errorf("ganomaly: Backbone %q: GANomaly trains from scratch and has no backbone (set %q)", c.Backbone, NoBackbone)
	case c.Weights != "" && c.Weights != "random":
		return fmt.Errorf("ganomaly: Weights %q: GANomaly has no pretrained backbone to load weights into (use \"\" or \"random\")", c.Weights)
	case c.Latent < 1 || c.width() < 1 || c.Channels < 1:
		return fmt.Errorf("ganomaly: latent size (%d), width (%d / WidthDiv) and channels (%d) must be positive", c.Latent, c.Width, c.Channels)
	case c.Epochs < 1 || c.BatchSize < 2:
		return fmt.Errorf("ganomaly: epochs (%d) must be positive and the batch (%d) at least 2 (batch norm)", c.Epochs, c.BatchSize)
	case c.LearningRate <= 0 || c.Beta1 < 0 || c.Beta1 >= 1 || c.Beta2 < 0 || c.Beta2 >= 1:
		return fmt.Errorf("ganomaly: bad Adam settings lr %g betas %g, %g", c.LearningRate, c.Beta1, c.Beta2)
	case c.WAdv < 0 || c.WCon < 0 || c.WLat < 0:
		return fmt.Errorf("ganomaly: loss weights must not be negative")
	case c.Adversarial != AdvFeatureMatching && c.Adversarial != AdvBCE:
		return fmt.Errorf("ganomaly: unknown adversarial loss %q", c.Adversarial)
	case c.LabelSmoothing < 0 || c.LabelSmoothing >= 0.5:
		return fmt.Errorf("ganomaly: label smoothing %g must be in [0, 0.5)", c.LabelSmoothing)
	case c.Sigma < 0:
		return fmt.Errorf("ganomaly: Sigma must not be negative")
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
	return Config{}, fmt.Errorf("ganomaly: unknown preset %q", preset)
}
