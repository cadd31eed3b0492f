package viz

import (
	"math"
	"testing"
)

func TestHypersphere(t *testing.T) {
	g := PointGroup{Name: "normal", X: []float64{0, 1, -1}, Y: []float64{1, 0, 0.5}}
	c, err := Hypersphere("sphere", 0.2, 0.3, 1.5, g)
	if err != nil {
		t.Fatal(err)
	}
	// The circle widens the axes to the centre plus and minus the radius.
	if c.Plot.X.Min > 0.2-1.5+1e-9 || c.Plot.X.Max < 0.2+1.5-1e-9 || c.Plot.Y.Max < 0.3+1.5-1e-9 {
		t.Errorf("axes [%g, %g] x [%g, %g] do not hold the circle", c.Plot.X.Min, c.Plot.X.Max, c.Plot.Y.Min, c.Plot.Y.Max)
	}
	if _, err := Hypersphere("bad", 0, 0, math.NaN(), g); err == nil {
		t.Error("NaN radius accepted")
	}
	if _, err := Hypersphere("bad", 0, 0, 1, PointGroup{X: []float64{math.Inf(1)}, Y: []float64{0}}); err == nil {
		t.Error("infinite point accepted")
	}
	h, err := Histograms("d", "distance", Group{Name: "a", Values: []float64{1, 2, 3}})
	if err != nil {
		t.Fatal(err)
	}
	if err := MarkX(h, 2.5, "R"); err != nil {
		t.Fatal(err)
	}
	if err := MarkX(h, math.Inf(1), "R"); err == nil {
		t.Error("infinite mark accepted")
	}
}
