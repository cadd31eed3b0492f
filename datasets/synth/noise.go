package synth

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
)

// splitmix64 is a strong 64-bit mixer (Steele, Lea, Flood, "Fast splittable pseudorandom number
// generators", OOPSLA 2014); it turns (seed, key) pairs into independent PCG seeds.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// hashString returns a 64-bit FNV-1a hash of s.
func hashString(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// NewRand returns a PCG generator derived from seed and a key, so that every (seed, key) pair gives an
// independent, reproducible stream. Samples use key = category + "/" + item ID, which is what makes
// loading random-access.
func NewRand(seed uint64, key string) *rand.Rand {
	k := hashString(key)
	a := splitmix64(seed ^ splitmix64(k))
	b := splitmix64(a ^ 0xd1b54a32d192ed03 ^ k)
	return rand.New(rand.NewPCG(a, b))
}

// uniform returns a float64 in [lo, hi).
func uniform(r *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }

// smooth is the quintic fade 6t^5-15t^4+10t^3 of Perlin, "Improving noise", SIGGRAPH 2002.
func smooth(t float32) float32 { return t * t * t * (t*(t*6-15) + 10) }

// lattice is periodic value noise: random values on a gw x gh grid, interpolated with the quintic fade.
// Coordinates are in lattice cells and wrap around, so the field tiles and any rotation stays defined.
type lattice struct {
	gw, gh int
	v      []float32
}

func newLattice(r *rand.Rand, gw, gh int) *lattice {
	gw, gh = max(gw, 1), max(gh, 1)
	l := &lattice{gw: gw, gh: gh, v: make([]float32, gw*gh)}
	for i := range l.v {
		l.v[i] = r.Float32()*2 - 1
	}
	return l
}

// at samples the noise at (x, y) in cell units; the result is in [-1, 1].
func (l *lattice) at(x, y float32) float32 {
	ix, ix1, tx := l.cellOf(x, l.gw)
	iy, iy1, ty := l.cellOf(y, l.gh)
	r0, r1 := l.v[iy*l.gw:], l.v[iy1*l.gw:]
	a := r0[ix] + (r0[ix1]-r0[ix])*tx
	b := r1[ix] + (r1[ix1]-r1[ix])*tx
	return a + (b-a)*ty
}

// fbm is fractal value noise: octaves of lattices, each twice as fine and half as strong.
type fbm struct {
	oct  []*lattice
	cell []float32 // pixels per cell of each octave, per axis (x then y)
	amp  []float32
	norm float32
}

// newFBM makes fractal noise over a size x size image whose coarsest octave has cx x cy cells.
func newFBM(r *rand.Rand, size int, cx, cy float64, octaves int, gain float32) *fbm {
	f := &fbm{}
	a := float32(1)
	for o := range octaves {
		m := float64(int(1) << o)
		gx, gy := max(1, int(math.Round(cx*m))), max(1, int(math.Round(cy*m)))
		f.oct = append(f.oct, newLattice(r, gx, gy))
		f.cell = append(f.cell, float32(gx)/float32(size), float32(gy)/float32(size))
		f.amp = append(f.amp, a)
		f.norm += a
		a *= gain
	}
	f.norm = 1 / f.norm
	return f
}

// at returns the noise at pixel (x, y), in [-1, 1].
func (f *fbm) at(x, y float32) float32 {
	var s float32
	for o, l := range f.oct {
		s += f.amp[o] * l.at(x*f.cell[2*o], y*f.cell[2*o+1])
	}
	return s * f.norm
}

// field evaluates the noise on every pixel of a size x size grid: at(x, y) == field[y*size+x] up to
// rounding, computed lattice by lattice with per-row and per-column interpolation weights.
func (f *fbm) field(size int) []float32 {
	out := make([]float32, size*size)
	for o, l := range f.oct {
		l.addField(out, size, f.cell[2*o], f.cell[2*o+1], f.amp[o]*f.norm)
	}
	return out
}

// addField adds amp * at(x*sx, y*sy) to out for every pixel of an n x n grid.
func (l *lattice) addField(out []float32, n int, sx, sy, amp float32) {
	ix0, ix1 := make([]int, n), make([]int, n)
	tx := make([]float32, n)
	for x := range n {
		ix0[x], ix1[x], tx[x] = l.cellOf(float32(x)*sx, l.gw)
	}
	a := make([]float32, n)
	for y := range n {
		j0, j1, ty := l.cellOf(float32(y)*sy, l.gh)
		r0, r1 := l.v[j0*l.gw:(j0+1)*l.gw], l.v[j1*l.gw:(j1+1)*l.gw]
		for x := range n {
			i0, i1, t := ix0[x], ix1[x], tx[x]
			p := r0[i0] + (r0[i1]-r0[i0])*t
			q := r1[i0] + (r1[i1]-r1[i0])*t
			a[x] = p + (q-p)*ty
		}
		row := out[y*n : (y+1)*n]
		for x := range row {
			row[x] += amp * a[x]
		}
	}
}

// cellOf returns the two lattice indices around c (wrapping at g) and the faded fraction.
func (l *lattice) cellOf(c float32, g int) (int, int, float32) {
	f := float32(math.Floor(float64(c)))
	i := int(f) % g
	if i < 0 {
		i += g
	}
	j := i + 1
	if j == g {
		j = 0
	}
	return i, j, smooth(c - f)
}

// PerlinNoise fills an h x w field with 2-D gradient noise (Perlin, "An image synthesizer",
// SIGGRAPH 1985; quintic fade from "Improving noise", 2002) with resY x resX lattice periods over the
// image, rotated by angle radians about the centre. As in DRAEM's reference, every lattice corner has
// its own random gradient (no tiling), and the lattice extends past the image so rotated coordinates
// stay defined. Values lie in about [-1, 1]; DRAEM thresholds this field at 0.5.
func PerlinNoise(r *rand.Rand, h, w, resY, resX int, angle float64) []float32 {
	resY, resX = max(resY, 1), max(resX, 1)
	// Rotated coordinates stay within res/2*(1±sqrt2) cells: a margin of res+1 cells on each side is enough.
	ny, nx := 3*resY+3, 3*resX+3
	gx := make([]float32, ny*nx)
	gy := make([]float32, ny*nx)
	for i := range gx {
		a := r.Float64() * 2 * math.Pi
		gx[i], gy[i] = float32(math.Cos(a)), float32(math.Sin(a))
	}
	out := make([]float32, h*w)
	ca, sa := float32(math.Cos(angle)), float32(math.Sin(angle))
	cy, cx := float32(h)/2, float32(w)/2
	sy, sx := float32(resY)/float32(h), float32(resX)/float32(w)
	for y := range h {
		for x := range w {
			dx, dy := float32(x)+0.5-cx, float32(y)+0.5-cy
			u := (ca*dx-sa*dy+cx)*sx + float32(resX+1) // shift into the lattice's margin
			v := (sa*dx+ca*dy+cy)*sy + float32(resY+1)
			i0, j0 := min(max(int(u), 0), nx-2), min(max(int(v), 0), ny-2)
			tu, tv := u-float32(i0), v-float32(j0)
			k := j0*nx + i0
			n00 := gx[k]*tu + gy[k]*tv
			n10 := gx[k+1]*(tu-1) + gy[k+1]*tv
			n01 := gx[k+nx]*tu + gy[k+nx]*(tv-1)
			n11 := gx[k+nx+1]*(tu-1) + gy[k+nx+1]*(tv-1)
			su, sv := smooth(tu), smooth(tv)
			a := n00 + (n10-n00)*su
			b := n01 + (n11-n01)*su
			out[y*w+x] = (a + (b-a)*sv) * math.Sqrt2
		}
	}
	return out
}

func clamp01(v float32) float32 {
	if v < 0 {
		return 0
	}
	if v > 1 {
		return 1
	}
	return v
}

func lerp(a, b, t float32) float32 { return a + (b-a)*t }

// gauss returns a standard normal float32.
func gauss(r *rand.Rand) float32 { return float32(r.NormFloat64()) }
