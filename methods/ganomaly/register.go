package ganomaly

import "github.com/gonomaly/gonomaly/methods"

func init() {
	methods.Register(methods.Entry{
		Name: "ganomaly", Display: "GANomaly", Family: methods.Reconstruction,
		Paper: methods.Paper{
			Title:   "GANomaly: Semi-Supervised Anomaly Detection via Adversarial Training",
			Authors: "Samet Akcay, Amir Atapour-Abarghouei, Toby P. Breckon", Venue: "ACCV", Year: 2018,
			URL: "https://arxiv.org/abs/1805.06725",
		},
		Summary: "An encoder-decoder-encoder trained adversarially on normal images; an anomaly's latent code is not reproduced after reconstruction.",
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
			// Shared settings written for every method (tests, benchmarks) name a backbone; GANomaly
			// has none, so the catalogue's edit cannot give it one. Weights are still checked by New.
			cfg.Backbone = NoBackbone
			return New(cfg)
		},
		Load: func(dir string, _ methods.Manifest) (methods.Detector, error) { return load(dir) },
	})
}
