package synth

import (
	"math"
	"math/rand/v2"
)

// A surface is the lit-free colour of every pixel (RGB, HWC, size n x n) before lighting and sensor
// noise. Defects paint on it; geometric defects re-render it.
type surface []float32

// colourJitter returns base with a per-sample brightness factor and a small per-channel tint, the
// batch-to-batch colour variation of a real product.
func colourJitter(r *rand.Rand, base [3]float32, bright, tint float64) [3]float32 {
	b := float32(uniform(r, 1-bright, 1+bright))
	var c [3]float32
	for i := range c {
		c[i] = clamp01(base[i] * b * float32(uniform(r, 1-tint, 1+tint)))
	}
	return c
}

// rotation draws an angle in [-deg, deg] degrees and returns its cosine and sine.
func rotation(r *rand.Rand, deg float64) (float32, float32) {
	a := uniform(r, -deg, deg) * math.Pi / 180
	return float32(math.Cos(a)), float32(math.Sin(a))
}

// textureRenderer draws one texture category's surface; all randomness is drawn when it is built.
type textureRenderer func(s surface, n int)

// newCarpet is a plain-weave fabric: warp and weft threads alternating over and under, each thread with
// fibre noise along its length, slightly rotated, with random phase, thread pitch and colour.
func newCarpet(r *rand.Rand, n int) textureRenderer {
	pitch := float32(n) / float32(uniform(r, 24, 30))
	ca, sa := rotation(r, 3)
	ox, oy := float32(uniform(r, 0, 1000)), float32(uniform(r, 0, 1000))
	warp := colourJitter(r, [3]float32{0.62, 0.45, 0.36}, 0.08, 0.04)
	weft := colourJitter(r, [3]float32{0.55, 0.40, 0.33}, 0.08, 0.04)
	fibreU := newFBM(r, n, float64(n)/3, float64(n)/40, 2, 0.5) // streaks along v (warp)
	fibreV := newFBM(r, n, float64(n)/40, float64(n)/3, 2, 0.5) // streaks along u (weft)
	tone := newFBM(r, n, 3, 3, 3, 0.5)
	return func(s surface, n int) {
		fU, fV, tn := fibreU.field(n), fibreV.field(n), tone.field(n)
		for y := range n {
			for x := range n {
				fx, fy := float32(x), float32(y)
				u := (ca*fx-sa*fy)/pitch + ox
				v := (sa*fx+ca*fy)/pitch + oy
				iu, iv := int(u), int(v) // u, v > 0
				fu, fv := u-float32(iu), v-float32(iv)
				var c [3]float32
				var sh float32
				if (iu+iv)&1 == 0 { // warp on top: profile across u, bulge along v
					sh = sqrtSinPi.at(fu) * (0.8 + 0.2*sinPiTab.at(fv))
					sh *= 1 + 0.25*fU[y*n+x]
					c = warp
				} else {
					sh = sqrtSinPi.at(fv) * (0.8 + 0.2*sinPiTab.at(fu))
					sh *= 1 + 0.25*fV[y*n+x]
					c = weft
				}
				t := 0.92 + 0.08*tn[y*n+x]
				k := (0.45 + 0.55*sh) * t
				p := s[(y*n+x)*3:]
				p[0], p[1], p[2] = c[0]*k, c[1]*k, c[2]*k
			}
		}
	}
}

// table is a function on [0, 1] sampled for fast lookup with linear interpolation.
type table []float32

func newTable(f func(t float64) float64) table {
	const k = 1024
	tb := make(table, k+2)
	for i := range k + 1 {
		tb[i] = float32(f(float64(i) / k))
	}
	tb[k+1] = tb[k]
	return tb
}

// at returns f(t) for t in [0, 1] (clamped).
func (tb table) at(t float32) float32 {
	k := float32(len(tb) - 2)
	x := min(max(t, 0), 1) * k
	i := int(x)
	return tb[i] + (tb[i+1]-tb[i])*(x-float32(i))
}

