package viz

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"sort"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/gonomaly/gonomaly/datasets"
)

// Panels lays charts out in a grid of cols columns, row-major, each panel panelW x panelH (zero: 8 x
// 7 cm): small multiples such as a flow's steps. Every chart must be non-nil.
func Panels(cols int, panelW, panelH vg.Length, charts ...*Chart) (*Drawing, error) {
	if len(charts) == 0 {
		return nil, fmt.Errorf("viz: no panels")
	}
	if cols < 1 {
		return nil, fmt.Errorf("viz: panels need at least one column, got %d", cols)
	}
	for i, c := range charts {
		if c == nil || c.Plot == nil {
			return nil, fmt.Errorf("viz: panel %d is nil", i)
		}
	}
	if panelW <= 0 {
		panelW = 8 * vg.Centimeter
	}
	if panelH <= 0 {
		panelH = 7 * vg.Centimeter
	}
	cols = min(cols, len(charts))
	rows := (len(charts) + cols - 1) / cols
	w, h := vg.Length(cols)*panelW, vg.Length(rows)*panelH
	paint := func(dc draw.Canvas) {
		for i, c := range charts {
			r, col := i/cols, i%cols
			min := vg.Point{X: dc.Min.X + vg.Length(col)*panelW, Y: dc.Min.Y + h - vg.Length(r+1)*panelH}
			sub := draw.Canvas{Canvas: dc.Canvas, Rectangle: vg.Rectangle{Min: min, Max: vg.Point{X: min.X + panelW, Y: min.Y + panelH}}}
			c.draw(sub)
		}
	}
	return &Drawing{Width: w, Height: h, DPI: DefaultDPI, Draw: paint}, nil
}

// FlowStep is one panel of a flow drawn step by step: the density of the variable after a number of
// blocks (log-density on a grid; nil for points only) and sample groups pushed through those blocks.
type FlowStep struct {
	Title   string
	Density Grid
	Points  []PointGroup
}

// FlowSteps draws a normalizing flow step by step, one panel per step (at most cols per row): how the
// change of variables moves the samples and reshapes their density from the data (first step) to the
// standard normal (last). Each panel is a LatentDensity.
func FlowSteps(cols int, steps ...FlowStep) (*Drawing, error) {
	if len(steps) == 0 {
		return nil, fmt.Errorf("viz: no flow steps")
	}
	charts := make([]*Chart, len(steps))
	for i, s := range steps {
		c, err := LatentDensity(s.Density, s.Points...)
		if err != nil {
			return nil, fmt.Errorf("viz: flow step %d (%s): %w", i, s.Title, err)
		}
		c.Plot.Title.Text = s.Title
		if s.Title == "" {
			c.Plot.Title.Text = fmt.Sprintf("step %d", i)
		}
		c.Plot.Title.TextStyle.Font.Size = vg.Points(11)
		c.Plot.X.Label.Text, c.Plot.Y.Label.Text = "", ""
		charts[i] = c
	}
	return Panels(cols, 0, 0, charts...)
}

// normalCDF is Φ, the standard normal distribution function.
func normalCDF(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }

// KSNormal returns the Kolmogorov-Smirnov distance between the empirical distribution of values and
// the standard normal: sup |F_n(x) - Φ(x)|. A flow's latents should come out near 0 (for n samples
// from N(0, 1), about 1.36/sqrt(n) at the 5% level).
func KSNormal(values []float64) (float64, error) {
	if len(values) == 0 {
		return 0, fmt.Errorf("viz: KSNormal of no values")
	}
	v := append([]float64(nil), values...)
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return 0, fmt.Errorf("viz: KSNormal value %d is %g, not finite", i, x)
		}
	}
	sort.Float64s(v)
	n := float64(len(v))
	d := 0.0
	for i, x := range v {
		f := normalCDF(x)
		d = math.Max(d, math.Max(f-float64(i)/n, float64(i+1)/n-f))
	}
	return d, nil
}

