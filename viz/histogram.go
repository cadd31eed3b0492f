package viz

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Group is a named set of values, e.g. the scores of one class.
type Group struct {
	Name   string
	Values []float64
}

// Histograms draws one histogram per group on shared bins, each normalised to the fraction of its own
// group so classes of different sizes compare; bars are translucent so overlaps show. Empty groups are
// skipped (they get a legend entry saying so); at least one value overall is needed, and all finite.
func Histograms(title, xLabel string, groups ...Group) (*Chart, error) {
	if len(groups) == 0 {
		return nil, fmt.Errorf("viz: no groups to plot")
	}
	lo, hi, n := math.Inf(1), math.Inf(-1), 0
	for gi, g := range groups {
		for j, v := range g.Values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("viz: group %q value %d is %g, not finite", groupName(g, gi), j, v)
			}
			lo, hi = math.Min(lo, v), math.Max(hi, v)
			n++
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("viz: every group is empty")
	}
	if hi == lo {
		lo, hi = lo-0.5, hi+0.5
	}
	// sqrt(n) bins, between 10 and 40: enough shape for a few hundred images, not noise.
	bins := int(math.Ceil(math.Sqrt(float64(n))))
	bins = max(10, min(40, bins))
	width := (hi - lo) / float64(bins)

	c := newChart(title, xLabel, "fraction of group")
	addGrid(c.Plot)
	for gi, g := range groups {
		name := groupName(g, gi)
		if len(g.Values) == 0 {
			c.Plot.Legend.Add(name + " (none)")
			continue
		}
		hb := make([]plotter.HistogramBin, bins)
		for b := range hb {
			hb[b].Min = lo + float64(b)*width
			hb[b].Max = lo + float64(b+1)*width
		}
		for _, v := range g.Values {
			b := min(int((v-lo)/width), bins-1)
			hb[b].Weight += 1 / float64(len(g.Values))
		}
		col := seriesColor(gi)
		h := &plotter.Histogram{Bins: hb, Width: width, FillColor: color.NRGBA{R: col.R, G: col.G, B: col.B, A: 110}}
		h.LineStyle = plotter.DefaultLineStyle
		h.LineStyle.Color = col
		h.LineStyle.Width = vg.Points(1)
		c.Plot.Add(h)
		c.Plot.Legend.Add(fmt.Sprintf("%s (n=%d)", name, len(g.Values)), h)
	}
	return c, nil
}

func groupName(g Group, i int) string {
	if g.Name != "" {
		return g.Name
	}
	return fmt.Sprintf("group %d", i)
}

// ScoreHistogram draws the image-level anomaly scores of normal and anomalous test images and, unless
// threshold is NaN, the decision threshold as a dashed vertical line.
func ScoreHistogram(normal, anomalous []float64, threshold float64) (*Chart, error) {
	if math.IsInf(threshold, 0) {
		return nil, fmt.Errorf("viz: threshold is infinite")
	}
	c, err := Histograms("Image anomaly scores", "anomaly score",
		Group{Name: "normal", Values: normal}, Group{Name: "anomalous", Values: anomalous})
	if err != nil {
		return nil, err
	}
	if !math.IsNaN(threshold) {
		addThreshold(c, threshold)
	}
	return c, nil
}

// addThreshold marks x = t across the chart's data range with a dashed line and a legend entry.
func addThreshold(c *Chart, t float64) {
	top := c.Plot.Y.Max // plot.Add has widened the axis to the bars
	if top <= 0 {
		top = 1
	}
	l := dashedLine(t, 0, t, top*1.05, color.RGBA{R: 20, G: 20, B: 20, A: 255})
	l.LineStyle.Width = vg.Points(1.8)
	c.Plot.Add(l)
	c.Plot.Legend.Add(fmt.Sprintf("threshold %.4g", t), l)
}

// LogLikelihoodHistogram draws per-class histograms of log-likelihoods, as normalising-flow methods
// (CFLOW-AD, FastFlow, DifferNet) report them: normal data should sit to the right.
func LogLikelihoodHistogram(groups ...Group) (*Chart, error) {
	return Histograms("Log-likelihood per class", "log-likelihood", groups...)
}