var (
	sinPiTab  = newTable(func(t float64) float64 { return math.Sin(math.Pi * t) })
	sqrtSinPi = newTable(func(t float64) float64 { return math.Sqrt(math.Max(0, math.Sin(math.Pi*t))) })
)

// newGrid is a woven wire mesh over a dark backing: cylindrical wires at a jittered pitch, alternating
// over and under at crossings, with a small smooth warp of the wire paths.
func newGrid(r *rand.Rand, n int) textureRenderer {
	pitch := float32(n) / float32(uniform(r, 9, 11))
	half := pitch * float32(uniform(r, 0.13, 0.17))
	ca, sa := rotation(r, 2.5)
	ox, oy := float32(uniform(r, 0, 100)), float32(uniform(r, 0, 100))
	metal := colourJitter(r, [3]float32{0.72, 0.72, 0.70}, 0.08, 0.02)
	back := colourJitter(r, [3]float32{0.16, 0.15, 0.14}, 0.2, 0.05)
	warpX := newFBM(r, n, 3, 3, 2, 0.5)
	warpY := newFBM(r, n, 3, 3, 2, 0.5)
	grain := newFBM(r, n, float64(n)/6, float64(n)/6, 1, 0.5)
	amp := float32(uniform(r, 0.04, 0.09)) // warp amplitude in pitches
	return func(s surface, n int) {
		wX, wY, gr := warpX.field(n), warpY.field(n), grain.field(n)
		for y := range n {
			for x := range n {
				fx, fy := float32(x), float32(y)
				u := (ca*fx-sa*fy)/pitch + ox + amp*wX[y*n+x]
				v := (sa*fx+ca*fy)/pitch + oy + amp*wY[y*n+x]
				iu, iv := int(u), int(v)              // u, v > 0
				du := (u - float32(iu) - 0.5) * pitch // distance to a vertical wire, pixels
				dv := (v - float32(iv) - 0.5) * pitch
				g := 1 + 0.15*gr[y*n+x]
				c := [3]float32{back[0] * g, back[1] * g, back[2] * g}
				wu, wv := abs32(du) < half, abs32(dv) < half
				if wu || wv {
					d := du
					if wv && (!wu || (iu+iv)&1 == 0) { // the horizontal wire is on top
						d = dv
					}
					t := d / half
					k := float32(math.Sqrt(float64(max(0, 1-t*t))))
					k = 0.35 + 0.65*k + 0.25*float32(math.Exp(float64(-(t+0.3)*(t+0.3)*20)))
					for i := range 3 {
						c[i] = metal[i] * k * g
					}
				}
				p := s[(y*n+x)*3:]
				p[0], p[1], p[2] = c[0], c[1], c[2]
			}
		}
	}
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}

// newWood is flat-sawn wood: growth rings of a distant trunk axis, warped by noise, with early and late
// wood colours, fine grain streaks along the fibre and random ring phase, spacing and colour.
func newWood(r *rand.Rand, n int) textureRenderer {
	ca, sa := rotation(r, 4)
	nf := float32(n)
	cx := float32(uniform(r, -0.5, 1.5)) * nf
	cy := float32(uniform(r, 2.5, 5)) * nf // far centre: rings are long, gently curved bands
	if r.IntN(2) == 0 {
		cy = -cy + nf
	}
	spacing := nf / float32(uniform(r, 13, 19))
	phase := float32(r.Float64())
	light := colourJitter(r, [3]float32{0.78, 0.58, 0.38}, 0.08, 0.04)
	dark := colourJitter(r, [3]float32{0.50, 0.32, 0.18}, 0.1, 0.05)
	warp := newFBM(r, n, 2, 3, 3, 0.5)
	grain := newFBM(r, n, 4, float64(n)/3, 3, 0.6) // long streaks along x before rotation
	pores := newFBM(r, n, 12, float64(n)/1.5, 1, 0.5)
	return func(s surface, n int) {
		wp := warp.field(n)
		for y := range n {
			for x := range n {
				fx, fy := float32(x), float32(y)
				u := ca*fx - sa*fy
				v := sa*fx + ca*fy
				// The fibre runs along u: rings are distance from an axis far away across v.
				du, dv := (u-cx)*0.15, v-cy
				d := float32(math.Sqrt(float64(du*du + dv*dv)))
				d += wp[y*n+x] * spacing * 0.8
				t := d/spacing + phase
				t -= float32(int(t)) // t > 0
				late := t * t * t
				late *= late // t^6: sharp dark latewood before each ring
				g := grain.at(u+1000, v+1000)
				pr := pores.at(u+1000, v+1000)
				k := clamp01(late*0.85 + 0.35*g + 0.3*max(pr, 0) + 0.1)
				p := s[(y*n+x)*3:]
				for i := range 3 {
					p[i] = lerp(light[i], dark[i], k) * (1 + 0.06*g)
				}
			}
		}
	}
}

