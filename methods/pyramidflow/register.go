package pyramidflow

import "github.com/gonomaly/gonomaly/methods"

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
		Presets: []string{methods.PresetPaper, methods.PresetCPU, PresetPaperLite, PresetCPULite},
		Build: func(preset string, edit func(*methods.Settings)) (methods.Detector, error) {
			cfg, err := presetConfig(preset)
			if err != nil {
				return nil, err
			}
			if edit != nil {
				edit(&cfg.Settings)
			}
			return New(cfg)
		},
		Load: func(dir string, _ methods.Manifest) (methods.Detector, error) { return load(dir) },
	})
}
