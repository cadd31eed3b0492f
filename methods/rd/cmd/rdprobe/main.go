package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/datasets/synth"
	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/metrics"
	"github.com/gonomaly/gonomaly/methods/rd"
)

func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func main() {
	size := flag.Int("size", 64, "")
	epochs := flag.Int("epochs", 3, "")
	prof := flag.String("prof", "", "")
	cat := flag.String("cat", "grid", "")
	train := flag.Int("train", 16, "")
	variant := flag.String("variant", "rd", "")
	blocks := flag.Int("blocks", 1, "")
	flag.Parse()
	c := rd.CPUConfig(rd.Variant(*variant))
	c.Weights = "random"
	c.ImageSize, c.BatchSize, c.Epochs = *size, 8, *epochs
	c.BottleneckBlocks, c.DecoderBlocks = *blocks, [3]int{*blocks, *blocks, *blocks}
	c.SinkhornIters = 5
	ds, _ := synth.New(*cat, synth.Options{Size: *size, Seed: 3, Train: *train, TestNormal: 8, TestPerDefect: 2})
	d, err := rd.New(c)
	if err != nil {
		panic(err)
	}
	last, lastCPU := time.Now(), cpu()
	ctx := methods.WithProgress(context.Background(), func(e methods.Event) {
		fmt.Fprintf(os.Stderr, "%s %d/%d loss=%.3f wall +%v cpu +%v\n", e.Task, e.Done, e.Total, e.Metrics["loss"], time.Since(last).Round(time.Millisecond), (cpu() - lastCPU).Round(time.Millisecond))
		last, lastCPU = time.Now(), cpu()
	})
	if *prof != "" {
		f, _ := os.Create(*prof)
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if err := d.Fit(ctx, ds.Train); err != nil {
		panic(err)
	}
	preds, err := d.Predict(context.Background(), ds.Test)
	if err != nil {
		panic(err)
	}
	var scores []float64
	var labels []bool
	var maps, masks []datasets.Image
	for i, p := range preds {
		smp, _ := ds.Test.Sample(i)
		scores = append(scores, float64(p.Score))
		labels = append(labels, smp.Label == datasets.Anomalous)
		maps = append(maps, p.Map)
		masks = append(masks, smp.Mask)
	}
	auc, _ := metrics.AUROC(scores, labels)
	pix, _ := metrics.PixelAUROC(maps, masks)
	fmt.Printf("%s %s size %d epochs %d: image AUROC %.3f pixel AUROC %.3f cpu %v\n", *variant, *cat, *size, *epochs, auc, pix, cpu().Round(time.Second))
}