// LatentHistogram draws the histogram of a flow layer's latent values as a density (bar areas sum to 1)
// against the standard normal density the flow maps normal data to, with the values' mean, standard
// deviation and KSNormal distance in the legend.
func LatentHistogram(title string, values []float64) (*Chart, error) {
	ks, err := KSNormal(values)
	if err != nil {
		return nil, err
	}
	mean, sq := 0.0, 0.0
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range values {
		mean += x
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	mean /= float64(len(values))
	for _, x := range values {
		sq += (x - mean) * (x - mean)
	}
	std := math.Sqrt(sq / float64(len(values)))
	lo, hi = math.Min(lo, -4), math.Max(hi, 4)
	bins := max(20, min(80, int(math.Sqrt(float64(len(values))))))
	width := (hi - lo) / float64(bins)
	hb := make([]plotter.HistogramBin, bins)
	for b := range hb {
		hb[b].Min, hb[b].Max = lo+float64(b)*width, lo+float64(b+1)*width
	}
	for _, x := range values {
		hb[min(int((x-lo)/width), bins-1)].Weight += 1 / (float64(len(values)) * width)
	}
	if title == "" {
		title = "Latent values against N(0, 1)"
	}
	c := newChart(title, "latent value", "density")
	addGrid(c.Plot)
	col := seriesColor(0)
	h := &plotter.Histogram{Bins: hb, Width: width, FillColor: color.NRGBA{R: col.R, G: col.G, B: col.B, A: 120}}
	h.LineStyle = plotter.DefaultLineStyle
	h.LineStyle.Color = col
	h.LineStyle.Width = vg.Points(0.8)
	c.Plot.Add(h)
	c.Plot.Legend.Add(fmt.Sprintf("latents (n=%d): mean %.3f, std %.3f, KS %.3f", len(values), mean, std, ks), h)
	pdf := make(plotter.XYs, 200)
	for i := range pdf {
		x := lo + (hi-lo)*float64(i)/float64(len(pdf)-1)
		pdf[i] = plotter.XY{X: x, Y: math.Exp(-x*x/2) / math.Sqrt(2*math.Pi)}
	}
	line, _ := plotter.NewLine(pdf)
	line.LineStyle.Color = color.RGBA{A: 255}
	line.LineStyle.Width = vg.Points(1.8)
	c.Plot.Add(line)
	c.Plot.Legend.Add("N(0, 1)", line)
	return c, nil
}

// SplitByMask returns the values of maps at pixels whose mask is 0 (normal) and > 0 (defective),
// taking every stride-th pixel (stride < 1 means 1) so that large test sets stay plottable. Maps and
// masks are one-channel and pairwise of the same size; a missing mask (zero Image) means all normal.
func SplitByMask(maps, masks []datasets.Image, stride int) (normal, defective []float64, err error) {
	if len(maps) != len(masks) {
		return nil, nil, fmt.Errorf("viz: %d maps but %d masks", len(maps), len(masks))
	}
	stride = max(stride, 1)
	k := 0
	for i, m := range maps {
		if err := checkMap(fmt.Sprintf("map %d", i), m); err != nil {
			return nil, nil, err
		}
		mask := masks[i]
		if mask.Pix == nil && mask.H == 0 && mask.W == 0 {
			mask = datasets.NewImage(m.H, m.W, 1)
		}
		if err := checkMap(fmt.Sprintf("mask %d", i), mask); err != nil {
			return nil, nil, err
		}
		if mask.H != m.H || mask.W != m.W {
			return nil, nil, fmt.Errorf("viz: map %d is %dx%d but its mask %dx%d (W x H)", i, m.W, m.H, mask.W, mask.H)
		}
		for p, v := range m.Pix {
			if k++; (k-1)%stride != 0 {
				continue
			}
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, nil, fmt.Errorf("viz: map %d pixel %d is %g, not finite", i, p, v)
			}
			if mask.Pix[p] > 0 {
				defective = append(defective, float64(v))
			} else {
				normal = append(normal, float64(v))
			}
		}
	}
	return normal, defective, nil
}

// PatchNLLHistogram draws the distributions of per-pixel negative log-likelihoods (or any anomaly map
// value) of normal and defective patches, split by the ground-truth masks (SplitByMask): a density
// model separates defects when the defective histogram sits to the right.
func PatchNLLHistogram(maps, masks []datasets.Image, stride int) (*Chart, error) {
	normal, defective, err := SplitByMask(maps, masks, stride)
	if err != nil {
		return nil, err
	}
	return Histograms("Negative log-likelihood of normal and defective patches", "negative log-likelihood",
		Group{Name: "normal patches", Values: normal}, Group{Name: "defective patches", Values: defective})
}

// TapRow is one row of TapMaps: an image, its ground-truth mask (zero Image: none), one map per tap at
// the tap's own resolution (e.g. CFLOW-AD's log-likelihood per encoder scale, PyramidFlow's difference
// per pyramid level) and the final anomaly map.
type TapRow struct {
	Image datasets.Image
	Mask  datasets.Image
	Taps  []datasets.Image
	Final datasets.Image
}

