package synth

import (
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/gonomaly/gonomaly/datasets"
)

func TestCategoriesAndDefects(t *testing.T) {
	if n := len(Textures()); n < 5 {
		t.Errorf("Textures() has %d categories, want >= 5", n)
	}
	if n := len(Objects()); n < 3 {
		t.Errorf("Objects() has %d categories, want >= 3", n)
	}
	if got, want := len(Categories()), len(Textures())+len(Objects()); got != want {
		t.Errorf("Categories() has %d entries, want %d", got, want)
	}
	seen := map[string]bool{}
	for _, c := range Categories() {
		d, err := Defects(c)
		if err != nil || len(d) < 5 {
			t.Errorf("Defects(%q) = %v, %v; want >= 5 types", c, d, err)
		}
		for _, k := range d {
			seen[k] = true
		}
	}
	for _, k := range []string{Scratch, Crack, Hole, Stain, Contamination, Missing, Bent, Misplaced} {
		if !seen[k] {
			t.Errorf("no category has defect type %q", k)
		}
	}
	if _, err := Defects("bottle"); err == nil {
		t.Error("Defects(unknown) returned no error")
	}
}

func TestOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cat  string
		o    Options
	}{
		{"unknown category", "bottle", Options{}},
		{"tiny size", "carpet", Options{Size: 8}},
		{"two channels", "carpet", Options{Channels: 2}},
		{"difficulty above 1", "carpet", Options{Difficulty: 1.5}},
		{"negative difficulty", "carpet", Options{Difficulty: -0.1}},
		{"NaN difficulty", "carpet", Options{Difficulty: math.NaN()}},
		{"negative count", "carpet", Options{Train: -1}},
		{"val fraction 1", "carpet", Options{ValFraction: 1}},
		{"val takes all", "carpet", Options{Train: 1, ValFraction: 0.9}},
	} {
		if _, err := New(tc.cat, tc.o); err == nil {
			t.Errorf("%s: New(%q, %+v) returned no error", tc.name, tc.cat, tc.o)
		}
	}
	src, _ := NewSource("carpet", Options{Size: 32})
	if _, err := src.Load(datasets.Item{ID: "test/missing/000.png", Defect: Missing, Label: datasets.Anomalous}); err == nil {
		t.Error("a texture accepted the object-only defect type missing")
	}
	if _, err := src.Load(datasets.Item{ID: "test/good/000.png", Defect: datasets.GoodDefect, Label: datasets.Anomalous}); err == nil {
		t.Error("Load accepted a good item labelled anomalous")
	}
}

func TestSplits(t *testing.T) {
	ds, err := New("nut", Options{Size: 32, ValFraction: 0.25})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Benchmark != Benchmark || ds.Category != "nut" {
		t.Errorf("dataset is %s/%s", ds.Benchmark, ds.Category)
	}
	defects, _ := Defects("nut")
	if ds.Train.Len() != 45 || ds.Val.Len() != 15 || ds.Test.Len() != 20+8*len(defects) {
		t.Errorf("split sizes train %d val %d test %d, want 45 15 %d", ds.Train.Len(), ds.Val.Len(), ds.Test.Len(), 20+8*len(defects))
	}
	ids := map[string]bool{}
	for _, sp := range []*datasets.Split{ds.Train, ds.Val, ds.Test} {
		for _, it := range sp.Items {
			if ids[it.ID] {
				t.Errorf("duplicate item ID %s", it.ID)
			}
			ids[it.ID] = true
			if (it.Label == datasets.Normal) != (it.Defect == datasets.GoodDefect) {
				t.Errorf("%s: label %d with defect %q", it.ID, it.Label, it.Defect)
			}
		}
	}
	for _, it := range ds.Train.Items {
		if it.Label != datasets.Normal {
			t.Errorf("train item %s is anomalous", it.ID)
		}
	}
	ds, err = New("pill", Options{Size: 32, Train: 5, TestNormal: 3, TestPerDefect: 2})
	if err != nil {
		t.Fatal(err)
	}
	defects, _ = Defects("pill")
	if ds.Train.Len() != 5 || ds.Val.Len() != 0 || ds.Test.Len() != 3+2*len(defects) {
		t.Errorf("overridden counts: train %d val %d test %d", ds.Train.Len(), ds.Val.Len(), ds.Test.Len())
	}
}

func equalImages(a, b datasets.Image) bool {
	return a.H == b.H && a.W == b.W && a.C == b.C && slices.Equal(a.Pix, b.Pix)
}

