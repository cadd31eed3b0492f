package synth

import (
	"math"
	"math/rand/v2"
)

// pose places an object's local frame (units: fractions of the image side) in the image.
type pose struct {
	cx, cy   float32 // centre, pixels
	cos, sin float32 // rotation
	scale    float32 // pixels per local unit
}

// local maps pixel (x, y) to the object's frame.
func (p pose) local(x, y float32) (u, v float32) {
	dx, dy := x-p.cx, y-p.cy
	return (p.cos*dx + p.sin*dy) / p.scale, (-p.sin*dx + p.cos*dy) / p.scale
}

// moved returns the pose shifted by (dx, dy) pixels and rotated by da radians.
func (p pose) moved(dx, dy, da float32) pose {
	a := math.Atan2(float64(p.sin), float64(p.cos)) + float64(da)
	p.cx += dx
	p.cy += dy
	p.cos, p.sin = float32(math.Cos(a)), float32(math.Sin(a))
	return p
}

// jitterPose draws a normal pose: centre within ±shift of the image centre (fraction of the side),
// rotation within ±deg about base, scale within ±sc.
func jitterPose(r *rand.Rand, n int, shift, baseDeg, deg, sc float64) pose {
	nf := float64(n)
	a := (baseDeg + uniform(r, -deg, deg)) * math.Pi / 180
	return pose{
		cx: float32(nf/2 + uniform(r, -shift, shift)*nf), cy: float32(nf/2 + uniform(r, -shift, shift)*nf),
		cos: float32(math.Cos(a)), sin: float32(math.Sin(a)),
		scale: float32(nf * uniform(r, 1-sc, 1+sc)),
	}
}

// objEdit is a geometric defect: the object re-rendered moved, cut, bitten or bent.
type objEdit struct {
	dx, dy, da          float32 // misplacement: pixels, radians
	cutNx, cutNy, cutD  float32 // remove the half plane n·p > d (local units)
	biteX, biteY, biteR float32 // remove a disc (local units)
	bendU, bendA        float32 // bend the part with u > bendU by bendA radians
	part                int     // which part (e.g. transistor leg) a cut or bend applies to
}

// object renders one object category over its background.
type object interface {
	// draw composites the object over s (holding the background); sup marks pixels well inside the
	// object, where surface defects may go.
	draw(s surface, sup []bool, n int, e *objEdit)
	// edit draws the parameters of a geometric defect ("missing", "bent", "misplaced").
	edit(r *rand.Rand, kind string, d float64, n int) *objEdit
}

// misplace draws a misplacement clearly outside the normal pose jitter: a shift of 8-20% of the side
// or a rotation of minDeg..maxDeg degrees; difficulty d moves both towards the normal range.
func misplace(r *rand.Rand, d float64, n int, minDeg, maxDeg float64) *objEdit {
	e := &objEdit{}
	k := 1 - 0.5*d
	if r.IntN(2) == 0 {
		a := r.Float64() * 2 * math.Pi
		m := uniform(r, 0.08, 0.2) * k * float64(n)
		m = max(m, 0.07*float64(n))
		e.dx, e.dy = float32(m*math.Cos(a)), float32(m*math.Sin(a))
	} else {
		deg := max(uniform(r, minDeg, maxDeg)*k, minDeg*0.7)
		if r.IntN(2) == 0 {
			deg = -deg
		}
		e.da = float32(deg * math.Pi / 180)
	}
	return e
}

// coverage turns a signed distance in pixels into antialiased coverage.
func coverage(sdPx float32) float32 { return clamp01(0.5 - sdPx) }

// blend mixes colour c into pixel i of s with weight a.
func blend(s surface, i int, c [3]float32, a float32) {
	p := s[i*3:]
	p[0] += (c[0] - p[0]) * a
	p[1] += (c[1] - p[1]) * a
	p[2] += (c[2] - p[2]) * a
}

// bbox returns the pixel box of radius rad around (cx, cy), clipped to the image.
func bbox(cx, cy, rad float32, n int) (x0, y0, x1, y1 int) {
	x0, y0 = max(0, int(cx-rad)-1), max(0, int(cy-rad)-1)
	x1, y1 = min(n, int(cx+rad)+2), min(n, int(cy+rad)+2)
	return
}

