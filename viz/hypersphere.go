package viz

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Hypersphere draws a one-class model's picture (Ruff et al., "Deep One-Class Classification", ICML
// 2018, Fig. 1): point groups projected to 2-D, scattered as in LatentDensity, with the centre c as a
// cross and, when radius > 0, the circle of that radius around it (the projected sphere; in the full
// space its boundary is not a circle, so this is a guide for the eye). Points must be finite.
func Hypersphere(title string, cx, cy, radius float64, groups ...PointGroup) (*Chart, error) {
	if math.IsNaN(cx) || math.IsNaN(cy) || math.IsInf(cx, 0) || math.IsInf(cy, 0) || math.IsNaN(radius) || math.IsInf(radius, 0) || radius < 0 {
		return nil, fmt.Errorf("viz: hypersphere centre (%g, %g) and radius %g must be finite, the radius not negative", cx, cy, radius)
	}
	c, err := LatentDensity(nil, groups...)
	if err != nil {
		return nil, err
	}
	c.Plot.Title.Text = title
	dark := color.RGBA{R: 20, G: 20, B: 20, A: 255}
	if radius > 0 {
		pts := make(plotter.XYs, 181)
		for i := range pts {
			a := 2 * math.Pi * float64(i) / float64(len(pts)-1)
			pts[i] = plotter.XY{X: cx + radius*math.Cos(a), Y: cy + radius*math.Sin(a)}
		}
		l, _ := plotter.NewLine(pts)
		l.LineStyle.Color = dark
		l.LineStyle.Width = vg.Points(1.8)
		l.LineStyle.Dashes = []vg.Length{vg.Points(5), vg.Points(4)}
		c.Plot.Add(l)
		c.Plot.Legend.Add(fmt.Sprintf("radius %.3g", radius), l)
	}
	centre, _ := plotter.NewScatter(plotter.XYs{{X: cx, Y: cy}})
	centre.GlyphStyle = draw.GlyphStyle{Color: dark, Radius: vg.Points(6), Shape: draw.CrossGlyph{}}
	c.Plot.Add(centre)
	c.Plot.Legend.Add("centre c", centre)
	return c, nil
}

// MarkX draws a dashed vertical line at x across a chart's current y range (e.g. a radius or a margin
// on a histogram), with a legend entry label.
func MarkX(c *Chart, x float64, label string) error {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return fmt.Errorf("viz: mark at %g is not finite", x)
	}
	top := c.Plot.Y.Max
	if top <= 0 {
		top = 1
	}
	l := dashedLine(x, 0, x, top*1.05, color.RGBA{R: 20, G: 20, B: 20, A: 255})
	l.LineStyle.Width = vg.Points(1.8)
	c.Plot.Add(l)
	c.Plot.Legend.Add(label, l)
	return nil
}
