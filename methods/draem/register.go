package draem

import (
	"github.com/gonomaly/gonomaly/methods"
)

// catalogueBuild and catalogueConfigure are the catalogue's Build and Configure of this method.
var catalogueBuild, catalogueConfigure = methods.Configurable(methods.StandardPresets("draem", Paper, CPU),
	func(c *Config) *methods.Settings { return &c.Settings },
	func(c Config) (methods.Detector, error) { return New(c) })

func init() {
	methods.Register(methods.Entry{
		Name: Name, Display: "DRAEM", Family: methods.Reconstruction,
		Paper: methods.Paper{
			Title:   "DRAEM - A Discriminatively Trained Reconstruction Embedding for Surface Anomaly Detection",
			Authors: "Vitjan Zavrtanik, Matej Kristan, Danijel Skočaj", Venue: "ICCV", Year: 2021,
			URL: "https://arxiv.org/abs/2108.07610",
		},
		Summary: "Reconstruction alone also restores defects; DRAEM pastes synthetic anomalies, learns to undo them and trains a second network to segment where image and reconstruction disagree.",
		Trains:  true, NeedsPretrained: false,
		Presets:   []string{methods.PresetPaper, methods.PresetCPU},
		Build:     catalogueBuild,
		Configure: catalogueConfigure,
		Load:      func(dir string, _ methods.Manifest) (methods.Detector, error) { return load(dir) },
	})
}