// plainBackground is a matte surface with low-frequency tone and fine grain.
func plainBackground(r *rand.Rand, n int, base [3]float32, bright float64) surface {
	c := colourJitter(r, base, bright, 0.03)
	tone := newFBM(r, n, 3, 3, 3, 0.5)
	grain := newFBM(r, n, float64(n)/5, float64(n)/5, 1, 0.5)
	s := make(surface, n*n*3)
	tn, gr := tone.field(n), grain.field(n)
	for y := range n {
		for x := range n {
			k := 1 + 0.06*tn[y*n+x] + 0.05*gr[y*n+x]
			p := s[(y*n+x)*3:]
			p[0], p[1], p[2] = c[0]*k, c[1]*k, c[2]*k
		}
	}
	return s
}

// ---- nut ----

// nut is a hexagon nut seen from above on a dark fixture plate: turned (brushed) face with an
// anisotropic sheen, outer chamfer, threaded bore showing the plate.
type nut struct {
	p        pose
	R, Ri    float32 // hexagon inradius and bore radius, local units
	metal    [3]float32
	brush    *lattice
	sheenCos float32 // cos and sin of twice the sheen direction
	sheenSin float32
	sheenAmp float32
}

func newNut(r *rand.Rand, n int) (surface, object) {
	bg := plainBackground(r, n, [3]float32{0.17, 0.18, 0.2}, 0.15)
	// A fixture ring the nut sits in: it moves with the camera, not with a misplaced nut.
	cam := jitterPose(r, n, 0.02, 0, 0, 0)
	o := &nut{
		p:        jitterPose(r, n, 0.015, 0, 8, 0.03),
		R:        float32(uniform(r, 0.28, 0.3)),
		Ri:       float32(uniform(r, 0.11, 0.125)),
		metal:    colourJitter(r, [3]float32{0.66, 0.66, 0.64}, 0.08, 0.02),
		brush:    newLattice(r, 97, 1),
		sheenAmp: float32(uniform(r, 0.06, 0.14)),
	}
	sp := uniform(r, 0, math.Pi)
	o.sheenCos, o.sheenSin = float32(math.Cos(2*sp)), float32(math.Sin(2*sp))
	o.p.cx += cam.cx - float32(n)/2
	o.p.cy += cam.cy - float32(n)/2
	ring := float32(0.36 * float64(n))
	for y := range n {
		for x := range n {
			d := float32(math.Hypot(float64(float32(x)-cam.cx), float64(float32(y)-cam.cy)))
			if dd := abs32(d - ring); dd < 3 {
				k := 0.75 + 0.25*dd/3
				p := bg[(y*n+x)*3:]
				p[0], p[1], p[2] = p[0]*k, p[1]*k, p[2]*k
			}
		}
	}
	return bg, o
}

// sdHexagon is the signed distance to a regular hexagon of inradius r with flat sides at ±y.
func sdHexagon(u, v, r float32) float32 {
	const kx, ky, kz = -0.866025404, 0.5, 0.577350269
	u, v = abs32(u), abs32(v)
	d := 2 * min(kx*u+ky*v, 0)
	u -= d * kx
	v -= d * ky
	cu := min(max(u, -kz*r), kz*r)
	u -= cu
	v -= r
	l := float32(math.Hypot(float64(u), float64(v)))
	if v < 0 {
		return -l
	}
	return l
}

func (o *nut) draw(s surface, sup []bool, n int, e *objEdit) {
	p := o.p
	if e != nil {
		p = p.moved(e.dx, e.dy, e.da)
	}
	x0, y0, x1, y1 := bbox(p.cx, p.cy, o.R*1.2*p.scale, n)
	bev := float32(0.025)
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			u, v := p.local(float32(x), float32(y))
			r2 := u*u + v*v
			rad := float32(math.Sqrt(float64(r2)))
			outer := sdHexagon(u, v, o.R)
			if e != nil && e.cutD != 0 {
				outer = max(outer, e.cutNx*u+e.cutNy*v-e.cutD)
			}
			sd := max(outer, o.Ri-rad)
			a := coverage(sd * p.scale)
			if a <= 0 {
				continue
			}
			// The sheen follows the light, fixed in the image: cos(2(phi-sheen)) with phi the image-frame
			// angle, from cos 2phi = (dx²-dy²)/d², sin 2phi = 2 dx dy/d².
			wx, wy := float32(x)-p.cx, float32(y)-p.cy
			w2 := wx*wx + wy*wy + 1e-6
			c2, s2 := (wx*wx-wy*wy)/w2, 2*wx*wy/w2
			k := 0.85 + 0.12*o.brush.at(rad*400, 0)
			k *= 1 + o.sheenAmp*(c2*o.sheenCos+s2*o.sheenSin)
			if -outer < bev { // chamfer: darker towards the outer edge
				k *= 0.72 + 0.28*(-outer/bev)
			}
			if t := rad - o.Ri; t < 0.03 { // threads of the bore
				k *= 0.55 + 0.15*float32(math.Sin(float64(t*700))) + 0.3*t/0.03
			}
			blend(s, y*n+x, [3]float32{o.metal[0] * k, o.metal[1] * k, o.metal[2] * k}, a)
			sup[y*n+x] = sd*p.scale < -inset(n)
		}
	}
}

