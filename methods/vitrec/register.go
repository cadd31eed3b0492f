package vitrec

import "github.com/gonomaly/gonomaly/methods"

// catalogueBuild and catalogueConfigure are the catalogue's Build and Configure of this method.
var catalogueBuild, catalogueConfigure = methods.Configurable(presetConfig,
	func(c *Config) *methods.Settings { return &c.Settings },
	func(c Config) (methods.Detector, error) {
		// Shared settings written for every method (tests, benchmarks) name a backbone; this model has
		// none, so neither the catalogue's edit nor a config can give it one. Weights are still checked by New.
		c.Backbone = NoBackbone
		return New(c)
	})

func init() {
	methods.Register(methods.Entry{
		Name: "vitrec", Display: "ViT inpainting", Family: methods.Reconstruction,
		Paper: methods.Paper{
			Title:   "Masked Autoencoders Are Scalable Vision Learners",
			Authors: "Kaiming He, Xinlei Chen, Saining Xie, Yanghao Li, Piotr Dollár, Ross Girshick", Venue: "CVPR", Year: 2022,
			URL: "https://arxiv.org/abs/2111.06377",
		},
		Summary:   "A small vision transformer inpaints masked patches of normal images; a defect inside a masked patch cannot be guessed from its neighbours.",
		Trains:    true,
		Presets:   []string{methods.PresetPaper, methods.PresetCPU},
		Build:     catalogueBuild,
		Configure: catalogueConfigure,
		Load:      func(dir string, _ methods.Manifest) (methods.Detector, error) { return load(dir) },
	})
}
