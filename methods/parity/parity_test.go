package parity

import (
	"context"
	"encoding/gob"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gonomaly/gonomaly/datasets/synth"
	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/backbone"
	"github.com/gonomaly/gonomaly/methods/compute"
	"github.com/gonomaly/gonomaly/methods/compute/fastgo"
	"github.com/gonomaly/gonomaly/methods/features"
	"github.com/gonomaly/gonomaly/methods/knn"
	"github.com/gonomaly/gonomaly/methods/nn"
	"github.com/gonomaly/gonomaly/methods/patchcore"
	"github.com/gonomaly/gonomaly/methods/rd"
	"github.com/gonomaly/gonomaly/methods/scores"
)

// outEnv names the file the child process writes its results to.
const outEnv = "GONOMALY_PARITY_OUT"

// tolerance is the largest difference allowed, relative to an output's largest magnitude.
const tolerance = 1e-4

type results map[string][]float32

func TestMain(m *testing.M) {
	if path := os.Getenv(outEnv); path != "" {
		res, err := computeAll()
		if err == nil {
			err = save(path, res)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "parity child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestFastgoMatchesPureGo(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-backend parity runs the backbones and training steps twice (about a minute)")
	}
	c, err := compute.InUse()
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != fastgo.BackendName {
		t.Skipf("the backend in use is %q: parity compares fastgo with the pure-Go backend", c.Name)
	}
	refPath := filepath.Join(t.TempDir(), "pure-go.gob")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GOMLX_BACKEND=go", outEnv+"="+refPath)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pure-Go child process: %v\n%s", err, out)
	}
	want, err := load(refPath)
	if err != nil {
		t.Fatal(err)
	}
	got, err := computeAll()
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(want))
	for k := range want {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		g, ok := got[name]
		if !ok {
			t.Errorf("%s: missing on fastgo", name)
			continue
		}
		w := want[name]
		if len(g) != len(w) {
			t.Errorf("%s: %d values on fastgo, %d on pure Go", name, len(g), len(w))
			continue
		}
		scale, worst := 0.0, 0.0
		for i := range w {
			scale = math.Max(scale, math.Abs(float64(w[i])))
			worst = math.Max(worst, math.Abs(float64(g[i])-float64(w[i])))
		}
		rel := worst / math.Max(scale, 1e-30)
		if rel > tolerance || math.IsNaN(rel) {
			t.Errorf("%s: differs by %.3g relative (max |diff| %.3g, scale %.3g)", name, rel, worst, scale)
		} else {
			t.Logf("%-45s %8d values, max relative difference %.2g", name, len(w), rel)
		}
	}
}

