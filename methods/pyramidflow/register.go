package pyramidflow

import "github.com/gonomaly/gonomaly/methods"

// catalogueBuild and catalogueConfigure are the catalogue's Build and Configure of this method.
var catalogueBuild, catalogueConfigure = methods.Configurable(presetConfig,
	func(c *Config) *methods.Settings { return &c.Settings },
	func(c Config) (methods.Detector, error) { return New(c) })

func init() {
	methods.Register(methods.Entry{
		Name: Name, Display: "PyramidFlow", Family: methods.DistributionMap,
		Paper: methods.Paper{
			Title:   "PyramidFlow: High-Resolution Defect Contrastive Localization using Pyramid Normalizing Flow",
			Authors: "Jiarui Lei, Xiaobo Hu, Yue Wang, Dong Liu", Venue: "CVPR", Year: 2023,
			URL: "https://arxiv.org/abs/2303.02595",
		},
		Summary: "A fully invertible flow on a Laplacian pyramid of the image maps normal images to one latent template; the latent pyramid difference from it is the anomaly map.",
		Trains:  true, NeedsPretrained: true,
		Presets:   []string{methods.PresetPaper, methods.PresetCPU, PresetPaperLite, PresetCPULite},
		Build:     catalogueBuild,
		Configure: catalogueConfigure,
		Load:      func(dir string, _ methods.Manifest) (methods.Detector, error) { return load(dir) },
	})
}
