// Command membench measures the memory-bank family on the synthetic benchmark and prints markdown
// tables: image AUROC, pixel AUROC and AUPRO per category for PatchCore, PNI and each built-in score
// function (on shared, cached features), and the cost of a fit (time, ms/image, peak memory).
//
//	go run ./methods/patchcore/cmd/membench -size 128 -train 40 -categories carpet,screw
//	go run ./methods/patchcore/cmd/membench -cost -size 224 -train 200
//
// Offline, the backbone has seeded (not ImageNet) weights unless -weights names a file: the numbers
// then measure the method with random features, not the paper's result, and the table says so.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/datasets/synth"
	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/compute"
	"github.com/gonomaly/gonomaly/methods/features"
	"github.com/gonomaly/gonomaly/methods/metrics"
	"github.com/gonomaly/gonomaly/methods/patchcore"
	"github.com/gonomaly/gonomaly/methods/pni"
	"github.com/gonomaly/gonomaly/methods/scores"
)

func main() {
	def := patchcore.CPU() // the flags default to the CPU preset, which PNI's shares
	size := flag.Int("size", def.ImageSize, "image side in pixels")
	train := flag.Int("train", 40, "train images per category")
	testNormal := flag.Int("test-normal", 10, "normal test images per category")
	perDefect := flag.Int("per-defect", 3, "test images per defect type")
	cats := flag.String("categories", strings.Join(synth.Categories(), ","), "comma-separated synthetic categories")
	weights := flag.String("weights", "random", "backbone weights: \"random\" (seeded), \"\" (ImageNet from cache/hub) or a .safetensors path")
	arch := flag.String("backbone", def.Backbone, "backbone architecture")
	dim := flag.Int("dim", def.Features.Dim, "patch feature dimension D")
	ratio := flag.Float64("ratio", def.CoresetRatio, "PatchCore coreset ratio (also PNI's bank)")
	cacheDir := flag.String("cache", os.TempDir()+"/gonomaly-membench", "feature cache directory")
	cost := flag.Bool("cost", false, "measure fit time, ms/image and peak memory of PatchCore on one category instead of the tables")
	noPNI := flag.Bool("no-pni", false, "skip PNI")
	refine := flag.Bool("refine", false, "also train PNI's refinement network (CPU preset's RefineConfig) and report refined PNI")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile (go tool pprof) to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}

	choice, _ := compute.InUse()
	fmt.Printf("backend: %s; backbone %s, weights %q; %d px; %d train images; D=%d\n\n", choice.Description, *arch, *weights, *size, *train, *dim)
	ctx := context.Background()
	if *cost {
		if err := measureCost(ctx, *arch, *weights, *size, *train, *dim, *ratio); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	pcCfg := patchcore.CPU()
	pcCfg.Backbone, pcCfg.Weights, pcCfg.Features.Dim, pcCfg.CoresetRatio, pcCfg.ImageSize = *arch, *weights, *dim, *ratio, *size
	builtins := []scores.Func{scores.NearestL2{Ratio: *ratio}, scores.KNNMean{K: 3, Ratio: *ratio}, scores.Cosine{Ratio: *ratio}, scores.Mahalanobis{}}
	type row struct {
		method, cat string
		r           metrics.Report
	}
	var rows []row
	for _, cat := range strings.Split(*cats, ",") {
		ds, err := synth.New(cat, synth.Options{Size: *size, Train: *train, TestNormal: *testNormal, TestPerDefect: *perDefect, Seed: 1})
		if err != nil {
			fail(err)
		}
		labels, masks, defects := truth(ds.Test)
		pc, _ := patchcore.New(pcCfg)
		bb, err := pc.Backbone()
		if err != nil {
			fail(err)
		}
		cache := features.Cache{Dir: *cacheDir}
		trainF, err := features.ExtractCached(ctx, cache, "synth/"+cat, ds.Train, bb, pcCfg.Features)
		if err != nil {
			fail(err)
		}
		testF, err := features.ExtractCached(ctx, cache, "synth/"+cat, ds.Test, bb, pcCfg.Features)
		if err != nil {
			fail(err)
		}
		if err := pc.FitFeatures(ctx, trainF, *size, *size, 3); err != nil {
			fail(err)
		}
		preds, err := pc.PredictFeatures(ctx, testF)
		if err != nil {
			fail(err)
		}
		rows = append(rows, row{"PatchCore", cat, evaluate(preds, labels, masks, defects)})
		if !*noPNI {
			pcfg := pni.CPU()
			pcfg.Backbone, pcfg.Weights, pcfg.Features.Dim, pcfg.CoresetRatio, pcfg.ImageSize = *arch, *weights, *dim, *ratio, *size
			p, _ := pni.New(pcfg)
			if err := p.FitFeatures(ctx, trainF, *size, *size, 3); err != nil {
				fail(err)
			}
			preds, err := p.PredictFeatures(ctx, testF)
			if err != nil {
				fail(err)
			}
			rows = append(rows, row{"PNI", cat, evaluate(preds, labels, masks, defects)})
			if *refine {
				start := time.Now()
				if err := p.FitRefinement(ctx, ds.Train); err != nil {
					fail(err)
				}
				fit := time.Since(start)
				start = time.Now()
				if err := p.Refine(ctx, ds.Test, preds); err != nil {
					fail(err)
				}
				fmt.Fprintf(os.Stderr, "%s: refinement fit %.1f s, %.1f ms/image, losses %.4f\n", cat, fit.Seconds(),
					float64(time.Since(start).Milliseconds())/float64(len(preds)), p.RefineLosses())
				rows = append(rows, row{"PNI + refinement", cat, evaluate(preds, labels, masks, defects)})
			}
		}
		for _, f := range builtins {
			s, err := f.Score(ctx, trainF, testF)
			if err != nil {
				fail(err)
			}
			preds, err := scores.Predictions(s, testF, *size, *size, 4)
			if err != nil {
				fail(err)
			}
			rows = append(rows, row{"score: " + f.Name(), cat, evaluate(preds, labels, masks, defects)})
		}
		fmt.Fprintf(os.Stderr, "%s done\n", cat)
	}
	fmt.Printf("| method | category | image AUROC | pixel AUROC | AUPRO |\n|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Printf("| %s | %s | %.3f | %.3f | %.3f |\n", r.method, r.cat, r.r.ImageAUROC, r.r.PixelAUROC, r.r.AUPRO)
	}
	if *weights == "random" {
		fmt.Println("\nBackbone weights are seeded random (no ImageNet weights offline): these numbers are not the papers'.")
	}
}