// TapMaps draws rows of image, mask, per-tap maps and the final map side by side, in cells of cell
// pixels (0: 128); each tap map is coloured on its own range (Viridis, brighter = higher) since taps
// live on different scales, the final map on the range of all rows' final maps (Turbo). names labels the
// tap columns (one per tap; empty: "tap i").
func TapMaps(names []string, cell int, rows ...TapRow) (*Drawing, error) {
	if len(rows) == 0 {
		return nil, fmt.Errorf("viz: no rows of tap maps")
	}
	if cell == 0 {
		cell = 128
	}
	if cell < 16 || cell > 2048 {
		return nil, fmt.Errorf("viz: tap map cell size %d outside [16, 2048]", cell)
	}
	ntaps := len(rows[0].Taps)
	if len(names) != 0 && len(names) != ntaps {
		return nil, fmt.Errorf("viz: %d tap names for %d taps", len(names), ntaps)
	}
	var finals []float32
	for i, r := range rows {
		if len(r.Taps) != ntaps {
			return nil, fmt.Errorf("viz: row %d has %d tap maps, row 0 has %d", i, len(r.Taps), ntaps)
		}
		if err := checkMap(fmt.Sprintf("row %d final map", i), r.Final); err != nil {
			return nil, err
		}
		finals = append(finals, r.Final.Pix...)
	}
	flo, fhi, err := resolveRange(math.NaN(), math.NaN(), finals)
	if err != nil {
		return nil, err
	}
	headers := []string{"image", "ground truth"}
	for t := 0; t < ntaps; t++ {
		if len(names) > 0 && names[t] != "" {
			headers = append(headers, names[t])
		} else {
			headers = append(headers, fmt.Sprintf("tap %d", t))
		}
	}
	headers = append(headers, "anomaly map")
	pics := make([][]image.Image, len(rows))
	for i, r := range rows {
		img, err := ToImage(r.Image)
		if err != nil {
			return nil, fmt.Errorf("viz: row %d image: %w", i, err)
		}
		mask := r.Mask
		if mask.Pix == nil && mask.H == 0 && mask.W == 0 {
			mask = datasets.NewImage(r.Image.H, r.Image.W, 1)
		}
		if err := checkMap(fmt.Sprintf("row %d mask", i), mask); err != nil {
			return nil, err
		}
		if mask.H != r.Image.H || mask.W != r.Image.W {
			return nil, fmt.Errorf("viz: row %d mask is %dx%d but the image %dx%d (W x H)", i, mask.W, mask.H, r.Image.W, r.Image.H)
		}
		gt, _ := MaskImage(mask)
		row := []image.Image{img, gt}
		for t, m := range r.Taps {
			if err := checkMap(fmt.Sprintf("row %d tap %d", i, t), m); err != nil {
				return nil, err
			}
			if err := m.CheckFinite(); err != nil {
				return nil, fmt.Errorf("viz: row %d tap %d: %w", i, t, err)
			}
			tm, err := MapImage(m, Viridis, math.NaN(), math.NaN())
			if err != nil {
				return nil, fmt.Errorf("viz: row %d tap %d: %w", i, t, err)
			}
			row = append(row, tm)
		}
		fm, err := MapImage(r.Final, Turbo, flo, fhi)
		if err != nil {
			return nil, err
		}
		pics[i] = append(row, fm)
	}
	ncols := len(headers)
	top := gridMargin + gridHeader
	wpx := 2*gridMargin + ncols*cell + (ncols-1)*gridGap
	hpx := top + len(rows)*(cell+gridGap) + gridMargin - gridGap
	paint := func(c draw.Canvas) {
		c.FillPolygon(color.White, []vg.Point{{X: 0, Y: 0}, {X: px(float64(wpx)), Y: 0},
			{X: px(float64(wpx)), Y: px(float64(hpx))}, {X: 0, Y: px(float64(hpx))}})
		at := func(x, yTop float64) vg.Point { return vg.Point{X: px(x), Y: px(float64(hpx) - yTop)} }
		for j, h := range headers {
			x := float64(gridMargin + j*(cell+gridGap) + cell/2)
			c.FillText(gridText(gridFontPx, true, color.Black, text.XCenter), at(x, float64(top-gridHeader+4)), h)
		}
		for i, row := range pics {
			y0 := float64(top + i*(cell+gridGap))
			for j, pic := range row {
				x0 := float64(gridMargin + j*(cell+gridGap))
				w, h := fitIn(pic.Bounds().Dx(), pic.Bounds().Dy(), cell)
				ox, oy := x0+float64(cell-w)/2, y0+float64(cell-h)/2
				c.DrawImage(vg.Rectangle{Min: at(ox, oy+float64(h)), Max: at(ox+float64(w), oy)}, pic)
			}
		}
	}
	return &Drawing{Width: px(float64(wpx)), Height: px(float64(hpx)), DPI: gridDPI, Draw: paint}, nil
}
