package ae

import (
	"github.com/gonomaly/gonomaly/methods"
)

// catalogueBuild and catalogueConfigure are the catalogue's Build and Configure of this method.
var catalogueBuild, catalogueConfigure = methods.Configurable(methods.StandardPresets("ae", Paper, CPU),
	func(c *Config) *methods.Settings { return &c.Settings },
	func(c Config) (methods.Detector, error) { return New(c) })

func init() {
	methods.Register(methods.Entry{
		Name: Name, Display: "Autoencoder (SSIM, L2, feature; MemAE)", Family: methods.Reconstruction,
		Paper: methods.Paper{
			Title:   "Improving Unsupervised Defect Segmentation by Applying Structural Similarity to Autoencoders",
			Authors: "Paul Bergmann, Sindy Löwe, Michael Fauser, David Sattlegger, Carsten Steger",
			Venue:   "VISAPP", Year: 2019,
			URL: "https://arxiv.org/abs/1807.02011",
		},
		Summary: "A convolutional autoencoder trained on normal images cannot reproduce what it never saw: the residual (per-pixel, SSIM or in a backbone's features) marks the defect.",
		Trains:  true, NeedsPretrained: false,
		Presets:   []string{methods.PresetPaper, methods.PresetCPU},
		Build:     catalogueBuild,
		Configure: catalogueConfigure,
		Load:      func(dir string, _ methods.Manifest) (methods.Detector, error) { return load(dir) },
	})
}
