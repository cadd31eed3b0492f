package metrics

import (
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gonomaly/gonomaly/datasets"
)

// benchPixels makes n maps of size x size: every score a distinct-ish float32 (the exact mode's worst
// case), defects (1-3 rectangles) in 40% of the images, defect pixels scoring higher on average.
func benchPixels(n, size int) (maps, masks []datasets.Image) {
	maps, masks = make([]datasets.Image, n), make([]datasets.Image, n)
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 99))
			for i := w; i < n; i += 2 {
				m, mk := datasets.NewImage(size, size, 1), datasets.NewImage(size, size, 1)
				if i%5 < 2 {
					for k := 0; k < 1+rng.IntN(3); k++ {
						y0, x0, hh, ww := rng.IntN(size), rng.IntN(size), 1+rng.IntN(size/4), 1+rng.IntN(size/4)
						for y := y0; y < min(size, y0+hh); y++ {
							for x := x0; x < min(size, x0+ww); x++ {
								mk.Pix[y*size+x] = 1
							}
						}
					}
				}
				for j := range m.Pix {
					m.Pix[j] = rng.Float32()*0.7 + 0.3*mk.Pix[j]
				}
				maps[i], masks[i] = m, mk
			}
		}()
	}
	wg.Wait()
	return maps, masks
}

// peakHeap samples the live heap every 2 ms until stop is called and returns the maximum seen. It reads
// runtime/metrics, which unlike runtime.ReadMemStats does not stop the world.
func peakHeap() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return func() uint64 { close(done); <-finished; return peak.Load() }
}

// cpuSeconds is the process's user+system CPU time: unlike wall time it barely changes when other
// processes share the cores.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// benchPixel measures pixel AUROC plus AUPRO (one Pixel call computes both) over 1,000 maps of 256x256
// (65.5 M pixels). Reported: s/op, cpu-s/op (all threads), peak heap including the 0.5 GiB of input ("peak-MiB") and above
// the input ("extra-MiB"), and the process's Sys memory.
func benchPixel(b *testing.B, opts ...PixelOption) {
	maps, masks := benchPixels(1000, 256)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	b.ReportAllocs()
	b.ResetTimer()
	stop := peakHeap()
	cpu0 := cpuSeconds()
	var r PixelResult
	for i := 0; i < b.N; i++ {
		var err error
		r, err = Pixel(maps, masks, opts...)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cpu := cpuSeconds() - cpu0
	peak := stop()
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(peak)/(1<<20), "peak-MiB")
	b.ReportMetric(float64(peak-min(peak, base))/(1<<20), "extra-MiB")
	b.ReportMetric(float64(ms.Sys)/(1<<20), "sys-MiB")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/op")
	b.ReportMetric(cpu/float64(b.N), "cpu-s/op")
	b.ReportMetric(r.AUROC, "AUROC")
	b.ReportMetric(r.AUPRO, "AUPRO")
	b.ReportMetric(r.AUPROBound, "AUPRO-bound")
}

func BenchmarkPixelExact1000x256(b *testing.B)       { benchPixel(b) }
func BenchmarkPixelBinned4096x1000x256(b *testing.B) { benchPixel(b, WithBins(4096)) }
func BenchmarkPixelExact1000x256OneCore(b *testing.B) {
	benchPixel(b, WithWorkers(1))
}
