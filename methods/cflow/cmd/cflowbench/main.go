// Command cflowbench measures CFLOW-AD on the synthetic benchmark with the CPU preset (cflow.CPU): fit
// time, inference ms/image, and image AUROC, pixel AUROC and AUPRO (methods/metrics.Evaluate) per
// category, printed as markdown rows.
//
// Flags override single fields of the preset, to measure what each buys (-unconditional: the
// positional condition's worth). Run one measurement process at a time on a shared machine:
//
//	go run ./methods/cflow/cmd/cflowbench -cats carpet,grid,pill
//	go run ./methods/cflow/cmd/cflowbench -cats pill,screw -unconditional
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
	"github.com/gonomaly/gonomaly/methods/cflow"
	"github.com/gonomaly/gonomaly/methods/compute"
	"github.com/gonomaly/gonomaly/methods/metrics"
)

func main() {
	cats := flag.String("cats", "carpet,grid,pill", "comma-separated synthetic categories")
	train := flag.Int("train", 60, "normal training images per category")
	seed := flag.Uint64("seed", 1, "synthetic dataset seed")
	metaEpochs := flag.Int("meta-epochs", 0, "override the preset's meta epochs (0: keep CPU's)")
	backbone := flag.String("backbone", "", "override the preset's encoder (resnet18, wide_resnet50_2, ...)")
	size := flag.Int("size", 0, "override the preset's image size (0: keep)")
	blocks := flag.Int("blocks", 0, "override the preset's coupling blocks per decoder (0: keep)")
	fibers := flag.Int("fibers", -1, "override the preset's fibers per image and pass (0: all; -1: keep)")
	lr := flag.Float64("lr", 0, "override the preset's learning rate (0: keep)")
	unconditional := flag.Bool("unconditional", false, "feed the decoders a zero condition instead of the positional encoding")
	verbose := flag.Bool("v", false, "print progress events to stderr")
	flag.Parse()

	ctx := context.Background()
	if *verbose {
		ctx = methods.WithProgress(ctx, func(e methods.Event) {
			fmt.Fprintf(os.Stderr, "%s %d/%d %v\n", e.Task, e.Done, e.Total, e.Metrics)
		})
	}
	if _, err := compute.Backend(); err != nil {
		fail(err)
	}
	fmt.Println("| category | train images | fit s | infer ms/image | image AUROC | pixel AUROC | AUPRO |")
	fmt.Println("| --- | --- | --- | --- | --- | --- | --- |")
	for _, cat := range strings.Split(*cats, ",") {
		if cat = strings.TrimSpace(cat); cat == "" {
			continue
		}
		cfg := cflow.CPU()
		if *metaEpochs > 0 {
			cfg.MetaEpochs = *metaEpochs
		}
		if *backbone != "" {
			cfg.Backbone = *backbone
		}
		if *size > 0 {
			cfg.ImageSize = *size
		}
		if *blocks > 0 {
			cfg.CouplingBlocks = *blocks
		}
		if *fibers >= 0 {
			cfg.FibersPerImage = *fibers
		}
		if *lr > 0 {
			cfg.LearningRate = *lr
		}
		cfg.Unconditional = *unconditional
		if err := measure(ctx, cfg, cat, *train, *seed); err != nil {
			fail(fmt.Errorf("%s: %w", cat, err))
		}
	}
}

// measure fits the CPU preset on one category and prints a markdown row.
func measure(ctx context.Context, cfg cflow.Config, cat string, train int, seed uint64) error {
	ds, err := synth.New(cat, synth.Options{Size: cfg.ImageSize, Seed: seed, Train: train, TestNormal: 20, TestPerDefect: 8})
	if err != nil {
		return err
	}
	d, err := cflow.New(cfg)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := d.Fit(ctx, ds.Train); err != nil {
		return err
	}
	fit := time.Since(start)
	// Compile the inference graphs for the test's batch shapes (a full batch and the remainder) first,
	// so that the timed pass measures inference alone.
	n, b := ds.Test.Len(), cfg.FeatureBatch
	for _, warm := range []methods.Images{methods.Slice(ds.Test, 0, min(b, n)), methods.Slice(ds.Test, n-n%b, n)} {
		if warm.Len() > 0 {
			if _, err := d.Predict(ctx, warm); err != nil {
				return err
			}
		}
	}
	start = time.Now()
	preds, err := d.Predict(ctx, ds.Test)
	if err != nil {
		return err
	}
	infer := time.Since(start)
	masks, err := ds.Test.Masks()
	if err != nil {
		return err
	}
	r, err := metrics.Evaluate(preds, ds.Test.Labels(), masks, ds.Test.Defects(), metrics.Options{NoPerDefect: true})
	if err != nil {
		return err
	}
	fmt.Printf("| %s | %d | %.0f | %.1f | %.3f | %.3f | %.3f |\n", cat, train, fit.Seconds(),
		float64(infer.Milliseconds())/float64(len(preds)), r.ImageAUROC, r.PixelAUROC, r.AUPRO)
	fmt.Fprintf(os.Stderr, "%s: loss per meta epoch %.4f; max log-likelihood per tap %.3f\n", cat, d.History, d.MaxLogLikelihood)
	return nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "cflowbench:", err)
	os.Exit(1)
}