func truth(s *datasets.Split) ([]datasets.Label, []datasets.Image, []string) {
	masks, err := s.Masks()
	if err != nil {
		fail(err)
	}
	return s.Labels(), masks, s.Defects()
}

func evaluate(preds []methods.Prediction, labels []datasets.Label, masks []datasets.Image, defects []string) metrics.Report {
	r, err := metrics.Evaluate(preds, labels, masks, defects, metrics.Options{NoPerDefect: true})
	if err != nil {
		fail(err)
	}
	return r
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "membench:", err)
	os.Exit(1)
}

// measureCost fits PatchCore on one category of train images at size px and reports fit time,
// inference ms/image and the process's peak resident memory.
func measureCost(ctx context.Context, arch, weights string, size, train, dim int, ratio float64) error {
	ds, err := synth.New("carpet", synth.Options{Size: size, Train: train, TestNormal: 10, TestPerDefect: 2, Seed: 1})
	if err != nil {
		return err
	}
	cfg := patchcore.CPU()
	if arch == "wide_resnet50_2" {
		cfg = patchcore.Paper()
	}
	cfg.Backbone, cfg.Weights, cfg.Features.Dim, cfg.CoresetRatio, cfg.ImageSize = arch, weights, dim, ratio, size
	pc, err := patchcore.New(cfg)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := pc.Fit(ctx, ds.Train); err != nil {
		return err
	}
	fit := time.Since(start)
	// The first pass compiles the prediction graph (another batch size than Fit's); the second is the
	// steady state a deployed detector sees. Both include rendering the synthetic images and the metrics.
	var perImage [2]time.Duration
	for pass := range perImage {
		start = time.Now()
		if _, _, err := metrics.EvaluateSplit(ctx, pc, ds.Test, metrics.Options{NoPerDefect: true}); err != nil {
			return err
		}
		perImage[pass] = time.Since(start) / time.Duration(ds.Test.Len())
	}
	st := pc.FitStats
	fmt.Printf("| backbone | px | train images | D | coreset | bank | fit (extract + coreset) | inference (first pass, compiling) | peak RSS |\n|---|---|---|---|---|---|---|---|---|\n")
	fmt.Printf("| %s | %d | %d | %d | %g%% | %d x %d (%.1f MiB) | %.1f s (%.1f + %.1f) | %.0f ms/image (%.0f) | %.0f MiB |\n",
		arch, size, train, st.Dim, ratio*100, st.BankRows, st.Dim, float64(st.BankBytes())/(1<<20),
		fit.Seconds(), st.ExtractTime.Seconds(), st.CoresetTime.Seconds(), float64(perImage[1].Microseconds())/1000,
		float64(perImage[0].Microseconds())/1000, peakRSSMiB())
	return nil
}

func peakRSSMiB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return float64(ms.Sys) / (1 << 20)
	}
	return float64(ru.Maxrss) / 1024 // kilobytes on Linux
}
