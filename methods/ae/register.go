package ae

import (
	"fmt"

	"github.com/gonomaly/gonomaly/methods"
)

func init() {
	methods.Register(methods.Entry{
		Name: Name, Display: "Autoencoder (SSIM, L2, feature; MemAE)", Family: methods.Reconstruction,
		Paper: methods.Paper{
			Title:   "Improving Unsupervised Defect Segmentation by Applying Structural Similarity to Autoencoders",
			Authors: "Paul Bergmann, Sindy Löwe, Michael Fauser, David Sattlegger, Carsten Steger",
			Venue:   "VISAPP", Year: 2019,
			URL: "https://arxiv.org/abs/1807.02011",
		},
		Summary: "A convolutional autoencoder trained on normal images cannot reproduce what it never saw: the residual (per-pixel, SSIM or in a backbone's features) marks the defect.",
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
				return nil, fmt.Errorf("ae: unknown preset %q", p)
			}
			if edit != nil {
				edit(&cfg.Settings)
			}
			return New(cfg)
		},
		Load: func(dir string, _ methods.Manifest) (methods.Detector, error) { return load(dir) },
	})
}
