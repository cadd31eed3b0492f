package ganomaly

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
		Name: "ganomaly", Display: "GANomaly", Family: methods.Reconstruction,
		Paper: methods.Paper{
			Title:   "GANomaly: Semi-Supervised Anomaly Detection via Adversarial Training",
			Authors: "Samet Akcay, Amir Atapour-Abarghouei, Toby P. Breckon", Venue: "ACCV", Year: 2018,
			URL: "https://arxiv.org/abs/1805.06725",
		},
		Summary:   "An encoder-decoder-encoder trained adversarially on normal images; an anomaly's latent code is not reproduced after reconstruction.",
		Trains:    true,
		Presets:   []string{methods.PresetPaper, methods.PresetCPU},
		Build:     catalogueBuild,
		Configure: catalogueConfigure,
		Load:      func(dir string, _ methods.Manifest) (methods.Detector, error) { return load(dir) },
	})
}
