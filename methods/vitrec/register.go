package vitrec

import "github.com/gonomaly/gonomaly/methods"

func init() {
	methods.Register(methods.Entry{
		Name: "vitrec", Display: "ViT inpainting", Family: methods.Reconstruction,
		Paper: methods.Paper{
			Title:   "Masked Autoencoders Are Scalable Vision Learners",
			Authors: "Kaiming He, Xinlei Chen, Saining Xie, Yanghao Li, Piotr Dollár, Ross Girshick", Venue: "CVPR", Year: 2022,
			URL: "https://arxiv.org/abs/2111.06377",
		},
		Summary: "A small vision transformer inpaints masked patches of normal images; a defect inside a masked patch cannot be guessed from its neighbours.",
		Trains:  true,
		Presets: []string{methods.PresetPaper, methods.PresetCPU},
		Build: func(p string, edit func(*methods.Settings)) (methods.Detector, error) {
			cfg, err := presetConfig(p)
			if err != nil {
				return nil, err
			}
			if edit != nil {
				edit(&cfg.Settings)
			}
			// Shared settings written for every method (tests, benchmarks) name a backbone; this model
			// has none, so the catalogue's edit cannot give it one. Weights are still checked by New.
			cfg.Backbone = NoBackbone
			return New(cfg)
		},
		Load: func(dir string, _ methods.Manifest) (methods.Detector, error) { return load(dir) },
	})
}
