package features

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/methods/backbone"
)

func TestAggregateMatchesTorch(t *testing.T) {
	raw, err := os.ReadFile("testdata/aggregate_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		A, B struct {
			Shape []int
			Data  []float32
		}
		Dim8, Dim4 []float32
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	mk := func(s []int, d []float32) Map { return Map{N: s[0], H: s[1], W: s[2], C: s[3], Data: d} }
	for _, tc := range []struct {
		dim  int
		want []float32
	}{{8, g.Dim8}, {4, g.Dim4}} {
		set, err := Aggregate([]Map{mk(g.A.Shape, g.A.Data), mk(g.B.Shape, g.B.Data)}, 3, tc.dim)
		if err != nil {
			t.Fatal(err)
		}
		if set.N != 2 || set.H != 6 || set.W != 5 || set.D != tc.dim {
			t.Fatalf("dim %d: got set %dx%dx%dx%d", tc.dim, set.N, set.H, set.W, set.D)
		}
		for i, w := range tc.want {
			if math.Abs(float64(set.Data[i]-w)) > 1e-5 {
				t.Fatalf("dim %d: value %d = %v, torch %v", tc.dim, i, set.Data[i], w)
			}
		}
	}
	// Asking for more dimensions than channels keeps the 11 concatenated channels.
	set, _ := Aggregate([]Map{mk(g.A.Shape, g.A.Data), mk(g.B.Shape, g.B.Data)}, 3, 1024)
	if set.D != 11 {
		t.Fatalf("D = %d, want 11 concatenated channels", set.D)
	}
}

func TestAggregateErrors(t *testing.T) {
	if _, err := Aggregate(nil, 3, 4); err == nil {
		t.Error("no taps accepted")
	}
	a := Map{N: 2, H: 2, W: 2, C: 1, Data: make([]float32, 8)}
	b := Map{N: 1, H: 1, W: 1, C: 1, Data: make([]float32, 1)}
	if _, err := Aggregate([]Map{a, b}, 3, 4); err == nil {
		t.Error("taps with different image counts accepted")
	}
	bad := Map{N: 2, H: 2, W: 2, C: 1, Data: make([]float32, 5)}
	if _, err := Aggregate([]Map{bad}, 3, 4); err == nil {
		t.Error("short tap data accepted")
	}
}

// images is a tiny methods.Images of generated RGB images.
type images struct {
	n, size int
	seed    float32
}

func (im images) Len() int { return im.n }
func (im images) Image(i int) (datasets.Image, error) {
	img := datasets.NewImage(im.size, im.size, 3)
	for k := range img.Pix {
		img.Pix[k] = float32(math.Mod(float64(float32(k*7+i*13)*0.001+im.seed), 1))
	}
	return img, nil
}