func (o *nut) edit(r *rand.Rand, kind string, d float64, n int) *objEdit {
	switch kind {
	case "missing": // a corner broken off: cut near one of the six vertices
		vert := float64(r.IntN(6))*math.Pi/3 + uniform(r, -0.2, 0.2) // vertices at multiples of 60°
		vr := float64(o.R) / math.Cos(math.Pi/6)
		depth := uniform(r, 0.1, 0.35) * (1 - 0.6*d) * vr
		return &objEdit{cutNx: float32(math.Cos(vert)), cutNy: float32(math.Sin(vert)), cutD: float32(vr - depth)}
	case "misplaced":
		return misplace(r, d, n, 20, 30)
	}
	return nil
}

// ---- screw ----

// screw is a machine screw lying on a bright surface, seen from the side: pan head, threaded shaft,
// pointed tip, cylindrical shading with a specular stripe and a soft contact shadow.
type screw struct {
	p                  pose
	L, rs, rh, hl, tl  float32 // length, shaft and head radius, head and tip length
	pitch, thPhase     float32
	metal              [3]float32
	shadowDx, shadowDy float32 // local units
}

func newScrew(r *rand.Rand, n int) (surface, object) {
	bg := plainBackground(r, n, [3]float32{0.8, 0.8, 0.78}, 0.08)
	o := &screw{
		p:       jitterPose(r, n, 0.03, 0, 12, 0.03),
		L:       float32(uniform(r, 0.6, 0.64)),
		rs:      float32(uniform(r, 0.034, 0.038)),
		rh:      float32(uniform(r, 0.07, 0.076)),
		hl:      float32(uniform(r, 0.085, 0.095)),
		tl:      float32(uniform(r, 0.07, 0.085)),
		pitch:   float32(uniform(r, 0.017, 0.02)),
		thPhase: r.Float32(),
		metal:   colourJitter(r, [3]float32{0.55, 0.55, 0.57}, 0.1, 0.02),
	}
	a := uniform(r, 0, 2*math.Pi)
	o.shadowDx, o.shadowDy = float32(0.006*math.Cos(a)), float32(0.006*math.Sin(a))
	return bg, o
}

// sd returns the screw's signed distance at (u, v) and the half width used for shading.
func (o *screw) sd(u, v float32) (float32, float32, bool) {
	h0 := -o.L / 2
	h1 := h0 + o.hl
	t0 := o.L/2 - o.tl
	av := abs32(v)
	// Pan head: a box with rounded far corners.
	hu := max(h0-u, u-h1)
	head := max(hu, av-o.rh)
	if u < h0+0.02 && av > o.rh-0.02 {
		head = float32(math.Hypot(float64(max(0, h0+0.02-u)), float64(max(0, av-(o.rh-0.02))))) - 0.02
		head = max(head, hu)
	}
	// Shaft with thread teeth on the silhouette, and a conical tip.
	th := (u + 0.35*v) / o.pitch
	th = th + o.thPhase - float32(math.Floor(float64(th+o.thPhase)))
	tooth := 0.006 * (abs32(th-0.5)*2 - 0.5)
	slant := (av*o.tl + (u-t0)*o.rs - o.rs*o.tl) / float32(math.Hypot(float64(o.tl), float64(o.rs)))
	shaft := max(max(av-o.rs-tooth, h1-u-0.001), slant-tooth)
	if head < shaft {
		return head, o.rh, true
	}
	hw := o.rs
	if u > t0 {
		hw = max(o.rs*(o.L/2-u)/o.tl, 0.004)
	}
	return shaft, hw, false
}

