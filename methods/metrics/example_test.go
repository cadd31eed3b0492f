package metrics_test

import (
	"fmt"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/methods/metrics"
)

func ExampleAUROC() {
	scores := []float64{0.1, 0.4, 0.35, 0.8}
	labels := []bool{false, false, true, true}
	auroc, _ := metrics.AUROC(scores, labels)
	ap, _ := metrics.AveragePrecision(scores, labels)
	f1, thr, _ := metrics.F1Max(scores, labels)
	fmt.Printf("AUROC %.2f  AP %.3f  F1-max %.2f at %.2f\n", auroc, ap, f1, thr)
	// Output: AUROC 0.75  AP 0.833  F1-max 0.80 at 0.35
}

func ExampleAUPRO() {
	// One 2x3 map with a 2-pixel defect region.
	m := datasets.Image{H: 2, W: 3, C: 1, Pix: []float32{0.9, 0.2, 0.1, 0.8, 0.3, 0.4}}
	mask := datasets.Image{H: 2, W: 3, C: 1, Pix: []float32{1, 0, 0, 1, 0, 0}}
	aupro, _ := metrics.AUPRO([]datasets.Image{m}, []datasets.Image{mask}, 0.3)
	auroc, _ := metrics.PixelAUROC([]datasets.Image{m}, []datasets.Image{mask})
	fmt.Printf("AUPRO %.2f  pixel AUROC %.2f\n", aupro, auroc)
	// Output: AUPRO 1.00  pixel AUROC 1.00
}
