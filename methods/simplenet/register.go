package simplenet

import (
	"github.com/gonomaly/gonomaly/methods"
)

// catalogueBuild and catalogueConfigure are the catalogue's Build and Configure of this method.
var catalogueBuild, catalogueConfigure = methods.Configurable(methods.StandardPresets("simplenet", Paper, CPU),
	func(c *Config) *methods.Settings { return &c.Settings },
	func(c Config) (methods.Detector, error) { return New(c) })

// svddBuild and svddConfigure are the catalogue's Build and Configure of this method.
var svddBuild, svddConfigure = methods.Configurable(methods.StandardPresets("deepsvdd", SVDDPaper, SVDDCPU),
	func(c *SVDDConfig) *methods.Settings { return &c.Settings },
	func(c SVDDConfig) (methods.Detector, error) { return NewSVDD(c) })

func init() {
	methods.Register(methods.Entry{
		Name: Name, Display: "SimpleNet", Family: methods.OneClass,
		Paper: methods.Paper{
			Title:   "SimpleNet: A Simple Network for Image Anomaly Detection and Localization",
			Authors: "Zhikang Liu, Yiming Zhou, Yuansheng Xu, Zilei Wang", Venue: "CVPR", Year: 2023,
			URL: "https://arxiv.org/abs/2303.15140",
		},
		Summary: "A discriminator learns the boundary of adapted normal patch features against the same features with Gaussian noise added.",
		Trains:  true, NeedsPretrained: true,
		Presets:   []string{methods.PresetPaper, methods.PresetCPU},
		Build:     catalogueBuild,
		Configure: catalogueConfigure,
		Load:      func(dir string, _ methods.Manifest) (methods.Detector, error) { return Load(dir) },
	})
	methods.Register(methods.Entry{
		Name: SVDDName, Display: "Deep SVDD", Family: methods.OneClass,
		Paper: methods.Paper{
			Title:   "Deep One-Class Classification",
			Authors: "Lukas Ruff, Robert Vandermeulen, Nico Görnitz, Lucas Deecke, Shoaib Ahmed Siddiqui, Alexander Binder, Emmanuel Müller, Marius Kloft",
			Venue:   "ICML", Year: 2018, URL: "https://proceedings.mlr.press/v80/ruff18a.html",
		},
		Summary: "A bias-free network pulls normal patch features towards a fixed centre; a patch scores its distance to it.",
		Trains:  true, NeedsPretrained: true,
		Presets:   []string{methods.PresetPaper, methods.PresetCPU},
		Build:     svddBuild,
		Configure: svddConfigure,
		Load:      func(dir string, _ methods.Manifest) (methods.Detector, error) { return LoadSVDD(dir) },
	})
}
