package synth

import (
	"math"
	"math/rand/v2"
)

// Defect type names, as MVTec AD-style folder names.
const (
	// Scratch is a thin, smooth, bright or dark line.
	Scratch = "scratch"
	// Crack is a thin, jagged, branching dark line.
	Crack = "crack"
	// Hole is an irregular dark puncture.
	Hole = "hole"
	// Stain is a soft-edged colour change (rust, bleach, liquid).
	Stain = "stain"
	// Contamination is foreign matter on the surface: particles or a fibre of a foreign colour.
	Contamination = "contamination"
	// Missing is a part of an object broken off (nut corner, screw tip, pill chip).
	Missing = "missing"
	// Bent is a deformed part (the screw shaft).
	Bent = "bent"
	// Misplaced is an object shifted or rotated beyond the normal pose range.
	Misplaced = "misplaced"
)

// isGeometric reports whether a defect type re-renders the object rather than painting on it.
func isGeometric(kind string) bool { return kind == Missing || kind == Bent || kind == Misplaced }

// painter paints one surface defect; region marks the pixels it changed.
type painter struct {
	s      surface
	sup    []bool // where defects may go
	region []bool
	n      int
	r      *rand.Rand
	size   float64 // size scale from difficulty, (0, 1]
	gain   float64 // contrast scale from difficulty, (0, 1]
}

// centre picks a pixel inside the support, away from the border.
func (p *painter) centre() (float32, float32) {
	m := max(2, p.n/32)
	for range 4000 {
		x, y := m+p.r.IntN(p.n-2*m), m+p.r.IntN(p.n-2*m)
		if p.sup[y*p.n+x] {
			return float32(x) + 0.5, float32(y) + 0.5
		}
	}
	return float32(p.n) / 2, float32(p.n) / 2
}

// polyline draws a random walk of segs segments of length step starting at (x, y); turn is the
// standard deviation of the heading change per segment (radians).
func (p *painter) polyline(x, y float32, segs int, step, turn float64) []float32 {
	h := p.r.Float64() * 2 * math.Pi
	pts := []float32{x, y}
	for range segs {
		h += p.r.NormFloat64() * turn
		x += float32(step * math.Cos(h))
		y += float32(step * math.Sin(h))
		pts = append(pts, x, y)
	}
	return pts
}

// stroke calls f for every supported pixel within half-width hw of the polyline, with the distance
// normalised to [0, 1].
func (p *painter) stroke(pts []float32, hw float32, f func(i int, t float32)) {
	x0, y0, x1, y1 := float32(math.Inf(1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.Inf(-1))
	for i := 0; i < len(pts); i += 2 {
		x0, x1 = min(x0, pts[i]), max(x1, pts[i])
		y0, y1 = min(y0, pts[i+1]), max(y1, pts[i+1])
	}
	bx0, by0 := max(0, int(x0-hw)-1), max(0, int(y0-hw)-1)
	bx1, by1 := min(p.n, int(x1+hw)+2), min(p.n, int(y1+hw)+2)
	for y := by0; y < by1; y++ {
		for x := bx0; x < bx1; x++ {
			i := y*p.n + x
			if !p.sup[i] {
				continue
			}
			px, py := float32(x)+0.5, float32(y)+0.5
			best := float32(math.Inf(1))
			for k := 0; k+3 < len(pts); k += 2 {
				best = min(best, segDist(px, py, pts[k], pts[k+1], pts[k+2], pts[k+3]))
			}
			if best <= hw {
				f(i, best/hw)
			}
		}
	}
}

// segDist is the distance from (px, py) to the segment (ax, ay)-(bx, by).
func segDist(px, py, ax, ay, bx, by float32) float32 {
	dx, dy := bx-ax, by-ay
	l := dx*dx + dy*dy
	t := float32(0)
	if l > 0 {
		t = min(max(((px-ax)*dx+(py-ay)*dy)/l, 0), 1)
	}
	ex, ey := px-ax-t*dx, py-ay-t*dy
	return float32(math.Sqrt(float64(ex*ex + ey*ey)))
}

// blob calls f for every supported pixel inside an irregular disc of radius rad around (cx, cy), with
// t in [0, 1] growing from the centre to the edge. irr scales the boundary's wobble.
func (p *painter) blob(cx, cy, rad, irr float32, f func(i int, t float32)) {
	var ph [4]float64
	var am [4]float32
	for k := range ph {
		ph[k] = p.r.Float64() * 2 * math.Pi
		am[k] = irr * float32(p.r.Float64()) / float32(k+1)
	}
	ex := float32(uniform(p.r, 0.6, 1)) // elongation
	ca, sa := rotation(p.r, 180)
	maxR := rad * (1 + irr*2.1)
	x0, y0, x1, y1 := bbox(cx, cy, maxR, p.n)
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			i := y*p.n + x
			if !p.sup[i] {
				continue
			}
			dx, dy := float32(x)+0.5-cx, float32(y)+0.5-cy
			u, v := ca*dx+sa*dy, (-sa*dx+ca*dy)/ex
			d := float32(math.Sqrt(float64(u*u + v*v)))
			th := math.Atan2(float64(v), float64(u))
			b := float32(1)
			for k := range ph {
				b += am[k] * float32(math.Sin(float64(k+2)*th+ph[k]))
			}
			if lim := rad * b; d < lim {
				f(i, d/lim)
			}
		}
	}
}

// set marks pixel i changed and moves its colour towards c by a (a > 0).
func (p *painter) set(i int, c [3]float32, a float32) {
	p.region[i] = true
	blend(p.s, i, c, a)
}

