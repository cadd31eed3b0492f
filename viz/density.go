package viz

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Grid is a value on a regular lattice of cells: column c sits at X(c), row r at Y(r).
// It has the method set of gonum/plot's plotter.GridXYZ, so those types fit too.
type Grid interface {
	Dims() (cols, rows int)
	Z(c, r int) float64
	X(c int) float64
	Y(r int) float64
}

// GridFunc samples f at the centres of a cols x rows lattice over [x0, x1] x [y0, y1], e.g. a flow's
// log-density over its 2-D latent space.
func GridFunc(x0, x1, y0, y1 float64, cols, rows int, f func(x, y float64) float64) (Grid, error) {
	if cols < 2 || rows < 2 {
		return nil, fmt.Errorf("viz: grid needs at least 2x2 cells, got %dx%d", cols, rows)
	}
	if !(x1 > x0) || !(y1 > y0) || math.IsInf(x1-x0, 0) || math.IsInf(y1-y0, 0) {
		return nil, fmt.Errorf("viz: grid extent [%g, %g] x [%g, %g] is empty or infinite", x0, x1, y0, y1)
	}
	g := &funcGrid{x0: x0, y0: y0, dx: (x1 - x0) / float64(cols), dy: (y1 - y0) / float64(rows),
		cols: cols, rows: rows, z: make([]float64, cols*rows)}
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			g.z[r*cols+c] = f(g.X(c), g.Y(r))
		}
	}
	return g, nil
}

type funcGrid struct {
	x0, y0, dx, dy float64
	cols, rows     int
	z              []float64
}

func (g *funcGrid) Dims() (int, int)   { return g.cols, g.rows }
func (g *funcGrid) Z(c, r int) float64 { return g.z[r*g.cols+c] }
func (g *funcGrid) X(c int) float64    { return g.x0 + (float64(c)+0.5)*g.dx }
func (g *funcGrid) Y(r int) float64    { return g.y0 + (float64(r)+0.5)*g.dy }

// PointGroup is a named set of 2-D points, e.g. the latent codes of one class.
type PointGroup struct {
	Name string
	X, Y []float64
}

// pointFill is the fill of each point group: white for the first (normal) group so it shows on dark
// density, then the series colours from vermillion on.
func pointFill(i int) color.RGBA {
	if i == 0 {
		return color.RGBA{R: 255, G: 255, B: 255, A: 255}
	}
	return seriesColor(i)
}

// LatentDensity draws a 2-D density (e.g. log-likelihood of a flow's latent space, or any score field)
// as a Viridis heat map, brighter meaning higher, with point groups scattered on top as filled circles
// ringed in black. density may be nil to draw points only; at least one of density or a point is needed.
func LatentDensity(density Grid, groups ...PointGroup) (*Chart, error) {
	c := newChart("Latent density (brighter = higher)", "z1", "z2")
	npts := 0
	if density != nil {
		cols, rows := density.Dims()
		if cols < 1 || rows < 1 {
			return nil, fmt.Errorf("viz: density grid is %dx%d", cols, rows)
		}
		// Colour range over the finite values only: a log-density is -Inf far from the data.
		lo, hi := math.Inf(1), math.Inf(-1)
		for r := 0; r < rows; r++ {
			for col := 0; col < cols; col++ {
				if z := density.Z(col, r); !math.IsNaN(z) && !math.IsInf(z, 0) {
					lo, hi = math.Min(lo, z), math.Max(hi, z)
				}
			}
		}
		if math.IsInf(lo, 1) {
			return nil, fmt.Errorf("viz: density grid has no finite value")
		}
		if hi == lo {
			hi = lo + 1
		}
		hm := plotter.NewHeatMap(density, Viridis.Palette(256))
		hm.Min, hm.Max = lo, hi
		hm.NaN = color.Gray{Y: 60}
		hm.Underflow, hm.Overflow = Viridis.At(0), Viridis.At(1)
		hm.Rasterized = true
		c.Plot.Add(hm)
	}
	for gi, g := range groups {
		name := g.Name
		if name == "" {
			name = fmt.Sprintf("group %d", gi)
		}
		if len(g.X) != len(g.Y) {
			return nil, fmt.Errorf("viz: point group %q has %d x and %d y values", name, len(g.X), len(g.Y))
		}
		if len(g.X) == 0 {
			continue
		}
		pts := make(plotter.XYs, len(g.X))
		for j := range g.X {
			if math.IsNaN(g.X[j]) || math.IsNaN(g.Y[j]) || math.IsInf(g.X[j], 0) || math.IsInf(g.Y[j], 0) {
				return nil, fmt.Errorf("viz: point group %q point %d is (%g, %g), not finite", name, j, g.X[j], g.Y[j])
			}
			pts[j] = plotter.XY{X: g.X[j], Y: g.Y[j]}
		}
		npts += len(pts)
		fill, _ := plotter.NewScatter(pts)
		fill.GlyphStyle = draw.GlyphStyle{Color: pointFill(gi), Radius: vg.Points(2.6), Shape: draw.CircleGlyph{}}
		ring, _ := plotter.NewScatter(pts)
		ring.GlyphStyle = draw.GlyphStyle{Color: color.Black, Radius: vg.Points(2.6), Shape: draw.RingGlyph{}}
		c.Plot.Add(fill, ring)
		c.Plot.Legend.Add(fmt.Sprintf("%s (n=%d)", name, len(pts)), fill, ring)
	}
	if density == nil && npts == 0 {
		return nil, fmt.Errorf("viz: nothing to draw: no density and no points")
	}
	return c, nil
}
