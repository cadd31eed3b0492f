package metrics

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gonomaly/gonomaly/datasets"
)

// randomPixels makes n maps of h x w with rectangular defects in about half of them; scores are
// quantised to levels distinct values in [base, base+span) when levels > 0.
func randomPixels(seed uint64, n, h, w, levels int, base, span float64) (maps, masks []datasets.Image) {
	rng := rand.New(rand.NewPCG(seed, 7))
	for i := 0; i < n; i++ {
		m, mk := datasets.NewImage(h, w, 1), datasets.NewImage(h, w, 1)
		if i%2 == 1 {
			for k := 0; k < 1+rng.IntN(3); k++ {
				y0, x0 := rng.IntN(h), rng.IntN(w)
				for y := y0; y < min(h, y0+1+rng.IntN(h/3+1)); y++ {
					for x := x0; x < min(w, x0+1+rng.IntN(w/3+1)); x++ {
						mk.Set(y, x, 0, 1)
					}
				}
			}
		}
		for j := range m.Pix {
			u := rng.Float64()*0.8 + 0.35*float64(mk.Pix[j])
			if levels > 0 {
				u = math.Floor(u/1.15*float64(levels)) / float64(levels)
			}
			m.Pix[j] = float32(base + span*u)
		}
		maps, masks = append(maps, m), append(masks, mk)
	}
	return maps, masks
}

// naivePixel computes AUROC (Mann-Whitney with ties) and AUPRO by brute force over distinct thresholds,
// independently of the sweep.
func naivePixel(maps, masks []datasets.Image, limit float64) (auroc, aupro float64) {
	type px struct {
		s   float32
		pos bool
		reg int
	}
	var all []px
	var sizes []int
	for i := range maps {
		lab, sz, err := Regions(masks[i])
		if err != nil {
			panic(err)
		}
		for j, v := range maps[i].Pix {
			r := -1
			if lab[j] > 0 {
				r = len(sizes) + int(lab[j]) - 1
			}
			all = append(all, px{v, masks[i].Pix[j] == 1, r})
		}
		sizes = append(sizes, sz...)
	}
	// Mann-Whitney: count pairs.
	levels := map[float32][2]float64{}
	var P, N float64
	for _, p := range all {
		c := levels[p.s]
		if p.pos {
			c[1]++
			P++
		} else {
			c[0]++
			N++
		}
		levels[p.s] = c
	}
	var thr []float32
	for s := range levels {
		thr = append(thr, s)
	}
	// sort descending
	for i := range thr {
		for j := i + 1; j < len(thr); j++ {
			if thr[j] > thr[i] {
				thr[i], thr[j] = thr[j], thr[i]
			}
		}
	}
	var negAbove, u float64
	for _, s := range thr {
		c := levels[s]
		u += c[1]*(N-negAbove-c[0]) + 0.5*c[1]*c[0]
		negAbove += c[0]
	}
	auroc = u / (P * N)
	// PRO by brute force at every threshold.
	xs, ys := []float64{0}, []float64{0}
	for _, t := range thr {
		var fp float64
		cov := make([]float64, len(sizes))
		for _, p := range all {
			if p.s >= t {
				if p.pos {
					cov[p.reg]++
				} else {
					fp++
				}
			}
		}
		var pro float64
		for r, c := range cov {
			pro += c / float64(sizes[r])
		}
		xs, ys = append(xs, fp/N), append(ys, pro/float64(len(sizes)))
	}
	xs, ys = append(xs, 1), append(ys, 1)
	for k := 1; k < len(xs); k++ {
		if xs[k] <= limit {
			aupro += 0.5 * (ys[k] + ys[k-1]) * (xs[k] - xs[k-1])
			continue
		}
		if xs[k-1] < limit {
			yi := ys[k-1] + (ys[k]-ys[k-1])*(limit-xs[k-1])/(xs[k]-xs[k-1])
			aupro += 0.5 * (yi + ys[k-1]) * (limit - xs[k-1])
		}
		break
	}
	return auroc, aupro / limit
}