// px returns the current colour of pixel i.
func (p *painter) px(i int) [3]float32 { q := p.s[i*3:]; return [3]float32{q[0], q[1], q[2]} }

func (p *painter) scratch() {
	nf := float64(p.n)
	L := uniform(p.r, 0.08, 0.45) * p.size * nf
	hw := float32(max(0.75, uniform(p.r, 0.55, 1.3)*nf/256))
	segs := 16
	x, y := p.centre()
	pts := p.polyline(x, y, segs, L/float64(segs), 0.1)
	bright := p.r.IntN(2) == 0
	a := float32(uniform(p.r, 0.35, 0.7) * p.gain)
	p.stroke(pts, hw, func(i int, t float32) {
		c := p.px(i)
		w := a * (1 - 0.4*t*t)
		if bright {
			p.set(i, [3]float32{1, 1, 1}, w)
		} else {
			p.set(i, [3]float32{c[0] * 0.25, c[1] * 0.25, c[2] * 0.25}, w)
		}
	})
}

func (p *painter) crack() {
	nf := float64(p.n)
	L := uniform(p.r, 0.06, 0.35) * p.size * nf
	step := max(2, nf/80)
	segs := max(3, int(L/step))
	hw := float32(max(0.8, uniform(p.r, 0.7, 1.4)*nf/256))
	x, y := p.centre()
	pts := p.polyline(x, y, segs, step, 0.55)
	a := float32(uniform(p.r, 0.5, 0.85) * p.gain)
	dark := func(i int, t float32) {
		c := p.px(i)
		p.set(i, [3]float32{c[0] * 0.15, c[1] * 0.15, c[2] * 0.15}, a*(1-0.3*t))
	}
	p.stroke(pts, hw, dark)
	for range p.r.IntN(3) { // branches from random vertices
		k := p.r.IntN(len(pts)/2) * 2
		br := p.polyline(pts[k], pts[k+1], max(2, segs/3), step, 0.55)
		p.stroke(br, hw*0.8, dark)
	}
}

func (p *painter) hole() {
	nf := float64(p.n)
	rad := float32(max(1.5, uniform(p.r, 0.012, 0.055)*p.size*nf))
	x, y := p.centre()
	a := float32(0.6 + 0.35*p.gain)
	depth := [3]float32{0.04, 0.035, 0.03}
	p.blob(x, y, rad, 0.25, func(i int, t float32) {
		p.set(i, depth, a*(0.85+0.15*(1-t*t)))
	})
}

func (p *painter) stain() {
	nf := float64(p.n)
	rad := float32(max(2, uniform(p.r, 0.03, 0.13)*p.size*nf))
	x, y := p.centre()
	var tint func(c [3]float32) [3]float32
	switch p.r.IntN(4) {
	case 0: // rust
		tint = func(c [3]float32) [3]float32 { return [3]float32{c[0]*0.95 + 0.05, c[1] * 0.7, c[2] * 0.45} }
	case 1: // bleached
		tint = func(c [3]float32) [3]float32 { return [3]float32{c[0]*0.5 + 0.5, c[1]*0.5 + 0.5, c[2]*0.5 + 0.5} }
	case 2: // liquid: darker and more saturated
		tint = func(c [3]float32) [3]float32 { return [3]float32{c[0] * 0.6, c[1] * 0.62, c[2] * 0.7} }
	default: // colour shift: rotate channels
		tint = func(c [3]float32) [3]float32 { return [3]float32{c[2], c[0], c[1]} }
	}
	amax := float32(uniform(p.r, 0.45, 0.9) * p.gain)
	p.blob(x, y, rad, 0.35, func(i int, t float32) {
		e := 1 - t
		w := amax * (0.35 + 0.65*min(1, e*3)) // soft edge, never zero inside
		p.set(i, tint(p.px(i)), w)
	})
}

func (p *painter) contamination() {
	nf := float64(p.n)
	colours := [][3]float32{{0.05, 0.05, 0.05}, {0.95, 0.95, 0.92}, {0.25, 0.45, 0.2}, {0.2, 0.3, 0.7}, {0.55, 0.35, 0.1}}
	col := colours[p.r.IntN(len(colours))]
	a := float32(0.55 + 0.4*p.gain)
	x, y := p.centre()
	if p.r.IntN(2) == 0 { // a fibre or hair
		L := uniform(p.r, 0.1, 0.4) * p.size * nf
		hw := float32(max(0.8, uniform(p.r, 0.7, 1.2)*nf/256))
		pts := p.polyline(x, y, 20, L/20, 0.25)
		p.stroke(pts, hw, func(i int, t float32) { p.set(i, col, a) })
		return
	}
	k := 1 + p.r.IntN(6) // a cluster of particles
	spread := float32(uniform(p.r, 0.01, 0.05) * p.size * nf)
	for range k {
		px := x + spread*gauss(p.r)
		py := y + spread*gauss(p.r)
		rad := float32(max(1.2, uniform(p.r, 0.006, 0.025)*p.size*nf))
		g := float32(uniform(p.r, 0.8, 1.1))
		p.blob(px, py, rad, 0.3, func(i int, t float32) {
			p.set(i, [3]float32{col[0] * g, col[1] * g, col[2] * g}, a*(0.8+0.2*(1-t)))
		})
	}
}

// paint applies a surface defect of the given kind.
func (p *painter) paint(kind string) {
	switch kind {
	case Scratch:
		p.scratch()
	case Crack:
		p.crack()
	case Hole:
		p.hole()
	case Stain:
		p.stain()
	case Contamination:
		p.contamination()
	}
}
