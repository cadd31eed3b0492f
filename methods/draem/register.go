package draem

import (
	"fmt"

	"github.com/gonomaly/gonomaly/methods"
)

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
		Presets: []string{methods.PresetPaper, methods.PresetCPU},
		Build: func(p string, edit func(*methods.Settings)) (methods.Detector, error) {
			var cfg Config
			switch p {
			case methods.PresetPaper:
				cfg = Paper()
			case methods.PresetCPU:
				cfg = CPU()
			default:
				return nil, fmt.Errorf("draem: unknown preset %q", p)
			}
			if edit != nil {
				edit(&cfg.Settings)
			}
			return New(cfg)
		},
		Load: func(dir string, _ methods.Manifest) (methods.Detector, error) { return load(dir) },
	})
}