func TestPixelAgainstBruteForce(t *testing.T) {
	cases := []struct {
		name         string
		n, h, w, lev int
		base, span   float64
		opts         []PixelOption
	}{
		// All scores share one 16-bit key bucket bigger than denseBucket: dense counting path.
		{"dense-bucket", 12, 64, 64, 40, 0.5, 0.003, nil},
		// The same bucket larger than the scatter window: counted in place by every worker.
		{"bucket-over-window", 12, 64, 64, 40, 0.5, 0.003, []PixelOption{withWindow(1000), WithWorkers(2)}},
		{"bucket-over-window-continuous", 4, 16, 16, 0, 0.5, 0.003, []PixelOption{withWindow(1000), WithWorkers(3)}},
		// Many buckets, small windows: many scatter passes, sorted buckets, negative scores.
		{"many-windows", 9, 20, 30, 60, -3, 7, []PixelOption{withWindow(2000), WithWorkers(2)}},
		{"bucket-per-window", 9, 20, 30, 60, -3, 7, []PixelOption{withWindow(50), WithWorkers(2)}},
		{"one-worker", 5, 17, 13, 25, 0, 1, []PixelOption{WithWorkers(1)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			maps, masks := randomPixels(uint64(c.n*c.h), c.n, c.h, c.w, c.lev, c.base, c.span)
			r, err := Pixel(maps, masks, c.opts...)
			if err != nil {
				t.Fatal(err)
			}
			wa, wp := naivePixel(maps, masks, 0.3)
			if !near(r.AUROC, wa) || !near(r.AUPRO, wp) {
				t.Errorf("AUROC, AUPRO = %v, %v; brute force %v, %v", r.AUROC, r.AUPRO, wa, wp)
			}
			if r.Pixels != int64(c.n*c.h*c.w) || r.AnomalousPixels == 0 || r.Regions == 0 {
				t.Errorf("counts: %d pixels, %d anomalous, %d regions", r.Pixels, r.AnomalousPixels, r.Regions)
			}
		})
	}
}

func TestBinnedWithinBound(t *testing.T) {
	maps, masks := randomPixels(3, 20, 32, 32, 0, 0, 1)
	ex, err := Pixel(maps, masks)
	if err != nil {
		t.Fatal(err)
	}
	if ex.AUROCBound != 0 || ex.APBound != 0 || ex.AUPROBound != 0 || ex.Bins != 0 {
		t.Errorf("exact mode reports bounds %v %v %v bins %d", ex.AUROCBound, ex.APBound, ex.AUPROBound, ex.Bins)
	}
	prev := math.Inf(1)
	for _, bins := range []int{4, 16, 256, 4096} {
		b, err := Pixel(maps, masks, WithBins(bins))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []struct {
			name             string
			got, want, bound float64
		}{{"AUROC", b.AUROC, ex.AUROC, b.AUROCBound}, {"AP", b.AP, ex.AP, b.APBound}, {"AUPRO", b.AUPRO, ex.AUPRO, b.AUPROBound}} {
			if math.Abs(m.got-m.want) > m.bound+1e-12 {
				t.Errorf("%d bins: %s %v differs from exact %v by more than its bound %v", bins, m.name, m.got, m.want, m.bound)
			}
		}
		if b.AUROCBound >= prev {
			t.Errorf("%d bins: AUROC bound %v did not shrink (was %v)", bins, b.AUROCBound, prev)
		}
		prev = b.AUROCBound
	}
	if prev > 1e-3 {
		t.Errorf("4096-bin AUROC bound %v is too loose", prev)
	}
	// The golden cases too (ties and tiny regions).
	for _, c := range loadGolden(t).Pixel {
		b, err := Pixel(toImages(c.Maps), toImages(c.Masks), WithBins(64))
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(b.AUROC-c.AUROC) > b.AUROCBound+1e-12 || math.Abs(b.AP-c.AP) > b.APBound+1e-12 ||
			math.Abs(b.AUPRO-c.AUPRO["0.3"]) > b.AUPROBound+1e-12 {
			t.Errorf("%s: binned %v/%v/%v vs golden %v/%v/%v beyond bounds %v/%v/%v", c.Name,
				b.AUROC, b.AP, b.AUPRO, c.AUROC, c.AP, c.AUPRO["0.3"], b.AUROCBound, b.APBound, b.AUPROBound)
		}
	}
}

