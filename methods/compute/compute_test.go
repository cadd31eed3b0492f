package compute

import (
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
)

func TestDecide(t *testing.T) {
	for _, tc := range []struct {
		env      string
		envSet   bool
		plugins  []string
		want     string
		fallback bool
	}{
		{"", false, nil, "fastgo", true},
		{"go", true, []string{"cpu"}, "go", false},
		{"xla:cuda", true, nil, "xla:cuda", false},
		{"", false, []string{"cpu"}, "xla:cpu", false},
		{"", false, []string{"cpu", "cuda"}, "xla:cuda", false},
		{"  ", true, nil, "fastgo", true},
	} {
		got, fb := Decide(tc.env, tc.envSet, tc.plugins)
		if got != tc.want || fb != tc.fallback {
			t.Errorf("Decide(%q,%v,%v) = %q,%v; want %q,%v", tc.env, tc.envSet, tc.plugins, got, fb, tc.want, tc.fallback)
		}
	}
}

func TestSequentialOps(t *testing.T) {
	for in, want := range map[string]string{
		"go":                "go:ops_sequential",
		"go:parallelism=2":  "go:parallelism=2,ops_sequential",
		"go:ops_parallel":   "go:ops_parallel",
		"xla:cpu":           "xla:cpu",
		"go:ops_sequential": "go:ops_sequential",
	} {
		if got := withSequentialOps(in); got != want {
			t.Errorf("withSequentialOps(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBackendRuns(t *testing.T) {
	b, err := Backend()
	if err != nil {
		t.Fatal(err)
	}
	c, _ := InUse()
	if c.Name == "" || c.Description == "" {
		t.Fatalf("InUse() = %+v, want a name and description", c)
	}
	got := graph.MustExecOnce(b, func(x *graph.Node) *graph.Node { return graph.MulScalar(x, 2) }, []float32{1, 2, 3})
	v := got.Value().([]float32)
	if v[0] != 2 || v[2] != 6 {
		t.Fatalf("2*x = %v", v)
	}
}
