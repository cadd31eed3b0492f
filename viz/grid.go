package viz

import (
	"fmt"
	"image"
	"image/color"
	"math"

	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/gonomaly/gonomaly/datasets"
)

// Sample is one row of a sample grid: an image, its ground truth and a method's prediction.
type Sample struct {
	Image datasets.Image // HWC, 1 or 3 channels
	Mask  datasets.Image // ground-truth mask, one channel 0/1; the zero value means none (all normal)
	Map   datasets.Image // anomaly map, one channel, same height and width as Image
	Score float64        // image-level anomaly score
	Truth datasets.Label // ground-truth label
	// Defect names the defect type ("scratch"); empty for normal images.
	Defect string
}

// SampleGridBuilder configures a sample grid; create it with SampleGrid and finish with Done.
type SampleGridBuilder struct {
	samples         []Sample
	cmap            Colormap
	alpha           float64
	lo, hi          float64
	pixelT, scoreT  float64
	cell            int
	title           string
	contour, errCol color.RGBA
}

// SampleGrid starts a grid with one row per sample and the columns image, ground truth, anomaly map,
// overlay (with the ground-truth contour) and, when a pixel threshold is set, the thresholded
// prediction; each row ends with its label, score and, when a score threshold is set, the verdict.
// Defaults: Turbo, alpha 0.5, one colour range shared by all rows (min and max over every map),
// cells of 128 pixels.
func SampleGrid(samples ...Sample) *SampleGridBuilder {
	return &SampleGridBuilder{samples: samples, cmap: Turbo, alpha: 0.5, lo: math.NaN(), hi: math.NaN(),
		pixelT: math.NaN(), scoreT: math.NaN(), cell: 128,
		contour: DefaultContourColor, errCol: color.RGBA{R: 255, G: 60, B: 60, A: 255}}
}

// Colormap sets the colormap of the map and overlay columns (default Turbo).
func (b *SampleGridBuilder) Colormap(m Colormap) *SampleGridBuilder { b.cmap = m; return b }

// Alpha sets the overlay opacity (default 0.5).
func (b *SampleGridBuilder) Alpha(a float64) *SampleGridBuilder { b.alpha = a; return b }

// Range sets the map values at the colormap's ends, for every row (default: min and max over all maps).
func (b *SampleGridBuilder) Range(lo, hi float64) *SampleGridBuilder { b.lo, b.hi = lo, hi; return b }

// PixelThreshold adds the prediction column: pixels with map value >= t, in white, with the
// ground-truth contour in red.
func (b *SampleGridBuilder) PixelThreshold(t float64) *SampleGridBuilder { b.pixelT = t; return b }

// ScoreThreshold adds each row's verdict (anomalous when score >= t) and whether it is right.
func (b *SampleGridBuilder) ScoreThreshold(t float64) *SampleGridBuilder { b.scoreT = t; return b }

// CellSize sets the side of each picture cell in pixels (default 128; images keep their aspect ratio).
func (b *SampleGridBuilder) CellSize(px int) *SampleGridBuilder { b.cell = px; return b }

// Title sets a title drawn above the grid (default none).
func (b *SampleGridBuilder) Title(s string) *SampleGridBuilder { b.title = s; return b }

// gridRow holds the rendered pictures of one row.
type gridRow struct {
	pics  []image.Image
	lines []string
	cols  []color.Color
}

// layout constants in pixels.
const (
	gridDPI     = 96
	gridGap     = 6
	gridMargin  = 10
	gridHeader  = 24
	gridTitle   = 28
	gridTextW   = 230
	gridFontPx  = 13
	gridLineGap = 18
)

func px(n float64) vg.Length { return vg.Length(n) * vg.Inch / gridDPI }

