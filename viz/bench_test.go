package viz

import (
	"math"
	"testing"

	"github.com/gonomaly/gonomaly/datasets"
)

// BenchmarkROCPNG renders a three-method ROC chart with 10,000 points per curve to PNG.
func BenchmarkROCPNG(b *testing.B) {
	series := []Series{powCurve("a", 0.2, 10000), powCurve("b", 0.4, 10000), powCurve("c", 0.7, 10000)}
	for b.Loop() {
		c, err := ROC(series...)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.PNG(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/chart")
}

// BenchmarkOverlay256 builds a 256x256 overlay with a contour and encodes it.
func BenchmarkOverlay256(b *testing.B) {
	img, amap, mask := datasets.NewImage(256, 256, 3), datasets.NewImage(256, 256, 1), datasets.NewImage(256, 256, 1)
	for i := range amap.Pix {
		y, x := i/256, i%256
		amap.Pix[i] = float32(math.Exp(-math.Hypot(float64(y-128), float64(x-100)) / 30))
		if amap.Pix[i] > 0.5 {
			mask.Pix[i] = 1
		}
		img.Pix[3*i], img.Pix[3*i+1], img.Pix[3*i+2] = 0.5, float32(x)/256, float32(y)/256
	}
	for b.Loop() {
		r, err := Overlay(img, amap).Mask(mask).Done()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.PNG(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/overlay")
}

// BenchmarkSampleGridPNG renders a four-row grid of 256x256 samples at 128-pixel cells.
func BenchmarkSampleGridPNG(b *testing.B) {
	img, amap, mask := datasets.NewImage(256, 256, 3), datasets.NewImage(256, 256, 1), datasets.NewImage(256, 256, 1)
	for i := range amap.Pix {
		amap.Pix[i] = float32(i%256) / 256
		if i%256 > 200 {
			mask.Pix[i] = 1
		}
	}
	rows := make([]Sample, 4)
	for i := range rows {
		rows[i] = Sample{Image: img, Map: amap, Mask: mask, Score: float64(i), Truth: datasets.Anomalous}
	}
	for b.Loop() {
		d, err := SampleGrid(rows...).PixelThreshold(0.5).ScoreThreshold(1).Done()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := d.PNG(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/grid")
}