func TestPixelTiesAndOrder(t *testing.T) {
	// -0 and +0 are one tie group; reordering images does not change anything.
	m1 := datasets.Image{H: 1, W: 4, C: 1, Pix: []float32{float32(math.Copysign(0, -1)), 0, 1, 0.5}}
	k1 := datasets.Image{H: 1, W: 4, C: 1, Pix: []float32{1, 0, 1, 0}}
	m2 := datasets.Image{H: 2, W: 2, C: 1, Pix: []float32{0, 0.5, 0.5, 1}}
	k2 := datasets.Image{H: 2, W: 2, C: 1, Pix: []float32{0, 1, 0, 0}}
	a, err := Pixel([]datasets.Image{m1, m2}, []datasets.Image{k1, k2}, WithCurvePoints(-1))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Pixel([]datasets.Image{m2, m1}, []datasets.Image{k2, k1}, WithCurvePoints(-1))
	if err != nil {
		t.Fatal(err)
	}
	if a.AUROC != b.AUROC || a.AUPRO != b.AUPRO || a.AP != b.AP {
		t.Errorf("order changed results: %+v vs %+v", a, b)
	}
	// Scores 1 (pos, pos?, neg), 0.5 (neg, pos, neg), 0 (pos, neg, neg, neg): 3 distinct thresholds.
	if n := len(a.ROC.X); n != 4 {
		t.Errorf("ROC has %d points, want 4 (start + 3 tie groups): %v", n, a.ROC)
	}
	wa, _ := naivePixel([]datasets.Image{m1, m2}, []datasets.Image{k1, k2}, 0.3)
	if !near(a.AUROC, wa) {
		t.Errorf("AUROC %v, want %v", a.AUROC, wa)
	}
}

func TestCurveThinning(t *testing.T) {
	maps, masks := randomPixels(5, 10, 40, 40, 0, 0, 1)
	full, err := Pixel(maps, masks, WithCurvePoints(-1))
	if err != nil {
		t.Fatal(err)
	}
	thin, err := Pixel(maps, masks, WithCurvePoints(50))
	if err != nil {
		t.Fatal(err)
	}
	if full.AUROC != thin.AUROC || full.AUPRO != thin.AUPRO {
		t.Error("thinning changed metrics")
	}
	for name, c := range map[string]Curve{"ROC": thin.ROC, "PR": thin.PR, "PRO": thin.PRO} {
		if c.Len() > 53 || c.Len() < 10 || len(c.Thresholds) != c.Len() {
			t.Errorf("%s thinned to %d points (%d thresholds), want 10..53", name, c.Len(), len(c.Thresholds))
		}
	}
	if full.PRO.Len() < 1000 {
		t.Errorf("full PRO curve has only %d points", full.PRO.Len())
	}
	last := thin.PRO.Len() - 1
	if thin.PRO.X[last] != 1 || thin.PRO.Y[last] != 1 || thin.PRO.X[0] != 0 {
		t.Errorf("PRO curve does not run from 0 to (1, 1): %v..(%v, %v)", thin.PRO.X[0], thin.PRO.X[last], thin.PRO.Y[last])
	}
	// PRO(limit) ends exactly at the limit.
	c, err := PRO(maps, masks, 0.3, WithCurvePoints(-1))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.X[c.Len()-1]; got != 0.3 {
		t.Errorf("PRO(0.3) ends at FPR %v", got)
	}
}