func TestDeterminism(t *testing.T) {
	for _, c := range Categories() {
		defects, _ := Defects(c)
		item := func(s *Source) datasets.Item { return s.Item("test", defects[len(defects)-1], 3) }
		a, _ := NewSource(c, Options{Size: 48, Seed: 7})
		b, _ := NewSource(c, Options{Size: 48, Seed: 7})
		d, _ := NewSource(c, Options{Size: 48, Seed: 8})
		// Load other items first on b: random access must not depend on history.
		for i := range 3 {
			if _, err := b.Load(b.Item("train", datasets.GoodDefect, i)); err != nil {
				t.Fatal(err)
			}
		}
		sa, err := a.Load(item(a))
		if err != nil {
			t.Fatal(err)
		}
		sb, _ := b.Load(item(b))
		sd, _ := d.Load(item(d))
		if !equalImages(sa.Image, sb.Image) || !equalImages(sa.Mask, sb.Mask) {
			t.Errorf("%s: same seed and item gave different pixels", c)
		}
		if equalImages(sa.Image, sd.Image) {
			t.Errorf("%s: seeds 7 and 8 gave identical pixels", c)
		}
		s0, _ := a.Load(a.Item("train", datasets.GoodDefect, 0))
		s1, _ := a.Load(a.Item("train", datasets.GoodDefect, 1))
		if equalImages(s0.Image, s1.Image) {
			t.Errorf("%s: train images 0 and 1 are identical", c)
		}
	}
}

