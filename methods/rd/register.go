package rd

import (
	"fmt"

	"github.com/gonomaly/gonomaly/methods"
)

func init() {
	methods.Register(methods.Entry{
		Name: string(RD), Display: "Reverse Distillation", Family: methods.TeacherStudent,
		Paper: methods.Paper{
			Title:   "Anomaly Detection via Reverse Distillation From One-Class Embedding",
			Authors: "Hanqiu Deng, Xingyu Li", Venue: "CVPR", Year: 2022,
			URL: "https://arxiv.org/abs/2201.10703",
		},
		Summary: "A student decoder rebuilds a frozen teacher's features from a one-class bottleneck; it fails where the image is anomalous.",
		Trains:  true, NeedsPretrained: true,
		Presets:   []string{methods.PresetPaper, methods.PresetCPU},
		Build:     rdBuild,
		Configure: rdConfigure,
		Load:      func(dir string, _ methods.Manifest) (methods.Detector, error) { return load(dir, string(RD)) },
	})
	methods.Register(methods.Entry{
		Name: string(RDPlusPlus), Display: "RD++", Family: methods.TeacherStudent,
		Paper: methods.Paper{
			Title:   "Revisiting Reverse Distillation for Anomaly Detection",
			Authors: "Tran Dinh Tien, Anh Tuan Nguyen, Nguyen Hoang Tran, Ta Duc Huy, Soan T.M. Duong, Chanh D. Tr. Nguyen, Steven Q. H. Truong",
			Venue:   "CVPR", Year: 2023,
			URL: "https://openaccess.thecvf.com/content/CVPR2023/html/Tien_Revisiting_Reverse_Distillation_for_Anomaly_Detection_CVPR_2023_paper.html",
		},
		Summary: "Reverse Distillation with a projection trained on pseudo-anomalies to keep only normal information.",
		Trains:  true, NeedsPretrained: true,
		Presets:   []string{methods.PresetPaper, methods.PresetCPU},
		Build:     rdppBuild,
		Configure: rdppConfigure,
		Load:      func(dir string, _ methods.Manifest) (methods.Detector, error) { return load(dir, string(RDPlusPlus)) },
	})
}

// variantBuilders returns the catalogue's Build and Configure of variant v.
func variantBuilders(v Variant) (func(string, func(*methods.Settings)) (methods.Detector, error),
	func(string, []byte, func(*methods.Settings)) (methods.Detector, error)) {
	return methods.Configurable(func(p string) (Config, error) { return presetConfig(v, p) },
		func(c *Config) *methods.Settings { return &c.Settings },
		func(c Config) (methods.Detector, error) {
			if c.Variant != v { // the method's name is its variant: a config cannot switch it
				return nil, fmt.Errorf("config: variant %q: build the %q method instead of %q", c.Variant, c.Variant, v)
			}
			return New(c)
		})
}

var (
	rdBuild, rdConfigure     = variantBuilders(RD)
	rdppBuild, rdppConfigure = variantBuilders(RDPlusPlus)
)