func TestRegions8Connected(t *testing.T) {
	mask := []float32{
		1, 0, 0, 1,
		0, 1, 0, 1,
		0, 0, 0, 0,
		1, 1, 0, 1,
	}
	lab, sizes, err := Regions(datasets.Image{H: 4, W: 4, C: 1, Pix: mask})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(sizes); n != 4 || sizes[0] != 2 || sizes[1] != 2 || sizes[2] != 2 || sizes[3] != 1 {
		t.Errorf("Regions = %v, want [2 2 2 1]; labels %v", sizes, lab)
	}
	if lab[0] != lab[5] || lab[0] == lab[3] {
		t.Errorf("diagonal neighbours must join, separate blobs must not: %v", lab)
	}
	if _, _, err := Regions(datasets.Image{H: 2, W: 2, C: 1, Pix: mask}); err == nil {
		t.Error("Regions accepted a mask whose size does not match its pixels")
	}
}

func TestPixelBadInput(t *testing.T) {
	ok := datasets.Image{H: 2, W: 2, C: 1, Pix: []float32{0.1, 0.2, 0.3, 0.4}}
	okMask := datasets.Image{H: 2, W: 2, C: 1, Pix: []float32{0, 1, 0, 0}}
	img := func(h, w, c int, pix ...float32) datasets.Image { return datasets.Image{H: h, W: w, C: c, Pix: pix} }
	cases := []struct {
		name        string
		maps, masks []datasets.Image
		want        string
	}{
		{"empty", nil, nil, "no anomaly maps"},
		{"count", []datasets.Image{ok}, nil, "1 anomaly maps but 0 masks"},
		{"size", []datasets.Image{ok}, []datasets.Image{img(1, 4, 1, 0, 1, 0, 0)}, "anomaly map 0 is 2x2 (W x H) but its mask is 4x1"},
		{"nan", []datasets.Image{img(2, 2, 1, 0, float32(math.NaN()), 0, 0)}, []datasets.Image{okMask}, "anomaly map 0 has NaN at (y=0, x=1)"},
		{"inf", []datasets.Image{ok, img(2, 2, 1, 0, 0, 0, float32(math.Inf(-1)))}, []datasets.Image{okMask, okMask}, "anomaly map 1 has -Inf at (y=1, x=1)"},
		{"mask-value", []datasets.Image{ok}, []datasets.Image{img(2, 2, 1, 0, 255, 0, 0)}, "mask 0 has value 255 at (y=0, x=1)"},
		{"channels", []datasets.Image{img(1, 2, 2, 0, 0, 0, 0)}, []datasets.Image{okMask}, "anomaly map 0 has 2 channels"},
		{"short", []datasets.Image{img(2, 2, 1, 0, 0)}, []datasets.Image{okMask}, "has 2 values, want 4"},
		{"no-positives", []datasets.Image{ok}, []datasets.Image{{}}, "none of the 4 mask pixels is anomalous"},
		{"no-negatives", []datasets.Image{ok}, []datasets.Image{img(2, 2, 1, 1, 1, 1, 1)}, "all 4 mask pixels are anomalous"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, mode := range [][]PixelOption{nil, {WithBins(16)}} {
				_, err := Pixel(c.maps, c.masks, mode...)
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Errorf("err = %v, want it to contain %q", err, c.want)
				}
			}
		})
	}
	if _, err := Pixel([]datasets.Image{ok}, []datasets.Image{{}}); !errors.Is(err, ErrOneClass) {
		t.Errorf("one-class error does not wrap ErrOneClass: %v", err)
	}
	for _, lim := range []float64{0, -1, 1.5, math.NaN()} {
		if _, err := AUPRO([]datasets.Image{ok}, []datasets.Image{okMask}, lim); err == nil {
			t.Errorf("AUPRO accepted FPR limit %v", lim)
		}
	}
}
