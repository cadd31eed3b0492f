// Command evalbench fits any catalogue method on a synthetic category, evaluates it with
// metrics.EvaluateSplit, and reports fit time, inference time per image, image AUROC, pixel AUROC, AUPRO
// and the process's peak resident memory (getrusage), as one markdown row.
//
// To measure Predict's memory apart from Fit's, fit once and save, then evaluate from the checkpoint in
// a fresh process:
//
//	go run ./methods/cmd/evalbench -method patchcore -checkpoint /tmp/pc          # fits, saves, evaluates
//	go run ./methods/cmd/evalbench -method patchcore -checkpoint /tmp/pc -test 64 # loads, evaluates 64 images
//
// A second run with a larger -test shows whether memory grows with the number of test images.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/gonomaly/gonomaly/datasets/synth"
	"github.com/gonomaly/gonomaly/methods"
	_ "github.com/gonomaly/gonomaly/methods/all"
	"github.com/gonomaly/gonomaly/methods/compute"
	"github.com/gonomaly/gonomaly/methods/metrics"
)

func main() {
	method := flag.String("method", "patchcore", "catalogue name of the method")
	preset := flag.String("preset", methods.PresetCPU, "preset: cpu or paper")
	category := flag.String("category", "carpet", "synthetic category")
	train := flag.Int("train", 16, "training images")
	test := flag.Int("test", 16, "test images (half normal, the rest spread over the defect types)")
	size := flag.Int("size", 0, "ImageSize (0: the preset's)")
	batch := flag.Int("feature-batch", 0, "FeatureBatch (0: the preset's)")
	weights := flag.String("weights", "random", "backbone weights (Settings.Weights)")
	checkpoint := flag.String("checkpoint", "", "load the detector from this checkpoint if it exists; otherwise fit and save it there")
	flag.Parse()
	if err := run(*method, *preset, *category, *train, *test, *size, *batch, *weights, *checkpoint); err != nil {
		fmt.Fprintln(os.Stderr, "evalbench:", err)
		os.Exit(1)
	}
}

func run(method, preset, category string, train, test, size, batch int, weights, checkpoint string) error {
	ctx := context.Background()
	edit := func(s *methods.Settings) {
		s.Weights = weights
		if size > 0 {
			s.ImageSize = size
		}
		if batch > 0 {
			s.FeatureBatch = batch
		}
	}
	var d methods.Detector
	var err error
	loaded := false
	if checkpoint != "" {
		if _, statErr := os.Stat(filepath.Join(checkpoint, methods.ManifestFile)); statErr == nil {
			if d, err = methods.Load(checkpoint); err != nil {
				return err
			}
			loaded = true
		}
	}
	if d == nil {
		if d, err = methods.Build(method, preset, edit); err != nil {
			return err
		}
	}
	s := d.(methods.Configured).Settings()
	if loaded && batch > 0 {
		fmt.Fprintln(os.Stderr, "evalbench: -feature-batch is ignored for a loaded checkpoint (it keeps its settings)")
	}
	normal := max(1, test/2)
	ds, err := synth.New(category, synth.Options{Size: s.ImageSize, Train: train, TestNormal: normal, TestPerDefect: 1, Seed: 1})
	if err != nil {
		return err
	}
	// Enough anomalous images: as many of each defect type as needed to fill the test split.
	if types := ds.Test.Len() - normal; test-normal > types {
		perDefect := (test - normal + types - 1) / types
		if ds, err = synth.New(category, synth.Options{Size: s.ImageSize, Train: train, TestNormal: normal, TestPerDefect: perDefect, Seed: 1}); err != nil {
			return err
		}
	}
	split := ds.Test.Subset("test", firstN(min(test, ds.Test.Len())))
	var fit time.Duration
	fitRSS := 0.0
	if !loaded {
		start := time.Now()
		if err := d.Fit(ctx, ds.Train); err != nil {
			return err
		}
		fit = time.Since(start)
		fitRSS = peakRSSMiB()
		if checkpoint != "" {
			if err := d.Save(checkpoint); err != nil {
				return err
			}
		}
	}
	start := time.Now()
	rep, preds, err := metrics.EvaluateSplit(ctx, d, split, metrics.Options{NoPerDefect: true})
	if err != nil {
		return err
	}
	perImage := time.Since(start) / time.Duration(len(preds))
	choice, _ := compute.InUse()
	fmt.Printf("| method | backend | preset | px | feature batch | train | test | fit | inference | image AUROC | pixel AUROC | AUPRO | peak RSS after fit | peak RSS |\n")
	fmt.Printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	fitCol, fitRSSCol := fmt.Sprintf("%.1f s", fit.Seconds()), fmt.Sprintf("%.0f MiB", fitRSS)
	if loaded {
		fitCol, fitRSSCol = "loaded", "-"
	}
	fmt.Printf("| %s | %s | %s | %d | %d | %d | %d | %s | %.0f ms/image | %.3f | %.3f | %.3f | %s | %.0f MiB |\n",
		d.Name(), choice.Name, preset, s.ImageSize, s.FeatureBatch, train, len(preds), fitCol,
		float64(perImage.Microseconds())/1000, rep.ImageAUROC, rep.PixelAUROC, rep.AUPRO, fitRSSCol, peakRSSMiB())
	return nil
}

func firstN(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// peakRSSMiB is the process's peak resident set size so far.
func peakRSSMiB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1024 // kilobytes on Linux
}