// newMarble is veined stone: a sine pattern across a turbulent (fractal-warped) coordinate gives thin
// dark veins over a cloudy white base; vein direction, frequency, turbulence and colours vary.
func newMarble(r *rand.Rand, n int) textureRenderer {
	a := uniform(r, 0, math.Pi)
	kx, ky := float32(math.Cos(a)), float32(math.Sin(a))
	freq := float32(uniform(r, 1.5, 3)) / float32(n)
	turbAmp := float32(uniform(r, 1.2, 2.2))
	turb := newFBM(r, n, 2, 2, 5, 0.55)
	cloud := newFBM(r, n, 3, 3, 3, 0.5)
	base := colourJitter(r, [3]float32{0.88, 0.86, 0.82}, 0.05, 0.03)
	vein := colourJitter(r, [3]float32{0.42, 0.42, 0.46}, 0.15, 0.05)
	sharp := uniform(r, 0.25, 0.45)
	phase := float32(r.Float64()*10) + 20 // keeps t positive
	veinTab := newTable(func(t float64) float64 { return math.Pow(math.Sin(math.Pi*t), sharp) })
	return func(s surface, n int) {
		tb, cl := turb.field(n), cloud.field(n)
		for y := range n {
			for x := range n {
				fx, fy := float32(x), float32(y)
				t := (kx*fx+ky*fy)*freq + turbAmp*tb[y*n+x] + phase
				v := veinTab.at(t - float32(int(t)))
				c := 0.94 + 0.06*cl[y*n+x]
				p := s[(y*n+x)*3:]
				for i := range 3 {
					p[i] = lerp(vein[i], base[i], v) * c
				}
			}
		}
	}
}

// newLeather is grained hide: Worley cells (Worley, "A cellular texture basis function", SIGGRAPH
// 1996) give the bumps, their F2-F1 borders the creases, and high-frequency noise the pores; cell size,
// layout and colour vary per sample.
func newLeather(r *rand.Rand, n int) textureRenderer {
	cells := max(2, int(math.Round(float64(n)/uniform(r, 11, 15))))
	cell := float32(n) / float32(cells)
	pts := make([]float32, cells*cells*2)
	for i := range pts {
		pts[i] = float32(uniform(r, 0.1, 0.9))
	}
	pores := newFBM(r, n, float64(n)/4, float64(n)/4, 2, 0.5)
	tone := newFBM(r, n, 3, 3, 3, 0.5)
	col := colourJitter(r, [3]float32{0.42, 0.27, 0.18}, 0.12, 0.05)
	crease := float32(uniform(r, 0.12, 0.2))
	// Feature points in absolute cell coordinates on a grid padded by one wrapped cell on each side.
	pad := make([]float32, (cells+2)*(cells+2)*2)
	for j := range cells + 2 {
		for i := range cells + 2 {
			ci, cj := (i-1+cells)%cells, (j-1+cells)%cells
			k := (cj*cells + ci) * 2
			q := (j*(cells+2) + i) * 2
			pad[q], pad[q+1] = float32(i-1)+pts[k], float32(j-1)+pts[k+1]
		}
	}
	return func(s surface, n int) {
		pr, tn := pores.field(n), tone.field(n)
		for y := range n {
			for x := range n {
				fx, fy := float32(x)/cell, float32(y)/cell
				ix, iy := min(int(fx), cells-1), min(int(fy), cells-1)
				f1, f2 := float32(9), float32(9)
				for dy := range 3 {
					row := pad[((iy+dy)*(cells+2)+ix)*2:]
					for dx := range 3 {
						px, py := row[2*dx], row[2*dx+1]
						d := (px-fx)*(px-fx) + (py-fy)*(py-fy)
						if d < f1 {
							f1, f2 = d, f1
						} else if d < f2 {
							f2 = d
						}
					}
				}
				e := float32(math.Sqrt(float64(f2))) - float32(math.Sqrt(float64(f1)))
				cr := clamp01(e / crease)
				bump := 1 - 0.25*float32(math.Sqrt(float64(f1)))
				k := (0.55 + 0.45*cr) * bump * (1 + 0.12*pr[y*n+x]) * (0.93 + 0.07*tn[y*n+x])
				p := s[(y*n+x)*3:]
				p[0], p[1], p[2] = col[0]*k, col[1]*k, col[2]*k
			}
		}
	}
}

