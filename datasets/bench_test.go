package datasets

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// photoLike is a w x h RGB image with smooth shading, texture and sensor noise, so PNG compresses it
// about as well as a real inspection photo (not as well as flat colour, not as badly as pure noise).
func photoLike(w, h int, seed uint64) *image.RGBA {
	r := rand.New(rand.NewPCG(seed, 1))
	g := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			base := 110 + 60*math.Sin(float64(x)/97) + 40*math.Cos(float64(y)/61) + 15*math.Sin(float64(x+y)/7)
			n := r.NormFloat64() * 3
			c := func(off float64) uint8 { return uint8(max(0, min(255, base+off+n))) }
			g.SetRGBA(x, y, color.RGBA{c(0), c(10), c(-15), 255})
		}
	}
	return g
}

// benchFiles writes n 1024x1024 PNGs once per process.
var benchDir string

func benchPNGs(b *testing.B, n int) *Split {
	b.Helper()
	if benchDir == "" {
		dir, err := os.MkdirTemp("", "gonomaly-bench")
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < n; i++ {
			writeImage(b, filepath.Join(dir, fmt.Sprintf("%02d.png", i)), photoLike(1024, 1024, uint64(i)))
		}
		benchDir = dir
	}
	src, err := NewDiskSource(Options{ImageSize: 256})
	if err != nil {
		b.Fatal(err)
	}
	sp := &Split{Name: "bench", Category: "png1024", Source: src}
	for i := 0; i < n; i++ {
		p := filepath.Join(benchDir, fmt.Sprintf("%02d.png", i))
		sp.Items = append(sp.Items, Item{ID: p, ImagePath: p, Label: Normal, Defect: GoodDefect})
	}
	return sp
}

// BenchmarkLoad1024PNG measures the whole pipeline the loaders run: 1024x1024 RGB PNG files decoded
// and resized (antialiased) to 256x256x3 float tensors, with 1 and 2 workers; reports images/s.
func BenchmarkLoad1024PNG(b *testing.B) {
	const n = 8
	sp := benchPNGs(b, n)
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			images := 0
			cpu0 := cpuTime()
			for b.Loop() {
				for batch, err := range sp.Batches(n, workers) {
					if err != nil {
						b.Fatal(err)
					}
					images += len(batch)
				}
			}
			b.ReportMetric(float64(images)/b.Elapsed().Seconds(), "images/s")
			// CPU time per image does not depend on how busy the machine is: it says what two
			// quiet cores would do (about 2000 / cpu-ms/image images per second).
			b.ReportMetric((cpuTime()-cpu0).Seconds()*1000/float64(images), "cpu-ms/image")
		})
	}
}

// BenchmarkDecode1024PNG measures decoding alone (PNG to float RGB at full size).
func BenchmarkDecode1024PNG(b *testing.B) {
	sp := benchPNGs(b, 8)
	data, err := os.ReadFile(sp.Items[0].ImagePath)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := DecodeBytes(data, 3, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkDecode1024JPEG measures JPEG decoding (4:2:0 YCbCr) to float RGB at full size.
func BenchmarkDecode1024JPEG(b *testing.B) {
	data := encode(b, ".jpg", photoLike(1024, 1024, 2))
	for b.Loop() {
		if _, err := DecodeBytes(data, 3, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkResize1024To256 measures the antialiased bilinear resize alone.
func BenchmarkResize1024To256(b *testing.B) {
	im, _ := FromGoImage(photoLike(1024, 1024, 1), 3)
	for b.Loop() {
		Resize(im, 256, 256)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
}
