package cflow

import "github.com/gonomaly/gonomaly/methods"

// catalogueBuild and catalogueConfigure are the catalogue's Build and Configure of this method.
var catalogueBuild, catalogueConfigure = methods.Configurable(presetConfig,
	func(c *Config) *methods.Settings { return &c.Settings },
	func(c Config) (methods.Detector, error) { return New(c) })

func init() {
	methods.Register(methods.Entry{
		Name: Name, Display: "CFLOW-AD", Family: methods.DistributionMap,
		Paper: methods.Paper{
			Title:   "CFLOW-AD: Real-Time Unsupervised Anomaly Detection with Localization via Conditional Normalizing Flows",
			Authors: "Denis Gudovskiy, Shun Ishizaka, Kazuki Kozuka", Venue: "WACV", Year: 2022,
			URL: "https://arxiv.org/abs/2107.12571",
		},
		Summary: "Conditional normalizing flows, one per encoder scale and conditioned on position, give every feature vector a likelihood; unlikely is anomalous.",
		Trains:  true, NeedsPretrained: true,
		Presets:   []string{methods.PresetPaper, methods.PresetCPU},
		Build:     catalogueBuild,
		Configure: catalogueConfigure,
		Load:      func(dir string, _ methods.Manifest) (methods.Detector, error) { return load(dir) },
	})
}