// newTile is glazed ceramic terrazzo: a smooth base with scattered chips of two colours; chip layout,
// sizes and glaze colour vary.
func newTile(r *rand.Rand, n int) textureRenderer {
	base := colourJitter(r, [3]float32{0.70, 0.72, 0.74}, 0.06, 0.03)
	chipA := colourJitter(r, [3]float32{0.30, 0.32, 0.36}, 0.2, 0.08)
	chipB := colourJitter(r, [3]float32{0.92, 0.90, 0.86}, 0.05, 0.03)
	grid := max(2, int(math.Round(float64(n)/uniform(r, 9, 12))))
	cell := float32(n) / float32(grid)
	type chip struct{ x, y, rx, ry, c, s float32 }
	chips := make([]chip, grid*grid)
	for i := range chips {
		a := r.Float64() * math.Pi
		chips[i] = chip{float32(uniform(r, 0.2, 0.8)), float32(uniform(r, 0.2, 0.8)),
			float32(uniform(r, 0.1, 0.35)), float32(uniform(r, 0.08, 0.25)), float32(math.Cos(a)), float32(math.Sin(a))}
		if r.IntN(3) == 0 {
			chips[i].rx = 0 // no chip in this cell
		}
	}
	kind := make([]bool, len(chips))
	for i := range kind {
		kind[i] = r.IntN(2) == 0
	}
	cloud := newFBM(r, n, 4, 4, 3, 0.5)
	return func(s surface, n int) {
		cl := cloud.field(n)
		for i, g := range cl {
			g = 1 + 0.06*g
			p := s[i*3:]
			p[0], p[1], p[2] = base[0]*g, base[1]*g, base[2]*g
		}
		// Rasterise each chip over its bounding box, drawing wrapped copies near the borders so the
		// texture tiles like the lattice does.
		for k, ch := range chips {
			if ch.rx == 0 {
				continue
			}
			c := chipB
			if kind[k] {
				c = chipA
			}
			cx := (float32(k%grid) + ch.x) * cell
			cy := (float32(k/grid) + ch.y) * cell
			rad := max(ch.rx, ch.ry) * cell
			for _, oy := range []float32{-float32(n), 0, float32(n)} {
				for _, ox := range []float32{-float32(n), 0, float32(n)} {
					x0, y0, x1, y1 := bbox(cx+ox, cy+oy, rad, n)
					for y := y0; y < y1; y++ {
						for x := x0; x < x1; x++ {
							px, py := (float32(x)-cx-ox)/cell, (float32(y)-cy-oy)/cell
							u, v := (ch.c*px+ch.s*py)/ch.rx, (-ch.s*px+ch.c*py)/ch.ry
							if u*u+v*v < 1 {
								g := 1 + 0.06*cl[y*n+x]
								p := s[(y*n+x)*3:]
								p[0], p[1], p[2] = c[0]*g, c[1]*g, c[2]*g
							}
						}
					}
				}
			}
		}
	}
}