func (o *screw) shape(u, v float32, e *objEdit) (sd, hw, vv float32, head bool) {
	sd, hw, head = o.sd(u, v)
	vv = v
	if e != nil && e.bendA != 0 {
		// Straight part up to bendU, rotated copy beyond it; take the nearer.
		sa := max(sd, u-e.bendU)
		c, s := float32(math.Cos(float64(-e.bendA))), float32(math.Sin(float64(-e.bendA)))
		bu, bv := c*(u-e.bendU)-s*v+e.bendU, s*(u-e.bendU)+c*v
		sb, hwb, _ := o.sd(bu, bv)
		sb = max(sb, e.bendU-bu)
		if sb < sa {
			return sb, hwb, bv, false
		}
		sd = sa
	}
	if e != nil && e.cutD != 0 {
		sd = max(sd, u-e.cutD)
	}
	return sd, hw, vv, head
}

func (o *screw) draw(s surface, sup []bool, n int, e *objEdit) {
	p := o.p
	if e != nil {
		p = p.moved(e.dx, e.dy, e.da)
	}
	x0, y0, x1, y1 := bbox(p.cx, p.cy, (o.L/2+0.05)*p.scale, n)
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			u, v := p.local(float32(x), float32(y))
			if (e == nil || e.bendA == 0) && (abs32(v) > o.rh+0.03 || abs32(u) > o.L/2+0.03) {
				continue
			}
			// Contact shadow: the silhouette offset and blurred.
			ss, _, _, _ := o.shape(u-o.shadowDx, v-o.shadowDy, e)
			if sh := ss * p.scale; sh < 2 {
				k := 1 - 0.12*clamp01((2-sh)/4)
				q := s[(y*n+x)*3:]
				q[0], q[1], q[2] = q[0]*k, q[1]*k, q[2]*k
			}
			sd, hw, vv, head := o.shape(u, v, e)
			a := coverage(sd * p.scale)
			if a <= 0 {
				continue
			}
			t := min(max(vv/hw, -1), 1)
			k := 0.3 + 0.55*float32(math.Sqrt(float64(1-t*t))) + 0.35*float32(math.Exp(float64(-(t+0.35)*(t+0.35)/0.03)))
			if !head {
				th := (u + 0.35*vv) / o.pitch
				th = th + o.thPhase - float32(math.Floor(float64(th+o.thPhase)))
				k *= 0.72 + 0.28*abs32(th-0.5)*2
			} else {
				k *= 1.05
			}
			blend(s, y*n+x, [3]float32{o.metal[0] * k, o.metal[1] * k, o.metal[2] * k}, a)
			sup[y*n+x] = sd*p.scale < -inset(n)
		}
	}
}

func (o *screw) edit(r *rand.Rand, kind string, d float64, n int) *objEdit {
	switch kind {
	case "missing": // the tip or more broken off
		l := uniform(r, 0.08, 0.25) * (1 - 0.5*d) * float64(o.L)
		return &objEdit{cutD: o.L/2 - float32(l)}
	case "bent":
		u := float32(uniform(r, -0.05, 0.15))
		a := uniform(r, 10, 30) * (1 - 0.5*d) * math.Pi / 180
		if r.IntN(2) == 0 {
			a = -a
		}
		return &objEdit{bendU: u, bendA: float32(a)}
	case "misplaced":
		return misplace(r, d, n, 35, 90)
	}
	return nil
}

// ---- pill ----

// pill is an oblong white tablet with red-brown speckles and a score line, on a dark tray: dome
// shading, speckle layout varying per sample.
type pill struct {
	p      pose
	a, rp  float32
	col    [3]float32
	specks []speck
	spec   [2]float32
}

type speck struct {
	u, v, r2 float32
	c        [3]float32
}

func newPill(r *rand.Rand, n int) (surface, object) {
	bg := plainBackground(r, n, [3]float32{0.16, 0.15, 0.14}, 0.15)
	o := &pill{
		p:   jitterPose(r, n, 0.025, 0, 5, 0.03),
		a:   float32(uniform(r, 0.19, 0.21)),
		rp:  float32(uniform(r, 0.15, 0.16)),
		col: colourJitter(r, [3]float32{0.92, 0.89, 0.84}, 0.04, 0.02),
	}
	o.spec = [2]float32{float32(uniform(r, -0.1, 0.1)), float32(uniform(r, -0.08, -0.04))}
	for range 30 + r.IntN(30) {
		rr := float32(uniform(r, 0.003, 0.007))
		o.specks = append(o.specks, speck{
			u: float32(uniform(r, -0.33, 0.33)), v: float32(uniform(r, -0.14, 0.14)), r2: rr * rr,
			c: colourJitter(r, [3]float32{0.62, 0.3, 0.25}, 0.15, 0.08),
		})
	}
	return bg, o
}