// clean renders the defect-free version of an item: normal variation is drawn before the defect, so
// it is the same picture without the defect.
func clean(t *testing.T, s *Source, it datasets.Item) datasets.Image {
	t.Helper()
	r := NewRand(s.opts.Seed, s.cat.name+"/"+it.ID)
	img, _, err := render(s.cat, s.opts.Size, s.opts.Channels, s.opts.Difficulty, datasets.GoodDefect, r)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestMasksExact checks, for every category, defect type and two difficulties, that the mask is
// exactly the set of pixels that differ from the clean render, and that difficulty shrinks defects.
func TestMasksExact(t *testing.T) {
	const n, per = 96, 4
	for ci, c := range Categories() {
		ch := 3
		if ci%3 == 2 {
			ch = 1 // grey renders must keep exact masks too
		}
		defects, _ := Defects(c)
		for _, kind := range defects {
			var areas [2]float64
			for di, diff := range []float64{0, 1} {
				src, _ := NewSource(c, Options{Size: n, Channels: ch, Seed: 3, Difficulty: diff})
				for i := range per {
					it := src.Item("test", kind, i)
					s, err := src.Load(it)
					if err != nil {
						t.Fatalf("%s/%s: %v", c, it.ID, err)
					}
					if s.Label != datasets.Anomalous || s.Defect != kind {
						t.Errorf("%s/%s: label %d defect %q", c, it.ID, s.Label, s.Defect)
					}
					ref := clean(t, src, it)
					area, bad := 0, 0
					for p := range n * n {
						d := float32(0)
						for k := range ch {
							d = max(d, abs32(s.Image.Pix[ch*p+k]-ref.Pix[ch*p+k]))
						}
						switch m := s.Mask.Pix[p]; {
						case m == 1:
							area++
							if d < MinDefectDelta*0.999 {
								bad++
							}
						case m == 0:
							if d != 0 {
								bad++
							}
						default:
							t.Fatalf("%s/%s: mask value %v", c, it.ID, m)
						}
					}
					if bad > 0 {
						t.Errorf("%s/%s (difficulty %v): %d pixels where mask and change disagree", c, it.ID, diff, bad)
					}
					frac := float64(area) / float64(n*n)
					if area < 2 || frac > 0.4 {
						t.Errorf("%s/%s (difficulty %v): mask area %d (%.3f of the image)", c, it.ID, diff, area, frac)
					}
					areas[di] += frac
				}
			}
			if areas[1] >= areas[0] {
				t.Errorf("%s/%s: mean mask area %.4f at difficulty 1 is not below %.4f at difficulty 0", c, kind, areas[1]/per, areas[0]/per)
			}
		}
	}
}

// auroc is the probability that a random positive scores above a random negative (ties count half).
func auroc(neg, pos []float64) float64 {
	var s float64
	for _, p := range pos {
		for _, q := range neg {
			switch {
			case p > q:
				s++
			case p == q:
				s += 0.5
			}
		}
	}
	return s / float64(len(pos)*len(neg))
}

func meanAbsDiff(a, b datasets.Image) float64 {
	var s float64
	for i := range a.Pix {
		s += math.Abs(float64(a.Pix[i] - b.Pix[i]))
	}
	return s / float64(len(a.Pix))
}

// TestNotTrivial guards the benchmark against shortcuts: the mean brightness of an image must not
// separate normal from defective images, and normal images must vary far more than a template would.
func TestNotTrivial(t *testing.T) {
	for _, c := range Categories() {
		ds, err := New(c, Options{Size: 64, Seed: 11, Train: 10})
		if err != nil {
			t.Fatal(err)
		}
		train, err := LoadAll(ds.Train)
		if err != nil {
			t.Fatal(err)
		}
		test, err := LoadAll(ds.Test)
		if err != nil {
			t.Fatal(err)
		}
		var neg, pos, negNN, posNN []float64
		for _, s := range test {
			var m float64
			for _, v := range s.Image.Pix {
				m += float64(v)
			}
			nn := math.Inf(1)
			for _, tr := range train {
				nn = min(nn, meanAbsDiff(s.Image, tr.Image))
			}
			if s.Label == datasets.Normal {
				neg, negNN = append(neg, m), append(negNN, nn)
			} else {
				pos, posNN = append(pos, m), append(posNN, nn)
			}
		}
		a := auroc(neg, pos)
		if math.Abs(a-0.5) > 0.25 {
			t.Errorf("%s: mean brightness separates defects with AUROC %.3f", c, a)
		}
		sort.Float64s(negNN)
		if negNN[0] < 0.02 {
			t.Errorf("%s: a normal test image is within %.4f mean abs difference of a train image", c, negNN[0])
		}
		t.Logf("%s: brightness AUROC %.3f, nearest-train-image AUROC %.3f, normal NN distance %.3f..%.3f", c, a, auroc(negNN, posNN), negNN[0], negNN[len(negNN)-1])
	}
}

func TestWriteMVTecRoundTrip(t *testing.T) {
	root := t.TempDir()
	ds, err := New("screw", Options{Size: 40, Seed: 5, Train: 3, TestNormal: 2, TestPerDefect: 1, ValFraction: 0.34})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteMVTec(root, ds); err != nil {
		t.Fatal(err)
	}
	readPNG := func(p string) image.Image {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		g, err := png.Decode(f)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		return g
	}
	q := func(v float32) uint32 { return uint32(math.Round(float64(v) * 255)) }
	check := func(sp *datasets.Split, folder func(datasets.Item) string) {
		for i, it := range sp.Items {
			s, err := sp.Sample(i)
			if err != nil {
				t.Fatal(err)
			}
			stem := it.ID[len(it.ID)-7 : len(it.ID)-4]
			g := readPNG(filepath.Join(root, "screw", folder(it), stem+".png"))
			for y := range s.Image.H {
				for x := range s.Image.W {
					r, gg, b, _ := g.At(x, y).RGBA()
					if r>>8 != q(s.Image.At(y, x, 0)) || gg>>8 != q(s.Image.At(y, x, 1)) || b>>8 != q(s.Image.At(y, x, 2)) {
						t.Fatalf("%s: pixel (%d,%d) differs after PNG round trip", it.ID, y, x)
					}
				}
			}
			mp := filepath.Join(root, "screw", "ground_truth", it.Defect, stem+"_mask.png")
			if it.Label == datasets.Normal {
				if _, err := os.Stat(mp); err == nil {
					t.Errorf("%s: a normal image has a mask file", it.ID)
				}
				continue
			}
			m := readPNG(mp)
			for y := range s.Mask.H {
				for x := range s.Mask.W {
					v, _, _, _ := m.At(x, y).RGBA()
					if (v>>8 == 255) != (s.Mask.At(y, x, 0) == 1) || (v>>8 != 0 && v>>8 != 255) {
						t.Fatalf("%s: mask pixel (%d,%d) is %d", it.ID, y, x, v>>8)
					}
				}
			}
		}
	}
	train := func(datasets.Item) string { return "train/good" }
	check(ds.Train, train)
	check(ds.Val, train)
	check(ds.Test, func(it datasets.Item) string { return "test/" + it.Defect })
	// The loaders read back what the benchmark wrote.
	back, err := datasets.LoadMVTec(root, "screw", datasets.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if back.Train.Len() != 3 || back.Test.Len() != ds.Test.Len() {
		t.Fatalf("LoadMVTec found train %d test %d, want 3 %d", back.Train.Len(), back.Test.Len(), ds.Test.Len())
	}
	want := map[string]datasets.Sample{}
	for i := range ds.Test.Items {
		s, _ := ds.Test.Sample(i)
		want["test/"+s.Defect+"/"+s.ID[len(s.ID)-7:]] = s
	}
	for i := range back.Test.Items {
		s, err := back.Test.Sample(i)
		if err != nil {
			t.Fatal(err)
		}
		var w datasets.Sample
		for k, v := range want {
			if filepath.ToSlash(s.ImagePath)[len(filepath.ToSlash(s.ImagePath))-len(k):] == k {
				w = v
			}
		}
		if w.ID == "" {
			t.Fatalf("LoadMVTec item %s matches no written item", s.ImagePath)
		}
		if s.Label != w.Label || s.Defect != w.Defect {
			t.Errorf("%s: loaded label %d defect %q, wrote %d %q", s.ImagePath, s.Label, s.Defect, w.Label, w.Defect)
		}
		if !equalImages(s.Mask, w.Mask) {
			t.Errorf("%s: loaded mask differs", s.ImagePath)
		}
		for k := range s.Image.Pix {
			if math.Abs(float64(s.Image.Pix[k]-w.Image.Pix[k])) > 0.5/255+1e-6 {
				t.Fatalf("%s: loaded pixel %d is %v, wrote %v", s.ImagePath, k, s.Image.Pix[k], w.Image.Pix[k])
			}
		}
	}
}

func TestTexture(t *testing.T) {
	for _, c := range Textures() {
		a, err := Texture(c, 40, 1)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := Texture(c, 40, 1)
		d, _ := Texture(c, 40, 2)
		if !equalImages(a, b) || equalImages(a, d) || a.H != 40 || a.C != 3 {
			t.Errorf("%s: Texture is not a deterministic, seed-dependent 40x40 RGB image", c)
		}
		for _, v := range a.Pix {
			if v < 0 || v > 1 {
				t.Fatalf("%s: texture value %v outside [0, 1]", c, v)
			}
		}
	}
	if _, err := Texture("nut", 40, 1); err == nil {
		t.Error("Texture accepted an object category")
	}
}

// BenchmarkGenerate measures rendering one 256x256 sample (a normal or a defective test image) per
// category, on one core.
func BenchmarkGenerate(b *testing.B) {
	for _, c := range Categories() {
		b.Run(c, func(b *testing.B) {
			src, _ := NewSource(c, Options{Seed: 1})
			defects, _ := Defects(c)
			kinds := append([]string{datasets.GoodDefect}, defects...)
			start, cpu0 := time.Now(), cpuTime()
			i := 0
			for b.Loop() {
				if _, err := src.Load(src.Item("test", kinds[i%len(kinds)], i)); err != nil {
					b.Fatal(err)
				}
				i++
			}
			el := time.Since(start).Seconds()
			b.ReportMetric(float64(i)/el, "samples/s")
			b.ReportMetric(el*1000/float64(i), "ms/sample")
			// CPU time is what a shared, busy machine still measures fairly.
			b.ReportMetric((cpuTime()-cpu0).Seconds()*1000/float64(i), "cpu-ms/sample")
		})
	}
}

// cpuTime returns the user+system CPU time of the process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLoadAll measures generating a whole default test split (256x256) on all cores.
func BenchmarkLoadAll(b *testing.B) {
	ds, _ := New("carpet", Options{Seed: 1})
	start, cpu0 := time.Now(), cpuTime()
	n := 0
	for b.Loop() {
		if _, err := LoadAll(ds.Test); err != nil {
			b.Fatal(err)
		}
		n += ds.Test.Len()
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "samples/s")
	b.ReportMetric((cpuTime()-cpu0).Seconds()*1000/float64(n), "cpu-ms/sample")
}

func TestSmallestSize(t *testing.T) {
	for _, c := range Categories() {
		src, err := NewSource(c, Options{Size: 32, Seed: 9, Difficulty: 1})
		if err != nil {
			t.Fatal(err)
		}
		defects, _ := Defects(c)
		for _, d := range defects {
			for i := range 5 {
				s, err := src.Load(src.Item("test", d, i))
				if err != nil {
					t.Fatalf("%s: %v", c, err)
				}
				if s.Image.H != 32 || s.Mask.W != 32 {
					t.Fatalf("%s/%s: size %dx%d", c, s.ID, s.Image.H, s.Image.W)
				}
			}
		}
	}
}

func TestLoadAllMatchesSample(t *testing.T) {
	ds, err := New("leather", Options{Size: 40, Train: 5, TestNormal: 2, TestPerDefect: 1})
	if err != nil {
		t.Fatal(err)
	}
	all, err := LoadAll(ds.Test)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range all {
		one, _ := ds.Test.Sample(i)
		if s.ID != one.ID || !equalImages(s.Image, one.Image) || !equalImages(s.Mask, one.Mask) {
			t.Errorf("LoadAll item %d (%s) differs from Sample(%d)", i, s.ID, i)
		}
	}
	if err := WriteMVTec(t.TempDir(), &datasets.Dataset{Category: "x"}); err == nil {
		t.Error("WriteMVTec accepted a dataset without splits")
	}
	ds.Category = "../escape"
	if err := WriteMVTec(t.TempDir(), ds); err == nil {
		t.Error("WriteMVTec accepted a category with a path separator")
	}
}

// TestMaskAreaScalesWithSize checks that surface defects are sized relative to the image: at 128 and
// 256 pixels they cover similar fractions of the image on average (thin lines keep a minimum width of
// about 1.5 pixels, so small images see somewhat larger fractions).
func TestMaskAreaScalesWithSize(t *testing.T) {
	for _, c := range []string{"carpet", "leather", "nut", "pill"} {
		defects, _ := Defects(c)
		var frac [2]float64
		for si, n := range []int{128, 256} {
			src, _ := NewSource(c, Options{Size: n, Seed: 2})
			for _, d := range defects {
				if isGeometric(d) {
					continue
				}
				for i := range 8 {
					s, err := src.Load(src.Item("test", d, i))
					if err != nil {
						t.Fatal(err)
					}
					a := 0
					for _, v := range s.Mask.Pix {
						if v == 1 {
							a++
						}
					}
					frac[si] += float64(a) / float64(n*n)
				}
			}
		}
		r := frac[0] / frac[1]
		t.Logf("%s: area fraction ratio 128/256 px: %.2f", c, r)
		if r < 0.5 || r > 2 {
			t.Errorf("%s: mask area fraction at 128 px is %.2fx that at 256 px", c, r)
		}
	}
}

func TestWriteMVTecGrey(t *testing.T) {
	root := t.TempDir()
	ds, err := New("screw", Options{Size: 36, Channels: 1, Seed: 5, Train: 2, TestNormal: 1, TestPerDefect: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteMVTec(root, ds); err != nil {
		t.Fatal(err)
	}
	back, err := datasets.LoadMVTec(root, "screw", datasets.Options{Channels: 1})
	if err != nil {
		t.Fatal(err)
	}
	if back.Test.Len() != ds.Test.Len() {
		t.Fatalf("loaded %d test images, wrote %d", back.Test.Len(), ds.Test.Len())
	}
	byDefect := map[string]datasets.Sample{}
	for i := range ds.Test.Items {
		s, _ := ds.Test.Sample(i)
		byDefect[s.Defect] = s
	}
	for i := range back.Test.Items {
		s, err := back.Test.Sample(i)
		if err != nil {
			t.Fatal(err)
		}
		w := byDefect[s.Defect]
		if s.Image.C != 1 || !equalImages(s.Mask, w.Mask) {
			t.Fatalf("%s: grey image has %d channels or its mask differs", s.ImagePath, s.Image.C)
		}
		for k := range s.Image.Pix {
			if math.Abs(float64(s.Image.Pix[k]-w.Image.Pix[k])) > 0.5/255+1e-6 {
				t.Fatalf("%s: loaded grey pixel %d is %v, wrote %v", s.ImagePath, k, s.Image.Pix[k], w.Image.Pix[k])
			}
		}
	}
}

func TestSplitMasks(t *testing.T) {
	ds, err := New("screw", Options{Size: 32, Train: 1, TestNormal: 2, TestPerDefect: 1, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	masks, err := ds.Test.Masks()
	if err != nil {
		t.Fatal(err)
	}
	if len(masks) != ds.Test.Len() {
		t.Fatalf("%d masks for %d items", len(masks), ds.Test.Len())
	}
	for i, l := range ds.Test.Labels() {
		var area float32
		for _, v := range masks[i].Pix {
			area += v
		}
		if (l == datasets.Normal) != (area == 0) {
			t.Errorf("item %d (%v): mask area %v", i, l, area)
		}
	}
}
