// Command onebench fits the one-class methods (SimpleNet, Deep SVDD) with a preset on synthetic
// categories (60 training images, 20 normal and 8 per defect type in test, dataset seed 1) and prints one
// markdown row per method and category: fit time (feature extraction, compilation and training),
// inference ms/image (scoring with the streaming Predict, loading and metrics), image AUROC, pixel AUROC
// and AUPRO.
//
//	go run ./methods/simplenet/cmd/onebench -methods simplenet,deepsvdd -cats pill,carpet
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/gonomaly/gonomaly/datasets/synth"
	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/metrics"
	"github.com/gonomaly/gonomaly/methods/simplenet"
)

func main() {
	names := flag.String("methods", simplenet.Name+","+simplenet.SVDDName, "comma-separated catalogue names")
	cats := flag.String("cats", strings.Join(synth.Categories(), ","), "comma-separated synthetic categories")
	preset := flag.String("preset", methods.PresetCPU, "preset: cpu or paper")
	weights := flag.String("weights", "", "backbone weights (Settings.Weights; \"\" falls back to the seeded backbone offline)")
	flag.Parse()
	fmt.Println("| method | category | fit s | inference ms/image | image AUROC | pixel AUROC | AUPRO |")
	fmt.Println("| --- | --- | --- | --- | --- | --- | --- |")
	for _, cat := range strings.Split(*cats, ",") {
		for _, name := range strings.Split(*names, ",") {
			if err := run(name, *preset, cat, *weights); err != nil {
				fmt.Fprintln(os.Stderr, "onebench:", err)
				os.Exit(1)
			}
		}
	}
}

func run(name, preset, cat, weights string) error {
	ctx := context.Background()
	d, err := methods.Build(name, preset, func(s *methods.Settings) { s.Weights = weights })
	if err != nil {
		return err
	}
	size := d.(methods.Configured).Settings().ImageSize
	ds, err := synth.New(cat, synth.Options{Size: size, Seed: 1})
	if err != nil {
		return err
	}
	start := time.Now()
	if err := d.Fit(ctx, ds.Train); err != nil {
		return err
	}
	fit := time.Since(start)
	start = time.Now()
	rep, preds, err := metrics.EvaluateSplit(ctx, d, ds.Test, metrics.Options{NoPerDefect: true})
	if err != nil {
		return err
	}
	ms := float64(time.Since(start).Microseconds()) / 1000 / float64(len(preds))
	fmt.Printf("| %s | %s | %.0f | %.1f | %.3f | %.3f | %.3f |\n", name, cat, fit.Seconds(), ms, rep.ImageAUROC, rep.PixelAUROC, rep.AUPRO)
	return nil
}