func (o *pill) draw(s surface, sup []bool, n int, e *objEdit) {
	p := o.p
	if e != nil {
		p = p.moved(e.dx, e.dy, e.da)
	}
	x0, y0, x1, y1 := bbox(p.cx, p.cy, (o.a+o.rp+0.02)*p.scale, n)
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			u, v := p.local(float32(x), float32(y))
			qu := max(abs32(u)-o.a, 0)
			dist := float32(math.Hypot(float64(qu), float64(v)))
			sd := dist - o.rp
			if e != nil && e.biteR != 0 {
				sd = max(sd, e.biteR-float32(math.Hypot(float64(u-e.biteX), float64(v-e.biteY))))
			}
			a := coverage(sd * p.scale)
			if a <= 0 {
				continue
			}
			t := min(dist/o.rp, 1)
			k := 0.8 + 0.2*float32(math.Sqrt(float64(1-t*t)))
			su, sv := u-o.spec[0], v-o.spec[1]
			k += 0.08 * float32(math.Exp(float64(-(su*su+sv*sv)/0.004)))
			if -sd < 0.012 { // darker rim
				k *= 0.8 + 0.2*(-sd/0.012)
			}
			c := o.col
			if abs32(u) < 0.005 { // score line
				k *= 0.82
			}
			for _, sp := range o.specks {
				if du, dv := u-sp.u, v-sp.v; du*du+dv*dv < sp.r2 {
					c = sp.c
					break
				}
			}
			blend(s, y*n+x, [3]float32{min(c[0]*k, 1), min(c[1]*k, 1), min(c[2]*k, 1)}, a)
			sup[y*n+x] = sd*p.scale < -inset(n)
		}
	}
}

func (o *pill) edit(r *rand.Rand, kind string, d float64, n int) *objEdit {
	switch kind {
	case "missing": // a chip bitten out of the rim
		ang := r.Float64() * 2 * math.Pi
		// A point on the boundary of the capsule in direction ang.
		bu := float32(math.Cos(ang)) * (o.a + o.rp)
		bv := float32(math.Sin(ang)) * o.rp
		br := float32(uniform(r, 0.04, 0.1) * (1 - 0.5*d))
		return &objEdit{biteX: bu, biteY: bv, biteR: br}
	case "misplaced":
		return misplace(r, d, n, 25, 90)
	}
	return nil
}

// inset is how far inside an object's outline (pixels) surface defects may start: 1.5 px at 256 px,
// less on small images so thin parts keep some support.
func inset(n int) float32 { return min(max(float32(n)/170, 0.5), 1.5) }

// ---- transistor ----

// transistor is a TO-220 power transistor soldered on a green circuit board, seen from above: black
// epoxy body, metal tab with a mounting hole, three tinned legs ending on copper pads. The pads and the
// silkscreen outline are printed on the board, so a misplaced component is visible against them.
type transistor struct {
	p                 pose
	bw, bh, by        float32 // body half width, half height, centre v
	th                float32 // tab height beyond the body
	lw, l0, l1, pitch float32 // leg half width, start and end v, spacing
	body, tab, leg    [3]float32
}

func newTransistor(r *rand.Rand, n int) (surface, object) {
	bg := plainBackground(r, n, [3]float32{0.12, 0.34, 0.2}, 0.12)
	cam := jitterPose(r, n, 0.02, 0, 1.5, 0.02)
	o := &transistor{
		bw: 0.17, bh: 0.12, by: -0.06, th: 0.13,
		lw: 0.017, l0: 0.05, l1: 0.36, pitch: 0.1,
		body: colourJitter(r, [3]float32{0.14, 0.14, 0.15}, 0.2, 0.05),
		tab:  colourJitter(r, [3]float32{0.66, 0.66, 0.64}, 0.08, 0.02),
		leg:  colourJitter(r, [3]float32{0.74, 0.74, 0.72}, 0.06, 0.02),
	}
	o.p = cam.moved(float32(uniform(r, -0.008, 0.008))*cam.scale, float32(uniform(r, -0.008, 0.008))*cam.scale,
		float32(uniform(r, -2, 2)*math.Pi/180))
	// Pads and silkscreen, in the camera frame (they do not move with a misplaced component).
	pad := colourJitter(r, [3]float32{0.78, 0.6, 0.32}, 0.08, 0.03)
	silk := [3]float32{0.88, 0.9, 0.86}
	x0, y0, x1, y1 := bbox(cam.cx, cam.cy, 0.5*cam.scale, n)
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			u, v := cam.local(float32(x), float32(y))
			for k := -1; k <= 1; k++ {
				du, dv := u-float32(k)*o.pitch, v-0.33
				if a := coverage((max(abs32(du)-0.032, abs32(dv)-0.05)) * cam.scale); a > 0 {
					blend(bg, y*n+x, pad, a)
				}
			}
			// Silkscreen: a rectangle outline around the body footprint.
			d := max(abs32(u)-o.bw-0.03, abs32(v-o.by+o.th/2)-o.bh-o.th/2-0.03)
			if a := coverage((abs32(d) - 0.004) * cam.scale); a > 0 {
				blend(bg, y*n+x, silk, a*0.9)
			}
		}
	}
	return bg, o
}

