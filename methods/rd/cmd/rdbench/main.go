// Command rdbench measures Reverse Distillation and RD++ on the synthetic benchmark: train time per
// epoch, inference ms/image, and image AUROC, pixel AUROC and AUPRO (methods/metrics.Evaluate) per
// category, with the CPU preset (rd.CPU). With -paper it also times inference of the Paper preset
// (Wide-ResNet-50-2 at 256 px) after a single one-image training step: its accuracy is meaningless, its
// speed is what the README reports.
//
// Run one measurement process at a time on a shared machine:
//
//	go run ./methods/rd/cmd/rdbench -cats carpet,grid,pill -variants rd,rdpp
//	go run ./methods/rd/cmd/rdbench -cats "" -paper
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/datasets/synth"
	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/compute"
	"github.com/gonomaly/gonomaly/methods/metrics"
	"github.com/gonomaly/gonomaly/methods/rd"
)

func main() {
	cats := flag.String("cats", "carpet,grid,pill", "comma-separated synthetic categories (empty: none)")
	variants := flag.String("variants", "rd,rdpp", "comma-separated variants: rd, rdpp")
	train := flag.Int("train", 60, "normal training images per category")
	seed := flag.Uint64("seed", 1, "synthetic dataset seed")
	epochs := flag.Int("epochs", 0, "override the preset's epochs (0: keep the CPU preset's)")
	backboneSeed := flag.Uint64("backbone-seed", methods.DefaultBackboneSeed, "seed of the seeded teacher (the README's RD table was measured with 111)")
	paper := flag.Bool("paper", false, "also time inference of the Paper preset (Wide-ResNet-50-2, 256 px)")
	paperImages := flag.Int("paper-images", 2, "images to time with -paper")
	paperTrain := flag.Bool("paper-train", false, "time the teacher and one full training step (batch -paper-batch) of the Paper preset")
	paperBatch := flag.Int("paper-batch", 16, "batch size of the -paper-train step (the paper's: 16)")
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
	fmt.Println("| variant | category | train images | epochs | train s/epoch | infer ms/image | image AUROC | pixel AUROC | AUPRO |")
	fmt.Println("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, cat := range split(*cats) {
		for _, v := range split(*variants) {
			cfg := rd.CPU().WithVariant(rd.Variant(v))
			cfg.BackboneSeed = *backboneSeed
			if *epochs > 0 {
				cfg.Epochs = *epochs
			}
			if err := measure(ctx, cfg, cat, *train, *seed); err != nil {
				fail(fmt.Errorf("%s on %s: %w", v, cat, err))
			}
		}
	}
	if *paperTrain {
		for _, v := range split(*variants) {
			if err := paperTrainStep(ctx, rd.Variant(v), *paperBatch, *seed); err != nil {
				fail(fmt.Errorf("paper %s: %w", v, err))
			}
		}
	}
	if *paper {
		for _, v := range split(*variants) {
			if err := paperInference(ctx, rd.Variant(v), *paperImages, *seed); err != nil {
				fail(fmt.Errorf("paper %s: %w", v, err))
			}
		}
	}
}

// measure fits one variant on one category and prints a markdown row.
func measure(ctx context.Context, cfg rd.Config, cat string, train int, seed uint64) error {
	d, ds, fit, err := fitTimed(ctx, cfg, cat, synth.Options{Seed: seed, Train: train, TestNormal: 20, TestPerDefect: 8})
	if err != nil {
		return err
	}
	// Warm up (compiles the inference graph for both batch shapes), then time a second pass.
	if _, err := d.Predict(ctx, ds.Test); err != nil {
		return err
	}
	start := time.Now()
	r, preds, err := metrics.EvaluateSplit(ctx, d, ds.Test, metrics.Options{NoPerDefect: true})
	if err != nil {
		return err
	}
	infer := time.Since(start) // includes rendering the test images and the metrics (well under 1%)
	fmt.Printf("| %s | %s | %d | %d | %.1f | %.1f | %.3f | %.3f | %.3f |\n", cfg.Variant, cat, train, cfg.Epochs,
		fit.Seconds()/float64(cfg.Epochs), float64(infer.Milliseconds())/float64(len(preds)), r.ImageAUROC, r.PixelAUROC, r.AUPRO)
	fmt.Fprintf(os.Stderr, "%s %s: loss per epoch %.4f\n", cfg.Variant, cat, d.History)
	return nil
}

