package viz

import (
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Series is one named curve: the points of a ROC, PR, PRO or loss curve, in order.
// X and Y have the same length. A metrics.Curve converts as Series{Name: n, X: c.X, Y: c.Y}.
type Series struct {
	Name string
	X, Y []float64
	// Label, when not empty, replaces the legend text the chart would write (name and area).
	Label string
}

// validate checks the series has matching, finite points; unit also checks they lie in [0, 1].
func (s Series) validate(i int, unit bool) error {
	name := s.Name
	if name == "" {
		name = fmt.Sprintf("#%d", i)
	}
	if len(s.X) != len(s.Y) {
		return fmt.Errorf("viz: series %q has %d x values and %d y values", name, len(s.X), len(s.Y))
	}
	if len(s.X) == 0 {
		return fmt.Errorf("viz: series %q is empty", name)
	}
	for j := range s.X {
		x, y := s.X[j], s.Y[j]
		if math.IsNaN(x) || math.IsNaN(y) || math.IsInf(x, 0) || math.IsInf(y, 0) {
			return fmt.Errorf("viz: series %q point %d is (%g, %g), not finite", name, j, x, y)
		}
		if unit && (x < -1e-9 || x > 1+1e-9 || y < -1e-9 || y > 1+1e-9) {
			return fmt.Errorf("viz: series %q point %d is (%g, %g), outside [0, 1]", name, j, x, y)
		}
	}
	return nil
}

func validateAll(series []Series, unit bool) error {
	if len(series) == 0 {
		return fmt.Errorf("viz: no series to plot")
	}
	for i, s := range series {
		if err := s.validate(i, unit); err != nil {
			return err
		}
	}
	return nil
}

// ascending returns the points ordered by X ascending; it errors unless X is monotone (either way),
// which every threshold sweep produces.
func ascending(s Series) (xs, ys []float64, err error) {
	inc, dec := true, true
	for i := 1; i < len(s.X); i++ {
		inc = inc && s.X[i] >= s.X[i-1]
		dec = dec && s.X[i] <= s.X[i-1]
	}
	switch {
	case inc:
		return s.X, s.Y, nil
	case dec:
		n := len(s.X)
		xs, ys = make([]float64, n), make([]float64, n)
		for i := range s.X {
			xs[n-1-i], ys[n-1-i] = s.X[i], s.Y[i]
		}
		return xs, ys, nil
	}
	return nil, nil, fmt.Errorf("viz: series %q: x values are not monotone, not a threshold sweep", s.Name)
}

// TrapezoidArea is the area under the curve through the points by the trapezoid rule (AUROC when the
// points are every threshold of a ROC curve). X must be monotone.
func TrapezoidArea(s Series) (float64, error) {
	if err := s.validate(0, false); err != nil {
		return 0, err
	}
	xs, ys, err := ascending(s)
	if err != nil {
		return 0, err
	}
	a := 0.0
	for i := 1; i < len(xs); i++ {
		a += (xs[i] - xs[i-1]) * (ys[i] + ys[i-1]) / 2
	}
	return a, nil
}

// AveragePrecision is the step-wise area under a precision-recall curve, sum of (R_k - R_k-1) * P_k
// over points ordered by recall (X = recall, Y = precision), as scikit-learn's average_precision_score
// computes it when the points are every threshold.
func AveragePrecision(s Series) (float64, error) {
	if err := s.validate(0, true); err != nil {
		return 0, err
	}
	xs, ys, err := ascending(s)
	if err != nil {
		return 0, err
	}
	ap, prev := 0.0, 0.0
	for i := range xs {
		ap += (xs[i] - prev) * ys[i]
		prev = xs[i]
	}
	return ap, nil
}

// PartialArea is the trapezoid area under the curve for X in [0, limit], interpolating linearly at the
// limit, divided by limit: AUPRO at FPR limit 0.3 as in MVTec AD's evaluation code (Bergmann et al.,
// "The MVTec Anomaly Detection Dataset", IJCV 2021, Sec. 3.2). X = FPR, Y = PRO.
func PartialArea(s Series, limit float64) (float64, error) {
	if err := s.validate(0, false); err != nil {
		return 0, err
	}
	if !(limit > 0) || math.IsInf(limit, 0) {
		return 0, fmt.Errorf("viz: integration limit %g must be positive", limit)
	}
	xs, ys, err := ascending(s)
	if err != nil {
		return 0, err
	}
	a := 0.0
	for i := 1; i < len(xs); i++ {
		x0, x1, y0, y1 := xs[i-1], xs[i], ys[i-1], ys[i]
		if x0 >= limit {
			break
		}
		if x1 > limit {
			y1 = y0 + (y1-y0)*(limit-x0)/(x1-x0)
			x1 = limit
		}
		a += (x1 - x0) * (y1 + y0) / 2
	}
	return a / limit, nil
}

// thin drops points closer than step (in both coordinates) to the last kept one, keeping the first
// and last: a pixel-level ROC with millions of thresholds draws as at most a few thousand segments.
func thin(xs, ys []float64, step float64) plotter.XYs {
	out := make(plotter.XYs, 0, min(len(xs), 4096))
	lastX, lastY := math.Inf(-1), math.Inf(-1)
	for i := range xs {
		if i == 0 || i == len(xs)-1 || math.Abs(xs[i]-lastX) >= step || math.Abs(ys[i]-lastY) >= step {
			out = append(out, plotter.XY{X: xs[i], Y: ys[i]})
			lastX, lastY = xs[i], ys[i]
		}
	}
	return out
}

// addCurves draws each series as a coloured line and writes its legend entry via label.
func addCurves(c *Chart, series []Series, step float64, label func(Series) (string, error)) error {
	for i, s := range series {
		xs, ys := s.X, s.Y
		if ax, ay, err := ascending(s); err == nil {
			xs, ys = ax, ay
		}
		l, err := plotter.NewLine(thin(xs, ys, step))
		if err != nil {
			return fmt.Errorf("viz: series %q: %w", s.Name, err)
		}
		l.LineStyle.Color = seriesColor(i)
		l.LineStyle.Width = vg.Points(2)
		c.Plot.Add(l)
		text := s.Label
		if text == "" {
			if text, err = label(s); err != nil {
				return err
			}
		}
		c.Plot.Legend.Add(text, l)
	}
	return nil
}

// unitAxes fixes both axes to [0, 1] and adds a light grid.
func unitAxes(p *plot.Plot) {
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1.02
	addGrid(p)
}

func addGrid(p *plot.Plot) {
	g := plotter.NewGrid()
	g.Vertical.Color = color.Gray{Y: 225}
	g.Horizontal.Color = color.Gray{Y: 225}
	p.Add(g)
}

// dashedLine returns a straight dashed segment.
func dashedLine(x0, y0, x1, y1 float64, col color.Color) *plotter.Line {
	l, _ := plotter.NewLine(plotter.XYs{{X: x0, Y: y0}, {X: x1, Y: y1}})
	l.LineStyle.Color = col
	l.LineStyle.Width = vg.Points(1.2)
	l.LineStyle.Dashes = []vg.Length{vg.Points(5), vg.Points(4)}
	return l
}

func nameOr(s Series, i int) string {
	if s.Name != "" {
		return s.Name
	}
	return fmt.Sprintf("series %d", i)
}

func named(series []Series) []Series {
	out := append([]Series(nil), series...)
	for i := range out {
		out[i].Name = nameOr(out[i], i)
	}
	return out
}

// ROC draws receiver operating characteristic curves (X = false-positive rate, Y = true-positive rate)
// of several methods on one chart, with each curve's AUROC (trapezoid area of its points) in the legend
// and the chance diagonal dashed.
func ROC(series ...Series) (*Chart, error) {
	if err := validateAll(series, true); err != nil {
		return nil, err
	}
	series = named(series)
	c := newChart("ROC", "false-positive rate", "true-positive rate")
	unitAxes(c.Plot)
	c.Plot.Legend.Top = false // curves fill the top left; the bottom right is empty
	chance := dashedLine(0, 0, 1, 1, color.Gray{Y: 150})
	c.Plot.Add(chance)
	err := addCurves(c, series, 1e-3, func(s Series) (string, error) {
		a, err := TrapezoidArea(s)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s (AUROC %.3f)", s.Name, a), nil
	})
	if err != nil {
		return nil, err
	}
	c.Plot.Legend.Add("chance", chance)
	return c, nil
}

// PR draws precision-recall curves (X = recall, Y = precision) with each curve's average precision
// in the legend.
func PR(series ...Series) (*Chart, error) {
	if err := validateAll(series, true); err != nil {
		return nil, err
	}
	series = named(series)
	c := newChart("Precision-recall", "recall", "precision")
	unitAxes(c.Plot)
	c.Plot.Legend.Top, c.Plot.Legend.Left = false, true
	err := addCurves(c, series, 1e-3, func(s Series) (string, error) {
		ap, err := AveragePrecision(s)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s (AP %.3f)", s.Name, ap), nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// DefaultPROLimit is the false-positive-rate limit of AUPRO in MVTec AD's protocol.
const DefaultPROLimit = 0.3

// PRO draws per-region-overlap curves (X = false-positive rate over normal pixels, Y = mean overlap
// with each ground-truth region) with the FPR limit (e.g. DefaultPROLimit) marked by a dashed line and
// shading, and each curve's AUPRO up to the limit (normalised by it) in the legend.
func PRO(limit float64, series ...Series) (*Chart, error) {
	if !(limit > 0 && limit <= 1) {
		return nil, fmt.Errorf("viz: PRO limit %g outside (0, 1]", limit)
	}
	if err := validateAll(series, true); err != nil {
		return nil, err
	}
	series = named(series)
	c := newChart("Per-region overlap", "false-positive rate", "per-region overlap")
	unitAxes(c.Plot)
	c.Plot.Legend.Top = false
	shade, err := plotter.NewPolygon(plotter.XYs{{X: 0, Y: 0}, {X: limit, Y: 0}, {X: limit, Y: 1.02}, {X: 0, Y: 1.02}})
	if err != nil {
		return nil, err
	}
	shade.Color = shadeColor
	shade.LineStyle.Width = 0
	c.Plot.Add(shade)
	addGrid(c.Plot)
	mark := dashedLine(limit, 0, limit, 1.02, color.Gray{Y: 90})
	c.Plot.Add(mark)
	err = addCurves(c, series, 1e-3, func(s Series) (string, error) {
		a, err := PartialArea(s, limit)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s (AUPRO@%.2g %.3f)", s.Name, limit, a), nil
	})
	if err != nil {
		return nil, err
	}
	c.Plot.Legend.Add(fmt.Sprintf("FPR limit %.2g", limit), mark)
	return c, nil
}

// LossCurves draws training-loss curves (X = step or epoch, Y = loss), one line per series, with each
// series' final value in the legend. logY draws the loss on a log scale (all losses must be > 0).
func LossCurves(logY bool, series ...Series) (*Chart, error) {
	if err := validateAll(series, false); err != nil {
		return nil, err
	}
	series = named(series)
	c := newChart("Training loss", "step", "loss")
	if logY {
		for _, s := range series {
			for j, y := range s.Y {
				if y <= 0 {
					return nil, fmt.Errorf("viz: series %q point %d has loss %g; a log scale needs > 0", s.Name, j, y)
				}
			}
		}
		c.Plot.Y.Scale = plot.LogScale{}
		c.Plot.Y.Tick.Marker = plot.TickerFunc(logTicks125)
	}
	addGrid(c.Plot)
	for i, s := range series {
		pts := make(plotter.XYs, len(s.X))
		for j := range s.X {
			pts[j] = plotter.XY{X: s.X[j], Y: s.Y[j]}
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return nil, fmt.Errorf("viz: series %q: %w", s.Name, err)
		}
		l.LineStyle.Color = seriesColor(i)
		l.LineStyle.Width = vg.Points(1.6)
		c.Plot.Add(l)
		label := s.Label
		if label == "" {
			label = fmt.Sprintf("%s (final %.4g)", s.Name, s.Y[len(s.Y)-1])
		}
		c.Plot.Legend.Add(label, l)
	}
	if logY && c.Plot.Y.Min == c.Plot.Y.Max {
		// gonum widens an empty range by ±1, which goes below zero; widen by a factor instead.
		c.Plot.Y.Min, c.Plot.Y.Max = c.Plot.Y.Min/2, c.Plot.Y.Max*2
	}
	return c, nil
}

// shadeColor fills the part of a PRO chart that AUPRO integrates.
var shadeColor = color.RGBA{R: 236, G: 236, B: 236, A: 255}

// logTicks125 labels 1, 2 and 5 times each power of ten in [lo, hi] (plus minor ticks at the other
// integers), so a loss curve spanning less than a decade still gets several labels.
func logTicks125(lo, hi float64) []plot.Tick {
	if !(lo > 0) || !(hi >= lo) {
		return nil
	}
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		p := math.Pow(10, e)
		for m := 1; m < 10; m++ {
			v := float64(m) * p
			if v < lo*(1-1e-9) || v > hi*(1+1e-9) {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || m == 2 || m == 5 {
				t.Label = strconv.FormatFloat(v, 'g', -1, 64)
			}
			ticks = append(ticks, t)
		}
	}
	labelled := 0
	for _, t := range ticks {
		if t.Label != "" {
			labelled++
		}
	}
	if labelled < 2 { // less than a factor 2 of range: label every integer multiple
		for i := range ticks {
			ticks[i].Label = strconv.FormatFloat(ticks[i].Value, 'g', -1, 64)
		}
	}
	if len(ticks) < 2 {
		return plot.DefaultTicks{}.Ticks(lo, hi)
	}
	return ticks
}