// legSD is the signed distance to leg k (-1, 0, 1), bent or cut by e when e.part selects it.
func (o *transistor) legSD(u, v float32, k int, e *objEdit) (float32, float32) {
	lu := u - float32(k)*o.pitch
	lv := v
	if e != nil && e.part == k && e.bendA != 0 && v > e.bendU {
		// Rotate the part of the leg beyond bendU about (0, bendU).
		c, s := float32(math.Cos(float64(-e.bendA))), float32(math.Sin(float64(-e.bendA)))
		du, dv := lu, v-e.bendU
		lu, lv = c*du-s*dv, s*du+c*dv+e.bendU
		lv = max(lv, e.bendU)
	}
	sd := max(abs32(lu)-o.lw, max(o.l0-lv, lv-o.l1))
	if e != nil && e.part == k && e.cutD != 0 {
		sd = max(sd, v-e.cutD)
	}
	return sd, lu / o.lw
}

func (o *transistor) draw(s surface, sup []bool, n int, e *objEdit) {
	p := o.p
	if e != nil {
		p = p.moved(e.dx, e.dy, e.da)
	}
	x0, y0, x1, y1 := bbox(p.cx, p.cy, 0.48*p.scale, n)
	in := inset(n)
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			u, v := p.local(float32(x), float32(y))
			i := y*n + x
			for k := -1; k <= 1; k++ { // legs: tinned wire, cylindrical across
				sd, t := o.legSD(u, v, k, e)
				if a := coverage(sd * p.scale); a > 0 {
					t = min(max(t, -1), 1)
					sh := 0.45 + 0.55*float32(math.Sqrt(float64(1-t*t)))
					blend(s, i, [3]float32{o.leg[0] * sh, o.leg[1] * sh, o.leg[2] * sh}, a)
				}
			}
			// Tab: metal plate above the body with a mounting hole.
			tv := o.by - o.bh - o.th/2
			tsd := max(abs32(u)-o.bw*0.95, abs32(v-tv)-o.th/2-0.01)
			hole := 0.035 - float32(math.Sqrt(float64(u*u+(v-tv)*(v-tv))))
			tsd = max(tsd, hole)
			if a := coverage(tsd * p.scale); a > 0 {
				sh := 0.85 + 0.15*(v-tv)/o.th
				blend(s, i, [3]float32{o.tab[0] * sh, o.tab[1] * sh, o.tab[2] * sh}, a)
			}
			// Body: black epoxy with a soft bevel.
			bsd := max(abs32(u)-o.bw, abs32(v-o.by)-o.bh)
			a := coverage(bsd * p.scale)
			if a > 0 {
				sh := 1 + 0.6*clamp01(1+bsd/0.015)
				blend(s, i, [3]float32{o.body[0] * sh, o.body[1] * sh, o.body[2] * sh}, a)
			}
			sup[i] = bsd*p.scale < -in
		}
	}
}

func (o *transistor) edit(r *rand.Rand, kind string, d float64, n int) *objEdit {
	switch kind {
	case Missing: // a leg broken off: up to its whole length, shorter with difficulty
		k := r.IntN(3) - 1
		l := uniform(r, 0.08, 0.3) * (1 - 0.6*d)
		return &objEdit{part: k, cutD: o.l1 - float32(l)}
	case Bent:
		k := r.IntN(3) - 1
		a := uniform(r, 15, 45) * (1 - 0.5*d) * math.Pi / 180
		if r.IntN(2) == 0 {
			a = -a
		}
		return &objEdit{part: k, bendU: float32(uniform(r, 0.12, 0.22)), bendA: float32(a)}
	case Misplaced:
		return misplace(r, d, n, 10, 25)
	}
	return nil
}