// Done validates every sample and builds the grid as a Drawing (PNG and SVG from one routine).
func (b *SampleGridBuilder) Done() (*Drawing, error) {
	if len(b.samples) == 0 {
		return nil, fmt.Errorf("viz: sample grid has no samples")
	}
	if b.cell < 16 || b.cell > 2048 {
		return nil, fmt.Errorf("viz: sample grid cell size %d outside [16, 2048]", b.cell)
	}
	if math.IsNaN(b.alpha) || b.alpha < 0 || b.alpha > 1 {
		return nil, fmt.Errorf("viz: sample grid alpha %g outside [0, 1]", b.alpha)
	}
	// One colour range for all rows, so a bright map means a high score in every row.
	var all []float32
	for i, s := range b.samples {
		if err := checkMap(fmt.Sprintf("sample %d anomaly map", i), s.Map); err != nil {
			return nil, err
		}
		all = append(all, s.Map.Pix...)
	}
	lo, hi, err := resolveRange(b.lo, b.hi, all)
	if err != nil {
		return nil, err
	}
	headers := []string{"image", "ground truth", "anomaly map", "overlay"}
	if !math.IsNaN(b.pixelT) {
		headers = append(headers, fmt.Sprintf("map >= %.3g", b.pixelT))
	}
	rows := make([]gridRow, len(b.samples))
	for i, s := range b.samples {
		r, err := b.row(i, s, lo, hi)
		if err != nil {
			return nil, err
		}
		rows[i] = r
	}

	ncols := len(headers)
	top := gridMargin + gridHeader
	if b.title != "" {
		top += gridTitle
	}
	wpx := 2*gridMargin + ncols*b.cell + ncols*gridGap + gridTextW
	hpx := top + len(rows)*(b.cell+gridGap) + gridMargin - gridGap
	cell := b.cell
	title := b.title
	paint := func(c draw.Canvas) {
		c.FillPolygon(color.White, []vg.Point{{X: 0, Y: 0}, {X: px(float64(wpx)), Y: 0},
			{X: px(float64(wpx)), Y: px(float64(hpx))}, {X: 0, Y: px(float64(hpx))}})
		// y measured from the top in pixels; the canvas origin is bottom-left.
		at := func(x, yTop float64) vg.Point { return vg.Point{X: px(x), Y: px(float64(hpx) - yTop)} }
		if title != "" {
			c.FillText(gridText(15, true, color.Black, text.XLeft), at(gridMargin, gridMargin), title)
		}
		for j, h := range headers {
			x := float64(gridMargin + j*(cell+gridGap) + cell/2)
			c.FillText(gridText(gridFontPx, true, color.Black, text.XCenter), at(x, float64(top-gridHeader+4)), h)
		}
		for i, r := range rows {
			y0 := float64(top + i*(cell+gridGap))
			for j, pic := range r.pics {
				x0 := float64(gridMargin + j*(cell+gridGap))
				w, h := fitIn(pic.Bounds().Dx(), pic.Bounds().Dy(), cell)
				ox, oy := x0+float64(cell-w)/2, y0+float64(cell-h)/2
				c.DrawImage(vg.Rectangle{Min: at(ox, oy+float64(h)), Max: at(ox+float64(w), oy)}, pic)
			}
			tx := float64(gridMargin + ncols*(cell+gridGap) + 4)
			for k, line := range r.lines {
				c.FillText(gridText(gridFontPx, k == 0, r.cols[k], text.XLeft), at(tx, y0+6+float64(k*gridLineGap)), line)
			}
		}
	}
	return &Drawing{Width: px(float64(wpx)), Height: px(float64(hpx)), DPI: gridDPI, Draw: paint}, nil
}

