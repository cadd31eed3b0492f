// Command samples draws a grid of synthetic benchmark samples: one row per category (named above its
// first image), two normal images then one image of each defect type with its mask outlined in red, and
// writes it as a PNG. With
// -synthesis it also draws the training-time anomaly synthesis of datasets/anomalysynth (DRAEM Perlin,
// CutPaste patch and scar) on normal samples.
//
//	go run ./datasets/synth/cmd/samples -out docs/synth_samples.png -synthesis docs/anomalysynth_samples.png
package main

import (
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/datasets/anomalysynth"
	"github.com/gonomaly/gonomaly/datasets/synth"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

func main() {
	out := flag.String("out", "docs/synth_samples.png", "output PNG path")
	thumb := flag.Int("thumb", 104, "thumbnail side in pixels")
	size := flag.Int("size", 224, "rendered image side in pixels")
	seed := flag.Uint64("seed", 1, "dataset seed")
	diff := flag.Float64("difficulty", 0, "defect difficulty in [0, 1]")
	only := flag.String("categories", "", "comma-separated categories to draw (default: all)")
	index := flag.Int("index", 0, "sample index of the defective images")
	synthesis := flag.String("synthesis", "", "also write an anomaly-synthesis figure to this PNG path")
	flag.Parse()
	if *synthesis != "" {
		if err := runSynthesis(*synthesis, *thumb, *size, *seed); err != nil {
			fmt.Fprintln(os.Stderr, "samples:", err)
			os.Exit(1)
		}
	}
	cats := synth.Categories()
	if *only != "" {
		cats = strings.Split(*only, ",")
	}
	if err := run(*out, cats, *thumb, *size, *index, *seed, *diff); err != nil {
		fmt.Fprintln(os.Stderr, "samples:", err)
		os.Exit(1)
	}
}

func run(out string, cats []string, thumb, size, index int, seed uint64, diff float64) error {
	const gap, strip = 3, 14 // strip: label height above each thumbnail
	cols := 0
	for _, c := range cats {
		d, _ := synth.Defects(c)
		cols = max(cols, 2+len(d))
	}
	grid := image.NewRGBA(image.Rect(0, 0, cols*(thumb+gap)+gap, len(cats)*(thumb+gap+strip)+gap))
	for i := range grid.Pix {
		grid.Pix[i] = 255
	}
	for row, c := range cats {
		src, err := synth.NewSource(c, synth.Options{Size: size, Seed: seed, Difficulty: diff})
		if err != nil {
			return err
		}
		defects, err := synth.Defects(c)
		if err != nil {
			return err
		}
		items := []datasets.Item{src.Item("test", datasets.GoodDefect, 0), src.Item("test", datasets.GoodDefect, 1)}
		for _, d := range defects {
			items = append(items, src.Item("test", d, index))
		}
		for col, it := range items {
			s, err := src.Load(it)
			if err != nil {
				return err
			}
			x, y := gap+col*(thumb+gap), gap+strip+row*(thumb+gap+strip)
			drawThumb(grid, x, y, thumb, s)
			label := it.Defect // the first two columns are normal ("good")
			if col == 0 {
				label = strings.ToUpper(c)
			}
			drawLabel(grid, x+1, y-3, label)
		}
	}
	return save(out, grid)
}

// save writes the PNG atomically.
func save(out string, grid image.Image) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".samples-*.png")
	if err != nil {
		return err
	}
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(tmp, grid); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), out)
}