// paperInference times the Paper preset's inference. Predict needs a fitted detector, so it first
// runs one training step on one image (weights stay essentially random: only speed is measured).
func paperInference(ctx context.Context, v rd.Variant, n int, seed uint64) error {
	cfg := rd.Paper().WithVariant(v)
	cfg.Weights = "random"
	cfg.Epochs, cfg.BatchSize = 1, 1
	d, ds, step, err := fitTimed(ctx, cfg, "carpet", synth.Options{Seed: seed, Train: 1, TestNormal: n, TestPerDefect: 1})
	if err != nil {
		return err
	}
	// The first Predict compiles the inference graph; time a second pass.
	test := firstN{ds.Test, n}
	if _, err := d.Predict(ctx, test); err != nil {
		return err
	}
	start := time.Now()
	preds, err := d.Predict(ctx, test)
	if err != nil {
		return err
	}
	fmt.Printf("paper preset %s (%s, %d px): one 1-image training step (with compilation) %.1f s; inference %.0f ms/image over %d images\n",
		v, cfg.Backbone, cfg.ImageSize, step.Seconds(), float64(time.Since(start).Milliseconds())/float64(len(preds)), len(preds))
	return nil
}

// paperTrainStep fits the Paper preset for one step of batch images and reports the teacher's
// extraction time and the step's time (it includes the graph's compilation, seconds on the pure-Go
// backend against minutes of computing), from which an epoch's time follows: RD's teacher runs once
// per image before training, RD++'s step already includes the teacher on its noisy batch.
func paperTrainStep(ctx context.Context, v rd.Variant, batch int, seed uint64) error {
	cfg := rd.Paper().WithVariant(v)
	cfg.Weights = "random"
	cfg.Epochs, cfg.BatchSize = 1, batch
	var step time.Duration
	ctx = methods.WithProgress(ctx, func(e methods.Event) {
		if strings.HasSuffix(e.Task, ": training") && e.Done == 1 && !e.Finished {
			step = e.Elapsed
		}
	})
	_, _, total, err := fitTimed(ctx, cfg, "carpet", synth.Options{Seed: seed, Train: batch, TestNormal: 1, TestPerDefect: 1})
	if err != nil {
		return err
	}
	teacher := total - step
	const mvtecTrain = 200 // a typical MVTec AD category's normal training images
	steps := mvtecTrain / batch
	epoch := time.Duration(steps) * step
	fmt.Printf("paper preset %s (%s, %d px): teacher on %d images %.1f s (%.0f ms/image); one training step of batch %d %.1f s; "+
		"an epoch of %d images (%d steps) %.1f min",
		v, cfg.Backbone, cfg.ImageSize, batch, teacher.Seconds(), float64(teacher.Milliseconds())/float64(batch), batch, step.Seconds(),
		mvtecTrain, steps, epoch.Minutes())
	if v == rd.RD {
		fmt.Printf(" plus the teacher once (%.1f min)", (time.Duration(mvtecTrain) * teacher / time.Duration(batch)).Minutes())
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		fmt.Printf("; peak RSS %.1f GiB", float64(ru.Maxrss)/(1<<20)) // kilobytes on Linux
	}
	fmt.Println()
	return nil
}

// fitTimed renders a synthetic category at the preset's image size and fits a detector on its train
// split, returning both and the wall time of Fit.
func fitTimed(ctx context.Context, cfg rd.Config, cat string, opts synth.Options) (*rd.Detector, *datasets.Dataset, time.Duration, error) {
	opts.Size = cfg.ImageSize
	ds, err := synth.New(cat, opts)
	if err != nil {
		return nil, nil, 0, err
	}
	d, err := rd.New(cfg)
	if err != nil {
		return nil, nil, 0, err
	}
	start := time.Now()
	if err := d.Fit(ctx, ds.Train); err != nil {
		return nil, nil, 0, err
	}
	return d, ds, time.Since(start), nil
}

// firstN is the first n images of a set.
type firstN struct {
	methods.Images
	n int
}

func (f firstN) Len() int { return min(f.n, f.Images.Len()) }

func split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "rdbench:", err)
	os.Exit(1)
}
