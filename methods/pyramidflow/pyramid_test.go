package pyramidflow

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/methods/compute"
)

func randomMap(rng *rand.Rand, h, w, c int) datasets.Image {
	m := datasets.NewImage(h, w, c)
	for i := range m.Pix {
		m.Pix[i] = float32(rng.NormFloat64())
	}
	return m
}

// TestPyramidInverts: the Laplacian decomposition composes back to its input (Go and graph forms), its
// levels have the right sizes, and the graph's expand step equals the Go one.
func TestPyramidInverts(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	m := randomMap(rng, 16, 24, 3)
	levels, err := BuildPyramid(m, 4)
	if err != nil {
		t.Fatal(err)
	}
	for k, l := range levels {
		if l.H != 16>>k || l.W != 24>>k || l.C != 3 {
			t.Fatalf("level %d is %dx%dx%d", k, l.W, l.H, l.C)
		}
	}
	back := ComposePyramid(levels)
	worst := 0.0
	for i, v := range m.Pix {
		worst = max(worst, math.Abs(float64(back.Pix[i]-v)))
	}
	if worst > 1e-5 {
		t.Fatalf("compose(build(x)) differs from x by %g", worst)
	}
	// The band-pass levels carry detail, not the image: the finest level is not x itself.
	same := true
	for i, v := range levels[0].Pix {
		if math.Abs(float64(v-m.Pix[i])) > 1e-3 {
			same = false
		}
	}
	if same {
		t.Fatal("level 0 equals the input")
	}
	backend, err := compute.Backend()
	if err != nil {
		t.Fatal(err)
	}
	exec, err := graph.NewExec(backend, func(in []*graph.Node) *graph.Node { return composeGraph(in) })
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Exec(asArgs(batchTensors([][]datasets.Image{levels}, []int{0}))...)
	if err != nil {
		t.Fatal(err)
	}
	got := tensors.MustCopyFlatData[float32](out[0])
	worst = 0
	for i, v := range m.Pix {
		worst = max(worst, math.Abs(float64(got[i]-v)))
	}
	if worst > 1e-4 {
		t.Fatalf("graph compose differs from x by %g", worst)
	}
	if _, err := BuildPyramid(randomMap(rng, 12, 12, 1), 4); err == nil {
		t.Fatal("12 px map accepted for 4 levels")
	}
}

// TestCouplingOrder: every stack transforms every level exactly once, from neighbours only.
func TestCouplingOrder(t *testing.T) {
	for levels := 2; levels <= 8; levels++ {
		c := Config{Levels: levels, Stacks: 1}
		seen := map[int]int{}
		for _, cp := range c.couplings() {
			seen[cp.target()]++
			if cp.start < 0 || cp.target() >= levels || (cp.kind == bothToMiddle && cp.start+2 >= levels) {
				t.Fatalf("levels %d: coupling %+v out of range", levels, cp)
			}
		}
		for k := 0; k < levels; k++ {
			if seen[k] != 1 {
				t.Fatalf("levels %d: level %d transformed %d times in a stack (%v)", levels, k, seen[k], c.couplings())
			}
		}
	}
}