// runSynthesis draws, for a few categories, a normal image and the DRAEM Perlin, CutPaste patch and
// CutPaste scar anomalies made from it.
func runSynthesis(out string, thumb, size int, seed uint64) error {
	const gap, strip = 3, 14 // strip: label height above each thumbnail
	cats := []string{"carpet", "wood", "leather", "nut", "screw", "pill"}
	cols := 5
	grid := image.NewRGBA(image.Rect(0, 0, cols*(thumb+gap)+gap, len(cats)*(thumb+gap+strip)+gap))
	for i := range grid.Pix {
		grid.Pix[i] = 255
	}
	perlin := anomalysynth.DefaultPerlin()
	perlin.CleanProbability = 0
	cp := anomalysynth.DefaultCutPaste()
	for row, c := range cats {
		src, err := synth.NewSource(c, synth.Options{Size: size, Seed: seed})
		if err != nil {
			return err
		}
		s, err := src.Load(src.Item("train", datasets.GoodDefect, 0))
		if err != nil {
			return err
		}
		k := uint64(row) * 10
		p1, err := perlin.Apply(s.Image, k+1)
		if err != nil {
			return err
		}
		p2, err := perlin.Apply(s.Image, k+2)
		if err != nil {
			return err
		}
		patch, err := cp.Patch(s.Image, k+3)
		if err != nil {
			return err
		}
		scar, err := cp.Scar(s.Image, k+4)
		if err != nil {
			return err
		}
		cells := []struct {
			label string
			img   datasets.Image
			mask  datasets.Image
		}{{c + ": normal", s.Image, s.Mask}, {"DRAEM Perlin", p1.Image, p1.Mask}, {"DRAEM Perlin", p2.Image, p2.Mask},
			{"CutPaste patch", patch.Image, patch.Mask}, {"CutPaste scar", scar.Image, scar.Mask}}
		for col, cell := range cells {
			x, y := gap+col*(thumb+gap), gap+strip+row*(thumb+gap+strip)
			drawThumb(grid, x, y, thumb, datasets.Sample{Image: cell.img, Mask: cell.mask})
			drawLabel(grid, x+1, y-3, cell.label)
		}
	}
	return save(out, grid)
}

// drawThumb box-filters the sample down to t x t at (x0, y0) and outlines its mask in red.
func drawThumb(dst *image.RGBA, x0, y0, t int, s datasets.Sample) {
	n := s.Image.H
	m := make([]bool, t*t)
	for ty := range t {
		for tx := range t {
			ya, yb := ty*n/t, max((ty+1)*n/t, ty*n/t+1)
			xa, xb := tx*n/t, max((tx+1)*n/t, tx*n/t+1)
			var c [3]float32
			cnt := float32(0)
			for y := ya; y < yb; y++ {
				for x := xa; x < xb; x++ {
					for k := range 3 {
						c[k] += s.Image.At(y, x, k)
					}
					if s.Mask.At(y, x, 0) > 0 {
						m[ty*t+tx] = true
					}
					cnt++
				}
			}
			dst.Set(x0+tx, y0+ty, color.RGBA{uint8(c[0]/cnt*255 + 0.5), uint8(c[1]/cnt*255 + 0.5), uint8(c[2]/cnt*255 + 0.5), 255})
		}
	}
	// Outline the mask dilated by two pixels, so the defect itself stays visible.
	in := func(x, y int) bool { return x >= 0 && y >= 0 && x < t && y < t && m[y*t+x] }
	dil := make([]bool, t*t)
	for ty := range t {
		for tx := range t {
			for dy := -2; dy <= 2 && !dil[ty*t+tx]; dy++ {
				for dx := -2; dx <= 2; dx++ {
					if in(tx+dx, ty+dy) {
						dil[ty*t+tx] = true
						break
					}
				}
			}
		}
	}
	for ty := range t {
		for tx := range t {
			if !dil[ty*t+tx] {
				continue
			}
			edge := tx == 0 || ty == 0 || tx == t-1 || ty == t-1 ||
				!dil[ty*t+tx-1] || !dil[ty*t+tx+1] || !dil[(ty-1)*t+tx] || !dil[(ty+1)*t+tx]
			if edge {
				dst.Set(x0+tx, y0+ty, color.RGBA{255, 30, 30, 255})
			}
		}
	}
}

// drawLabel writes dark text with its baseline at (x, y).
func drawLabel(dst *image.RGBA, x, y int, text string) {
	d := font.Drawer{Dst: dst, Src: image.NewUniform(color.RGBA{20, 20, 20, 255}), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(text)
}