func smallBackbone(t testing.TB, seed uint64) *backbone.Backbone {
	b, err := backbone.New("resnet18", backbone.Options{Weights: "random", Seed: seed, WidthDiv: 8})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestExtractShapes(t *testing.T) {
	b := smallBackbone(t, 1)
	for _, tc := range []struct {
		name      string
		size, n   int
		cfg       Config
		h, w, dim int
	}{
		// ResNet-18 / 8: layer2 has 16 channels, layer3 32; 64 px input gives an 8x8 layer2 grid.
		{"pooled", 64, 3, Config{Dim: 20, Chunk: 2, BatchSize: 2}, 8, 8, 20},
		{"all-channels", 48, 2, Config{Dim: 1024}, 6, 6, 48},
		{"layer3-only", 64, 1, Config{Taps: []string{"layer3"}, Neighbourhood: 1, Dim: 16}, 4, 4, 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Extract(context.Background(), b, images{tc.n, tc.size, 0}, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Validate(); err != nil {
				t.Fatal(err)
			}
			if s.N != tc.n || s.H != tc.h || s.W != tc.w || s.D != tc.dim {
				t.Fatalf("got %dx%dx%dx%d, want %dx%dx%dx%d", s.N, s.H, s.W, s.D, tc.n, tc.h, tc.w, tc.dim)
			}
			if got := tc.cfg.OutDim(b); got != tc.dim {
				t.Fatalf("OutDim = %d, want %d", got, tc.dim)
			}
			// Chunking must not change results: image 0 alone gives the same features.
			one, err := Extract(context.Background(), b, images{1, tc.size, 0}, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range one.Image(0) {
				if math.Abs(float64(v-s.Image(0)[i])) > 1e-4*(1+math.Abs(float64(v))) {
					t.Fatalf("feature %d of image 0 differs when extracted alone: %v vs %v", i, v, s.Image(0)[i])
				}
			}
		})
	}
}

// fakeSource generates images for a Split, counting loads.
type fakeSource struct{ loads *int }

func (f fakeSource) Load(it datasets.Item) (datasets.Sample, error) {
	*f.loads++
	img, _ := images{1, 48, float32(it.Index) * 0.1}.Image(0)
	return datasets.Sample{Item: it, Image: img, Mask: datasets.NewImage(48, 48, 1)}, nil
}

func split(loads *int, n int) *datasets.Split {
	s := &datasets.Split{Name: "train", Category: "toy", Source: fakeSource{loads}}
	for i := 0; i < n; i++ {
		s.Items = append(s.Items, datasets.Item{ID: "train/good/" + string(rune('a'+i)), Label: datasets.Normal, Defect: "good", Index: i})
	}
	return s
}

func TestCacheReuseAndInvalidation(t *testing.T) {
	dir := t.TempDir()
	c := Cache{Dir: dir}
	b := smallBackbone(t, 1)
	loads := 0
	sp := split(&loads, 2)
	cfg := Config{Dim: 24}
	ctx := context.Background()

	first, err := ExtractCached(ctx, c, "toy", sp, b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	afterFirst := loads
	again, err := ExtractCached(ctx, c, "toy", sp, b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// KeyFor reads image 0 for the size; extraction would read every image again.
	if loads-afterFirst > 1 {
		t.Fatalf("second call loaded %d images: cache not reused", loads-afterFirst)
	}
	if len(again.Data) != len(first.Data) || again.Data[17] != first.Data[17] {
		t.Fatal("cached features differ from the extracted ones")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "features-*.safetensors"))
	if len(files) != 1 {
		t.Fatalf("%d cache files, want 1", len(files))
	}

	// Every key field change must miss.
	base, _ := KeyFor("toy", sp, b, cfg)
	changed := map[string]func(k Key) Key{
		"dataset":  func(k Key) Key { k.Dataset = "other"; return k },
		"split":    func(k Key) Key { k.Split = "test"; return k },
		"items":    func(k Key) Key { k.Items = "x"; return k },
		"backbone": func(k Key) Key { k.Backbone = "resnet50"; return k },
		"weights":  func(k Key) Key { k.Weights = "random (seed 2)"; return k },
		"size":     func(k Key) Key { k.ImageH = 64; return k },
		"taps":     func(k Key) Key { k.Config.Taps = []string{"layer1", "layer2"}; return k },
		"dim":      func(k Key) Key { k.Config.Dim = 25; return k },
		"p":        func(k Key) Key { k.Config.Neighbourhood = 5; return k },
	}
	for name, f := range changed {
		k := f(base)
		if k.Hash() == base.Hash() {
			t.Errorf("changing %s keeps the same key", name)
		}
		if _, ok, err := c.Load(k); ok || err != nil {
			t.Errorf("changing %s: cache hit %v, err %v", name, ok, err)
		}
	}
	// Batch size does not change features, so it must not change the key.
	k := base
	k.Config.BatchSize = 3
	if k.Hash() != base.Hash() {
		t.Error("batch size changes the key")
	}
	// A different seed (weights identity) and a regenerated split both re-extract.
	b2 := smallBackbone(t, 2)
	k2, _ := KeyFor("toy", sp, b2, cfg)
	if k2.Hash() == base.Hash() {
		t.Error("backbone seed does not change the key")
	}
	sp3 := split(&loads, 3)
	k3, _ := KeyFor("toy", sp3, b, cfg)
	if k3.Hash() == base.Hash() {
		t.Error("split contents do not change the key")
	}

	// A corrupt cache file is an error naming it, not a panic or silent reuse.
	if err := os.WriteFile(c.Path(base), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Load(base); err == nil {
		t.Error("corrupt cache file accepted")
	}
}

func TestPCAFindsTheMainAxis(t *testing.T) {
	// Points spread along (1, 1, 0) with small noise: the first component is that axis.
	var rows []float32
	for i := 0; i < 200; i++ {
		s := float32(i-100) * 0.1
		n := float32(math.Sin(float64(i))) * 0.01
		rows = append(rows, s+n, s-n, n)
	}
	p, err := FitPCA(rows, 3, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	c := p.Components[0]
	if math.Abs(math.Abs(c[0])-math.Sqrt(0.5)) > 1e-3 || math.Abs(math.Abs(c[1])-math.Sqrt(0.5)) > 1e-3 || math.Abs(c[2]) > 1e-3 {
		t.Fatalf("first component %v, want +-(0.707, 0.707, 0)", c)
	}
	if !(p.Variance[0] > 100*p.Variance[1]) {
		t.Fatalf("variances %v", p.Variance)
	}
	xy := p.Transform(rows)
	if len(xy) != 2 || len(xy[0]) != 200 {
		t.Fatalf("transform shape %d x %d", len(xy), len(xy[0]))
	}
}

func TestMaskToGrid(t *testing.T) {
	m := datasets.NewImage(8, 8, 1)
	for y := 0; y < 4; y++ {
		for x := 0; x < 2; x++ {
			m.Set(y, x, 0, 1)
		}
	}
	g, err := MaskToGrid(m, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{0.5, 0, 0, 0}
	for i := range want {
		if g[i] != want[i] {
			t.Fatalf("grid %v, want %v", g, want)
		}
	}
}
