// Command pyramidflowbench measures PyramidFlow on the synthetic benchmark with a CPU preset (cpu: the
// full variant with the seeded or cached ResNet-18; cpu-lite: no encoder): fit time, inference ms/image,
// and image AUROC, pixel AUROC and AUPRO (methods/metrics.Evaluate) per category, printed as markdown rows.
//
// Run one measurement process at a time on a shared machine:
//
//	go run ./methods/pyramidflow/cmd/pyramidflowbench -preset cpu-lite -cats carpet,grid,pill
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
	"github.com/gonomaly/gonomaly/methods/compute"
	"github.com/gonomaly/gonomaly/methods/metrics"
	"github.com/gonomaly/gonomaly/methods/pyramidflow"
)

func main() {
	preset := flag.String("preset", methods.PresetCPU, "cpu or cpu-lite")
	cats := flag.String("cats", "carpet,grid,pill", "comma-separated synthetic categories")
	train := flag.Int("train", 60, "normal training images per category")
	seed := flag.Uint64("seed", 1, "synthetic dataset seed")
	epochs := flag.Int("epochs", 0, "override the preset's epochs (0: keep it)")
	weights := flag.String("weights", "random", `encoder weights (cpu preset): "random" (seeded) or "" (ImageNet from the cache or hub)`)
	stacks := flag.Int("stacks", 0, "override the preset's stacks (0: keep it)")
	kernel := flag.Int("kernel", 0, "override the preset's kernel (0: keep it)")
	batch := flag.Int("batch", 0, "override the preset's batch size (0: keep it)")
	lr := flag.Float64("lr", 0, "override the preset's learning rate (0: keep it)")
	verbose := flag.Bool("v", false, "print progress events to stderr")
	flag.Parse()

	var cfg pyramidflow.Config
	switch *preset {
	case methods.PresetCPU:
		cfg = pyramidflow.CPU()
	case pyramidflow.PresetCPULite:
		cfg = pyramidflow.CPULite()
	default:
		fail(fmt.Errorf("unknown preset %q (cpu, cpu-lite)", *preset))
	}
	cfg.Weights = *weights
	if *epochs > 0 {
		cfg.Epochs = *epochs
	}
	if *stacks > 0 {
		cfg.Stacks = *stacks
	}
	if *kernel > 0 {
		cfg.Kernel = *kernel
	}
	if *batch > 0 {
		cfg.BatchSize = *batch
	}
	if *lr > 0 {
		cfg.LearningRate = *lr
	}
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
		if err := measure(ctx, cfg, cat, *train, *seed); err != nil {
			fail(fmt.Errorf("%s: %w", cat, err))
		}
	}
}

// measure fits the preset on one category and prints a markdown row.
func measure(ctx context.Context, cfg pyramidflow.Config, cat string, train int, seed uint64) error {
	ds, err := synth.New(cat, synth.Options{Size: cfg.ImageSize, Seed: seed, Train: train, TestNormal: 20, TestPerDefect: 8})
	if err != nil {
		return err
	}
	d, err := pyramidflow.New(cfg)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := d.Fit(ctx, ds.Train); err != nil {
		return err
	}
	fit := time.Since(start)
	// The first Predict compiles the inference graph for the test batch shapes; time a second pass.
	if _, err := d.Predict(ctx, ds.Test); err != nil {
		return err
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
	fmt.Fprintf(os.Stderr, "%s: loss per epoch %.4f\n", cat, d.History)
	return nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "pyramidflowbench:", err)
	os.Exit(1)
}