// row renders the pictures and text of sample i.
func (b *SampleGridBuilder) row(i int, s Sample, lo, hi float64) (gridRow, error) {
	if err := s.Image.Validate(); err != nil {
		return gridRow{}, fmt.Errorf("viz: sample %d image: %w", i, err)
	}
	if s.Map.H != s.Image.H || s.Map.W != s.Image.W {
		return gridRow{}, fmt.Errorf("viz: sample %d anomaly map is %dx%d but image is %dx%d", i, s.Map.H, s.Map.W, s.Image.H, s.Image.W)
	}
	if math.IsNaN(s.Score) {
		return gridRow{}, fmt.Errorf("viz: sample %d score is NaN", i)
	}
	mask := s.Mask
	if mask.H == 0 && mask.W == 0 && mask.C == 0 && mask.Pix == nil {
		mask = datasets.NewImage(s.Image.H, s.Image.W, 1)
	}
	if err := checkMap(fmt.Sprintf("sample %d mask", i), mask); err != nil {
		return gridRow{}, err
	}
	if mask.H != s.Image.H || mask.W != s.Image.W {
		return gridRow{}, fmt.Errorf("viz: sample %d mask is %dx%d but image is %dx%d", i, mask.H, mask.W, s.Image.H, s.Image.W)
	}
	img, err := ToImage(s.Image)
	if err != nil {
		return gridRow{}, fmt.Errorf("viz: sample %d: %w", i, err)
	}
	gt, _ := MaskImage(mask)
	mp, err := MapImage(s.Map, b.cmap, lo, hi)
	if err != nil {
		return gridRow{}, err
	}
	// Pictures shrink to the cell; widen the outline so it survives the scaling.
	width := max(1, int(math.Ceil(1.5*float64(max(s.Image.H, s.Image.W))/float64(b.cell))))
	ov, err := Overlay(s.Image, s.Map).Colormap(b.cmap).Alpha(b.alpha).Range(lo, hi).Mask(mask).
		ContourColor(b.contour).ContourWidth(width).Image()
	if err != nil {
		return gridRow{}, fmt.Errorf("viz: sample %d: %w", i, err)
	}
	r := gridRow{pics: []image.Image{img, gt, mp, ov}}
	if !math.IsNaN(b.pixelT) {
		pred, _ := Threshold(s.Map, b.pixelT)
		contour, _ := ContourBand(mask, width)
		pm := image.NewRGBA(image.Rect(0, 0, pred.W, pred.H))
		for k, v := range pred.Pix {
			c := color.RGBA{A: 255}
			if v > 0 {
				c = color.RGBA{R: 255, G: 255, B: 255, A: 255}
			}
			if contour[k] {
				c = b.errCol
			}
			copy(pm.Pix[4*k:4*k+4], []uint8{c.R, c.G, c.B, c.A})
		}
		r.pics = append(r.pics, pm)
	}
	label := "normal"
	if s.Truth == datasets.Anomalous {
		label = "anomalous"
		if s.Defect != "" {
			label += ": " + s.Defect
		}
	}
	dark := color.RGBA{R: 30, G: 30, B: 30, A: 255}
	r.lines = append(r.lines, label, fmt.Sprintf("score %.4g", s.Score))
	r.cols = append(r.cols, dark, dark)
	if !math.IsNaN(b.scoreT) {
		predicted := datasets.Normal
		if s.Score >= b.scoreT {
			predicted = datasets.Anomalous
		}
		verdict, col := "correct", color.RGBA{G: 120, B: 60, A: 255}
		if predicted != s.Truth {
			verdict, col = "wrong", color.RGBA{R: 200, A: 255}
		}
		word := "normal"
		if predicted == datasets.Anomalous {
			word = "anomalous"
		}
		r.lines = append(r.lines, fmt.Sprintf("predicted %s (%s)", word, verdict))
		r.cols = append(r.cols, col)
	}
	return r, nil
}

// fitIn scales a w x h picture to fit a side x side cell, keeping the aspect ratio.
func fitIn(w, h, side int) (int, int) {
	if w >= h {
		return side, max(1, int(math.Round(float64(side)*float64(h)/float64(w))))
	}
	return max(1, int(math.Round(float64(side)*float64(w)/float64(h)))), side
}

// gridText is the text style of the grid: Liberation Sans (shipped with gonum/plot, no system fonts).
func gridText(sizePx float64, bold bool, col color.Color, align text.XAlignment) draw.TextStyle {
	f := font.Font{Typeface: "Liberation", Variant: "Sans", Size: px(sizePx)}
	if bold {
		f.Weight = xfont.WeightBold
	}
	return draw.TextStyle{Color: col, Font: f, XAlign: align, YAlign: text.YTop, Handler: plot.DefaultTextHandler}
}
