package pipeline

import (
	"errors"
	"fmt"
	"math"

	"github.com/gonomaly/gonomaly/viz"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// ROCChart draws the image-level ROC curves of every method finished on category, on one chart.
func ROCChart(cells []Cell, category string) (*viz.Chart, error) {
	var series []viz.Series
	for _, c := range cells {
		if c.Category == category && c.Error == "" && len(c.ROCX) > 1 {
			series = append(series, viz.Series{Name: c.Display, X: c.ROCX, Y: c.ROCY})
		}
	}
	if len(series) == 0 {
		return nil, fmt.Errorf("no finished cell on %s", category)
	}
	ch, err := viz.ROC(series...)
	if err != nil {
		return nil, err
	}
	ch.Plot.Title.Text = "ROC on " + category
	return ch, nil
}

// SpeedAccuracyChart plots each method's mean image AUROC against its mean time per image (log scale),
// one labelled point per method: the survey's speed/accuracy trade-off.
func SpeedAccuracyChart(cells []Cell) (*viz.Chart, error) {
	p := plot.New()
	p.Title.Text = "Accuracy against speed"
	p.X.Label.Text = "ms per image (log scale)"
	p.Y.Label.Text = "mean image AUROC"
	for _, f := range []*font.Font{&p.Title.TextStyle.Font, &p.X.Label.TextStyle.Font, &p.Y.Label.TextStyle.Font,
		&p.X.Tick.Label.Font, &p.Y.Tick.Label.Font, &p.Legend.TextStyle.Font} {
		f.Variant = "Sans"
	}
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Add(plotter.NewGrid())
	var xys plotter.XYs
	var labels []string
	for _, s := range Standings(cells) {
		if math.IsNaN(s.ImageAUROC) || !(s.MsPerImage > 0) {
			continue
		}
		xys = append(xys, plotter.XY{X: s.MsPerImage, Y: s.ImageAUROC})
		labels = append(labels, s.Display)
	}
	if len(xys) == 0 {
		return nil, errors.New("no finished cell to plot")
	}
	for i, xy := range xys {
		sc, err := plotter.NewScatter(plotter.XYs{xy})
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: viz.SeriesColors[i%len(viz.SeriesColors)], Radius: vg.Points(4), Shape: draw.CircleGlyph{}}
		p.Add(sc)
	}
	lb, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels})
	if err != nil {
		return nil, err
	}
	for i := range lb.TextStyle {
		lb.TextStyle[i].Font.Variant = "Sans"
		lb.TextStyle[i].XAlign = draw.XLeft
		lb.Offset = vg.Point{X: vg.Points(6), Y: vg.Points(-3)}
	}
	p.Add(lb)
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, xy := range xys {
		lo, hi = min(lo, xy.X), max(hi, xy.X)
	}
	p.X.Min, p.X.Max = lo/2, hi*4 // room for the labels on the right
	p.Y.Min, p.Y.Max = math.Min(0.5, p.Y.Min-0.02), 1.0
	return &viz.Chart{Plot: p}, nil
}