func save(path string, r results) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := gob.NewEncoder(f).Encode(r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func load(path string) (results, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r results
	return r, gob.NewDecoder(f).Decode(&r)
}

// computeAll runs every graph of the harness on the process's backend.
func computeAll() (results, error) {
	res := results{}
	for _, part := range []func(results) error{layers, backbones, memoryBank, teacherStudent, scoreGraphs} {
		if err := part(res); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func randTensor(rng *rand.Rand, dims ...int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return tensors.FromFlatDataAndDimensions(v, dims...)
}

func flat(t *tensors.Tensor) []float32 {
	var out []float32
	t.ConstFlatData(func(f any) { out = append(out, f.([]float32)...) })
	return out
}

// run executes fn and stores its outputs under prefix/i.
func run(res results, prefix string, fn func([]*graph.Node) []*graph.Node, inputs ...*tensors.Tensor) error {
	e, err := graph.NewExec(compute.MustBackend(), fn)
	if err != nil {
		return err
	}
	args := make([]any, len(inputs))
	for i, in := range inputs {
		args[i] = in
	}
	outs, err := e.Exec(args...)
	if err != nil {
		return fmt.Errorf("%s: %w", prefix, err)
	}
	for i, o := range outs {
		res[fmt.Sprintf("%s/%d", prefix, i)] = flat(o)
	}
	return nil
}

// withGradients returns y and the gradients of sum(y·r) with respect to every input (r fixed, random).
func withGradients(y *graph.Node, inputs ...*graph.Node) []*graph.Node {
	rng := rand.New(rand.NewPCG(99, uint64(y.Shape().Size())))
	r := graph.Const(y.Graph(), randTensor(rng, y.Shape().Dimensions...))
	return append([]*graph.Node{y}, graph.Gradient(graph.ReduceAllSum(graph.Mul(y, r)), inputs...)...)
}

// layers: the nn layers forward and backward.
func layers(res results) error {
	rng := rand.New(rand.NewPCG(1, 2))
	x, k := randTensor(rng, 2, 17, 15, 8), randTensor(rng, 3, 3, 8, 12)
	for _, cfg := range []nn.ConvConfig{{Padding: 1}, {Stride: 2, Padding: 1}, {Dilation: 2, Padding: 2}, {Stride: 2}, {Padding: 1, Groups: 4}} {
		kk := k
		if cfg.Groups > 1 {
			kk = randTensor(rng, 3, 3, 8/cfg.Groups, 12)
		}
		if err := run(res, fmt.Sprintf("nn/conv2d %+v", cfg), func(in []*graph.Node) []*graph.Node {
			return withGradients(nn.Conv2D(in[0], in[1], cfg), in[0], in[1])
		}, x, kk); err != nil {
			return err
		}
	}
	kt := randTensor(rng, 2, 2, 8, 6)
	if err := run(res, "nn/convtranspose2d", func(in []*graph.Node) []*graph.Node {
		return withGradients(nn.ConvTranspose2D(in[0], in[1], nn.ConvTransposeConfig{Stride: 2}), in[0], in[1])
	}, x, kt); err != nil {
		return err
	}
	if err := run(res, "nn/pool", func(in []*graph.Node) []*graph.Node {
		return append(withGradients(nn.MaxPool2D(in[0], 3, 2, 1), in[0]), withGradients(nn.AvgPool2D(in[0], 2, 2, 0), in[0])...)
	}, x); err != nil {
		return err
	}
	scale, offset := randTensor(rng, 8), randTensor(rng, 8)
	if err := run(res, "nn/batchnorm training", func(in []*graph.Node) []*graph.Node {
		y, mean, variance := nn.BatchNormTraining(in[0], in[1], in[2], 1e-5)
		return append(withGradients(y, in[0], in[1], in[2]), mean, variance)
	}, x, scale, offset); err != nil {
		return err
	}
	w := randTensor(rng, 8, 5)
	return run(res, "nn/matmul+activations", func(in []*graph.Node) []*graph.Node {
		y := nn.MatMul(in[0], in[1])
		y = graph.Add(nn.GELU(y), graph.Add(nn.SiLU(y), nn.LeakyReLU(y, 0.2)))
		return withGradients(nn.UpsampleBilinear(y, 30, 29, false), in[0], in[1])
	}, x, w)
}

// backbones: the four architectures, seeded, to layer3.
func backbones(res results) error {
	rng := rand.New(rand.NewPCG(3, 4))
	x := randTensor(rng, 2, 64, 64, 3)
	for _, arch := range []string{"resnet18", "resnet34", "resnet50", "wide_resnet50_2"} {
		bb, err := backbone.New(arch, backbone.Options{Weights: "random", Seed: 7})
		if err != nil {
			return err
		}
		e, err := mlctx.NewExec(compute.MustBackend(), mlctx.New(), func(ctx *mlctx.Context, x *graph.Node) []*graph.Node {
			return bb.Forward(ctx, x, "layer1", "layer2", "layer3")
		})
		if err != nil {
			return err
		}
		outs, err := e.Exec(x)
		if err != nil {
			return fmt.Errorf("%s: %w", arch, err)
		}
		for i, o := range outs {
			res[fmt.Sprintf("backbone/%s/layer%d", arch, i+1)] = flat(o)
		}
	}
	return nil
}

func tinyData() (*synthData, error) {
	ds, err := synth.New("screw", synth.Options{Size: 64, Seed: 5, Train: 8, TestNormal: 2, TestPerDefect: 1})
	if err != nil {
		return nil, err
	}
	return &synthData{train: ds.Train, test: ds.Test}, nil
}

type synthData struct{ train, test methods.Images }

func predictions(res results, prefix string, d methods.Detector, data *synthData) error {
	preds, err := d.Predict(context.Background(), data.test)
	if err != nil {
		return fmt.Errorf("%s: %w", prefix, err)
	}
	var scores, maps []float32
	for _, p := range preds {
		scores = append(scores, p.Score)
		maps = append(maps, p.Map.Pix...)
	}
	res[prefix+"/scores"], res[prefix+"/maps"] = scores, maps
	return nil
}

// memoryBank: PatchCore's fit (features, coreset) and prediction.
func memoryBank(res results) error {
	data, err := tinyData()
	if err != nil {
		return err
	}
	cfg := patchcore.CPU()
	cfg.ImageSize, cfg.Backbone, cfg.Weights, cfg.Features.Dim = 64, "resnet18", "random", 256
	d, err := patchcore.New(cfg)
	if err != nil {
		return err
	}
	if err := d.Fit(context.Background(), data.train); err != nil {
		return err
	}
	return predictions(res, "patchcore", d, data)
}

// teacherStudent: one training step of RD and of RD++ (one batch, one epoch), then prediction.
func teacherStudent(res results) error {
	data, err := tinyData()
	if err != nil {
		return err
	}
	for _, v := range []rd.Variant{rd.RD, rd.RDPlusPlus} {
		cfg := rd.CPU().WithVariant(v)
		cfg.ImageSize, cfg.Weights = 64, "random"
		cfg.Epochs, cfg.BatchSize = 1, 8 // eight training images: exactly one step
		cfg.SinkhornIters = 5
		// Adam's first step moves every weight by ±lr whatever the size of its gradient, so a
		// near-zero gradient whose sign differs in the last bit (another summation order) moves a
		// weight by 2·lr: at the preset's lr 0.005 the maps then differ by 1e-3 after one step of the
		// two-block decoder. A small lr compares the step's arithmetic instead of Adam's sign function.
		cfg.LearningRate, cfg.ProjLearningRate = 1e-5, 1e-5
		d, err := rd.New(cfg)
		if err != nil {
			return err
		}
		if err := d.Fit(context.Background(), data.train); err != nil {
			return err
		}
		name := "rd/" + string(v)
		res[name+"/loss"] = []float32{float32(d.History[0])}
		if err := predictions(res, name, d, data); err != nil {
			return err
		}
	}
	return nil
}

// scoreGraphs: the nearest-neighbour graph used by memory-bank scores, and a score graph as users write them.
func scoreGraphs(res results) error {
	rng := rand.New(rand.NewPCG(5, 6))
	q, bank := randTensor(rng, 100, 64), randTensor(rng, 700, 64)
	if err := run(res, "knn", func(in []*graph.Node) []*graph.Node {
		dist, _ := knn.Nearest(in[0], in[1], 3, 256)
		return []*graph.Node{knn.SquaredDistances(in[0], in[1]), dist}
	}, q, bank); err != nil {
		return err
	}
	// A user-written score graph (scores.Graph) over patch features, as notebook 01 writes them.
	set := func(n int) *features.Set {
		s := &features.Set{N: n, H: 4, W: 4, D: 32, Data: make([]float32, n*4*4*32)}
		for i := range s.Data {
			s.Data[i] = float32(rng.NormFloat64())
		}
		return s
	}
	softMin := scores.Graph("soft-min distance", func(bank, queries *graph.Node) *graph.Node {
		d := knn.SquaredDistances(queries, bank) // soft minimum: m - log Σ exp(-(d - m)), m the minimum
		m := graph.ReduceAndKeep(d, graph.ReduceMin, -1)
		sum := graph.ReduceAndKeep(graph.Exp(graph.Neg(graph.Sub(d, m))), graph.ReduceSum, -1)
		return graph.Reshape(graph.Sub(m, graph.Log(sum)), d.Shape().Dimensions[0])
	})
	patch, err := softMin.Score(context.Background(), set(6), set(3))
	if err != nil {
		return err
	}
	res["scores/graph soft-min"] = patch
	return nil
}
