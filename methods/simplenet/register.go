package simplenet

import (
	"fmt"

	"github.com/gonomaly/gonomaly/methods"
)

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
		Presets: []string{methods.PresetPaper, methods.PresetCPU},
		Build: func(preset string, edit func(*methods.Settings)) (methods.Detector, error) {
			var cfg Config
			switch preset {
			case methods.PresetPaper:
				cfg = Paper()
			case methods.PresetCPU:
				cfg = CPU()
			default:
				return nil, fmt.Errorf("simplenet: unknown preset %q", preset)
			}
			if edit != nil {
				edit(&cfg.Settings)
			}
			return New(cfg)
		},
		Load: func(dir string, _ methods.Manifest) (methods.Detector, error) { return Load(dir) },
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
		Presets: []string{methods.PresetPaper, methods.PresetCPU},
		Build: func(preset string, edit func(*methods.Settings)) (methods.Detector, error) {
			var cfg SVDDConfig
			switch preset {
			case methods.PresetPaper:
				cfg = SVDDPaper()
			case methods.PresetCPU:
				cfg = SVDDCPU()
			default:
				return nil, fmt.Errorf("deepsvdd: unknown preset %q", preset)
			}
			if edit != nil {
				edit(&cfg.Settings)
			}
			return NewSVDD(cfg)
		},
		Load: func(dir string, _ methods.Manifest) (methods.Detector, error) { return LoadSVDD(dir) },
	})
}
