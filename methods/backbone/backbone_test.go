package backbone

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/compute"
	"github.com/gonomaly/gonomaly/methods/safetensors"
)

// imageList is a methods.Images over a slice.
type imageList []datasets.Image

func (l imageList) Len() int                            { return len(l) }
func (l imageList) Image(i int) (datasets.Image, error) { return l[i], nil }

// imagesFromNHWC splits a [N,H,W,C] safetensors tensor into images.
func imagesFromNHWC(t safetensors.Tensor) imageList {
	n, h, w, c := t.Shape[0], t.Shape[1], t.Shape[2], t.Shape[3]
	var l imageList
	for i := range n {
		l = append(l, datasets.Image{H: h, W: w, C: c, Pix: t.Data[i*h*w*c : (i+1)*h*w*c]})
	}
	return l
}

func flat(t *tensors.Tensor) []float32 {
	var out []float32
	tensors.MustConstFlatData(t, func(f []float32) { out = append(out, f...) })
	return out
}

// relMaxErr is the parity metric: max_i |got_i - want_i| / max_i |want_i|.
func relMaxErr(got, want []float32) float64 {
	var maxDiff, maxRef float64
	for i := range want {
		maxDiff = max(maxDiff, math.Abs(float64(got[i])-float64(want[i])))
		maxRef = max(maxRef, math.Abs(float64(want[i])))
	}
	return maxDiff / maxRef
}

// TestParityWithTorchvision loads the random-weight checkpoints written by testdata/gen_golden.py and
// matches every tap against torchvision's float64 outputs: max|go - torch| / max|torch| <= 1e-4 per tap.
func TestParityWithTorchvision(t *testing.T) {
	const tol = 1e-4
	for _, tc := range []struct {
		file string
		arch string
		div  int
	}{
		{"resnet18_w8", "resnet18", 8},                 // weights stored as F16
		{"resnet34_w16", "resnet34", 16},               // F32
		{"resnet50_w16", "resnet50", 16},               // BF16
		{"wide_resnet50_2_w16", "wide_resnet50_2", 16}, // F32
	} {
		t.Run(tc.file, func(t *testing.T) {
			b, err := New(tc.arch, Options{Weights: filepath.Join("testdata", tc.file+".safetensors"), WidthDiv: tc.div})
			if err != nil {
				t.Fatal(err)
			}
			if !b.Pretrained() {
				t.Errorf("Pretrained() = false after loading a file")
			}
			golden, _, err := safetensors.ReadFile(filepath.Join("testdata", tc.file+"_taps.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			images := imagesFromNHWC(golden["input"])
			outs, err := b.Extract(context.Background(), images, 2, Taps...)
			if err != nil {
				t.Fatal(err)
			}
			for i, tap := range Taps {
				want := golden[tap]
				gotDims := outs[i].Shape().Dimensions
				if fmt.Sprint(gotDims) != fmt.Sprint(want.Shape) {
					t.Errorf("%s: shape %v, want %v", tap, gotDims, want.Shape)
					continue
				}
				if c := b.Channels(tap); c != want.Shape[3] {
					t.Errorf("%s: Channels = %d, want %d", tap, c, want.Shape[3])
				}
				if h, w := b.OutputSize(tap, images[0].H), b.OutputSize(tap, images[0].W); h != want.Shape[1] || w != want.Shape[2] {
					t.Errorf("%s: OutputSize = %dx%d, want %dx%d", tap, h, w, want.Shape[1], want.Shape[2])
				}
				if e := relMaxErr(flat(outs[i]), want.Data); !(e <= tol) {
					t.Errorf("%s: relative max error %.3g > %g", tap, e, tol)
				} else {
					t.Logf("%s: relative max error %.2g", tap, e)
				}
			}
		})
	}
}

// rewrite copies a golden checkpoint into a temp dir after applying edit.
func rewrite(t *testing.T, file string, edit func(map[string]safetensors.Tensor)) string {
	t.Helper()
	ts, md, err := safetensors.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	edit(ts)
	path := filepath.Join(t.TempDir(), file)
	if err := safetensors.WriteFile(path, ts, md); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestBadCheckpoints(t *testing.T) {
	for _, tc := range []struct {
		name string
		arch string
		div  int
		path func(t *testing.T) string
		want []string
	}{
		{"missing tensor", "resnet18", 8, func(t *testing.T) string {
			return rewrite(t, "resnet18_w8.safetensors", func(m map[string]safetensors.Tensor) {
				delete(m, "layer2.0.downsample.1.running_var")
			})
		}, []string{`missing tensor "layer2.0.downsample.1.running_var"`}},
		{"wrong shape", "resnet18", 8, func(t *testing.T) string {
			return rewrite(t, "resnet18_w8.safetensors", func(m map[string]safetensors.Tensor) {
				w := m["layer3.1.conv2.weight"]
				w.Shape = []int{w.Shape[0], w.Shape[1], 1, w.Shape[2] * w.Shape[3]}
				m["layer3.1.conv2.weight"] = w
			})
		}, []string{`"layer3.1.conv2.weight" has shape [32 32 1 9], want [32 32 3 3]`}},
		{"NaN weight", "resnet18", 8, func(t *testing.T) string {
			return rewrite(t, "resnet18_w8.safetensors", func(m map[string]safetensors.Tensor) {
				m["bn1.bias"].Data[0] = float32(math.NaN())
			})
		}, []string{`"bn1.bias" holds NaN`}},
		{"other architecture", "resnet18", 16, func(*testing.T) string {
			return "testdata/resnet34_w16.safetensors"
		}, []string{`unexpected tensor "layer1.2.bn1.bias"`}},
		{"other width", "resnet18", 16, func(*testing.T) string {
			return "testdata/resnet18_w8.safetensors"
		}, []string{`"conv1.weight" has shape [8 3 7 7], want [4 3 7 7]`}},
		{"missing file", "resnet18", 8, func(t *testing.T) string {
			return filepath.Join(t.TempDir(), "nope.safetensors")
		}, []string{"nope.safetensors"}},
		{"truncated file", "resnet18", 8, func(t *testing.T) string {
			data, _ := os.ReadFile("testdata/resnet18_w8.safetensors")
			p := filepath.Join(t.TempDir(), "cut.safetensors")
			os.WriteFile(p, data[:len(data)-100], 0o644)
			return p
		}, []string{"cut.safetensors"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path(t)
			_, err := New(tc.arch, Options{Weights: path, WidthDiv: tc.div})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range append(tc.want, path) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestBadOptions(t *testing.T) {
	if _, err := New("resnet101", Options{}); err == nil || !strings.Contains(err.Error(), "resnet101") {
		t.Errorf("unknown arch: err = %v", err)
	}
	if _, err := New("resnet18", Options{WidthDiv: 3}); err == nil || !strings.Contains(err.Error(), "WidthDiv") {
		t.Errorf("WidthDiv 3: err = %v", err)
	}
}

func weightsOf(b *Backbone) map[string][]float32 {
	m := map[string][]float32{}
	for name, t := range b.weights {
		m[name] = flat(t)
	}
	return m
}

func TestSeededInitIsDeterministic(t *testing.T) {
	a, err := New("wide_resnet50_2", Options{Weights: "random", Seed: 7, WidthDiv: 16})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := New("wide_resnet50_2", Options{Weights: "random", Seed: 7, WidthDiv: 16})
	c, _ := New("wide_resnet50_2", Options{Weights: "random", Seed: 8, WidthDiv: 16})
	if a.Pretrained() {
		t.Error("random weights reported as pretrained")
	}
	if s := a.String(); s != "wide_resnet50_2 width/16 (weights: random (seed 7))" {
		t.Errorf("String() = %q", s)
	}
	wa, wb, wc := weightsOf(a), weightsOf(b), weightsOf(c)
	if len(wa) != len(a.params) {
		t.Fatalf("%d weights, want %d", len(wa), len(a.params))
	}
	for name, va := range wa {
		if fmt.Sprint(va) != fmt.Sprint(wb[name]) {
			t.Fatalf("%s differs between two inits with seed 7", name)
		}
	}
	// He normal, fan_out: std = sqrt(2 / (Cout*KH*KW)); BN is the identity.
	w := wa["layer3.0.conv2.weight"] // [3,3,32,32] HWIO
	var ss float64
	for _, v := range w {
		ss += float64(v) * float64(v)
	}
	std, want := math.Sqrt(ss/float64(len(w))), math.Sqrt(2.0/(32*9))
	if math.Abs(std-want) > 0.05*want {
		t.Errorf("conv std %.4f, want %.4f", std, want)
	}
	if fmt.Sprint(wa["conv1.weight"]) == fmt.Sprint(wc["conv1.weight"]) {
		t.Error("seeds 7 and 8 give the same conv1 weights")
	}
	for _, v := range wa["layer1.0.bn2.running_var"] {
		if v != 1 {
			t.Fatalf("running_var %v, want 1", v)
		}
	}
}

// TestHubDownloadAndCache serves a checkpoint from a local HTTP server standing in for the hub.
func TestHubDownloadAndCache(t *testing.T) {
	data, err := os.ReadFile("testdata/resnet18_w8.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	requests := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests++
		if r.URL.Path != "/test/resnet18-tiny/resolve/main/model.safetensors" {
			http.NotFound(w, r)
			return
		}
		w.Write(data)
	}))
	t.Setenv("HF_ENDPOINT", srv.URL)
	t.Setenv("HF_HUB_OFFLINE", "")
	cache := t.TempDir()
	b, err := New("resnet18", Options{Weights: "test/resnet18-tiny", WidthDiv: 8, CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	cached := filepath.Join(cache, "hub", "test--resnet18-tiny", "model.safetensors")
	if !b.Pretrained() || b.Source() != cached {
		t.Fatalf("Pretrained=%v Source=%q, want the cached %s", b.Pretrained(), b.Source(), cached)
	}
	entries, _ := os.ReadDir(filepath.Dir(cached))
	if len(entries) != 1 {
		t.Errorf("cache dir holds %d entries, want only model.safetensors", len(entries))
	}
	srv.Close()
	// Second time: from the cache, no request.
	b2, err := New("resnet18", Options{Weights: "test/resnet18-tiny", WidthDiv: 8, CacheDir: cache})
	if err != nil || !b2.Pretrained() || requests != 1 {
		t.Fatalf("cached load: err=%v pretrained=%v requests=%d", err, b2 != nil && b2.Pretrained(), requests)
	}
	// A damaged cache file is an error that says what to do, not a silent fallback.
	if err := os.WriteFile(cached, data[:1000], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = New("resnet18", Options{Weights: "test/resnet18-tiny", WidthDiv: 8, CacheDir: cache})
	if err == nil || !strings.Contains(err.Error(), cached) || !strings.Contains(err.Error(), "delete the file") {
		t.Errorf("damaged cache: err = %v", err)
	}
}

// TestNoNetworkFallsBackQuickly: an unreachable hub or a 404 gives seeded weights, not an error.
func TestNoNetworkFallsBackQuickly(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	for _, endpoint := range []string{"http://127.0.0.1:1", srv.URL} {
		t.Setenv("HF_ENDPOINT", endpoint)
		start := time.Now()
		b, err := New("resnet18", Options{Weights: "timm/resnet18.tv_in1k", Seed: 3, CacheDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		if b.Pretrained() || b.Source() != "random (seed 3)" {
			t.Errorf("%s: Pretrained=%v Source=%q", endpoint, b.Pretrained(), b.Source())
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%s: fallback took %v", endpoint, d)
		}
	}
	t.Setenv("HF_HUB_OFFLINE", "1")
	if b, err := New("resnet50", Options{CacheDir: t.TempDir()}); err != nil || b.Pretrained() {
		t.Errorf("offline: err=%v", err)
	}
}

func TestChannelsAndStrides(t *testing.T) {
	for _, tc := range []struct {
		arch     string
		channels []int
	}{
		{"resnet18", []int{64, 64, 128, 256, 512}},
		{"resnet34", []int{64, 64, 128, 256, 512}},
		{"resnet50", []int{64, 256, 512, 1024, 2048}},
		{"wide_resnet50_2", []int{64, 256, 512, 1024, 2048}},
	} {
		b, err := New(tc.arch, Options{Weights: "random"})
		if err != nil {
			t.Fatal(err)
		}
		for i, tap := range Taps {
			if c := b.Channels(tap); c != tc.channels[i] {
				t.Errorf("%s %s: Channels = %d, want %d", tc.arch, tap, c, tc.channels[i])
			}
		}
		if s := b.OutputSize("layer3", 224); s != 14 || b.Stride("layer3") != 16 {
			t.Errorf("%s layer3 at 224: size %d stride %d", tc.arch, s, b.Stride("layer3"))
		}
	}
	// Parameter counts match torchvision's (without fc): resnet18 11,689,512 - 513,000 params,
	// wide_resnet50_2 68,883,240 - 2,049,000; running statistics excluded as torch counts parameters.
	for arch, want := range map[string]int{"resnet18": 11689512 - 513000, "wide_resnet50_2": 68883240 - 2049000} {
		n := 0
		for _, p := range archs[arch].parameters(1) {
			if strings.HasSuffix(p.name, "running_mean") || strings.HasSuffix(p.name, "running_var") {
				continue
			}
			size := 1
			for _, d := range p.shape {
				size *= d
			}
			n += size
		}
		if n != want {
			t.Errorf("%s: %d parameters, want %d", arch, n, want)
		}
	}
}

func TestExtractInputs(t *testing.T) {
	b, err := New("resnet18", Options{Weights: "random", WidthDiv: 16})
	if err != nil {
		t.Fatal(err)
	}
	gray := datasets.NewImage(40, 48, 1)
	rgb := datasets.NewImage(40, 48, 3)
	for i := range gray.Pix {
		v := float32(i%17) / 17
		gray.Pix[i] = v
		rgb.Pix[3*i], rgb.Pix[3*i+1], rgb.Pix[3*i+2] = v, v, v
	}
	var events []methods.Event
	ctx := methods.WithProgress(context.Background(), func(e methods.Event) { events = append(events, e) })
	// Three images in batches of 2 (the last one smaller); gray equals its RGB copy.
	outs, err := b.Extract(ctx, imageList{gray, rgb, gray}, 2, "layer2", "stem")
	if err != nil {
		t.Fatal(err)
	}
	if d := outs[0].Shape().Dimensions; fmt.Sprint(d) != "[3 5 6 8]" {
		t.Errorf("layer2 shape %v, want [3 5 6 8]", d)
	}
	if d := outs[1].Shape().Dimensions; fmt.Sprint(d) != "[3 10 12 4]" {
		t.Errorf("stem shape %v, want [3 10 12 4]", d)
	}
	f := flat(outs[0])
	per := len(f) / 3
	if fmt.Sprint(f[:per]) != fmt.Sprint(f[per:2*per]) || fmt.Sprint(f[:per]) != fmt.Sprint(f[2*per:]) {
		t.Error("grayscale and RGB copies of one image give different features")
	}
	if len(events) != 2 || events[1].Done != 3 || events[1].Total != 3 || !events[1].Finished {
		t.Errorf("progress events %+v", events)
	}

	for _, tc := range []struct {
		name   string
		images imageList
		taps   []string
		want   string
	}{
		{"size mismatch", imageList{rgb, datasets.NewImage(40, 40, 3)}, []string{"layer1"}, "image 1: is 40x40 (W x H) but the first image is 48x40"},
		{"channels", imageList{datasets.NewImage(40, 48, 2)}, []string{"layer1"}, "2 channels"},
		{"bad pixels", imageList{{H: 40, W: 48, C: 3}}, []string{"layer1"}, "image 0"},
		{"unknown tap", imageList{rgb}, []string{"layer5"}, `unknown tap "layer5"`},
		{"no taps", imageList{rgb}, nil, "at least one tap"},
		{"no images", imageList{}, []string{"layer1"}, "no images"},
	} {
		if _, err := b.Extract(context.Background(), tc.images, 2, tc.taps...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Extract(cancelled, imageList{rgb}, 1, "stem"); err != context.Canceled {
		t.Errorf("cancelled: err = %v", err)
	}
}

// TestFrozenAndTrainable: a frozen backbone passes no gradient; a trainable one passes it to the
// input and marks its weights trainable (but never the running statistics).
func TestFrozenAndTrainable(t *testing.T) {
	for _, trainable := range []bool{false, true} {
		b, err := New("resnet50", Options{Weights: "random", WidthDiv: 16, Trainable: trainable})
		if err != nil {
			t.Fatal(err)
		}
		ctx := mlctx.New()
		e, err := mlctx.NewExec(compute.MustBackend(), ctx, func(ctx *mlctx.Context, x *graph.Node) *graph.Node {
			out := b.Forward(ctx.In("student"), x, "layer2")[0]
			return graph.Gradient(graph.ReduceAllSum(graph.Mul(out, out)), x)[0]
		})
		if err != nil {
			t.Fatal(err)
		}
		x := make([]float32, 2*32*32*3)
		for i := range x {
			x[i] = float32(i%7) / 7
		}
		grad, err := e.Exec1(tensors.FromFlatDataAndDimensions(x, 2, 32, 32, 3))
		if err != nil {
			t.Fatal(err)
		}
		var norm float64
		for _, v := range flat(grad) {
			norm += float64(v) * float64(v)
		}
		if (norm > 0) != trainable {
			t.Errorf("trainable=%v: input gradient norm %g", trainable, norm)
		}
		nTrain := 0
		for v := range ctx.IterVariables() {
			if !strings.HasPrefix(v.Scope(), "/student/resnet50") {
				t.Errorf("variable %s outside /student/resnet50", v.ScopeAndName())
			}
			isStat := strings.HasSuffix(v.Name(), "running_mean") || strings.HasSuffix(v.Name(), "running_var")
			if v.Trainable && (isStat || !trainable) {
				t.Errorf("trainable=%v: variable %s is trainable", trainable, v.Name())
			}
			if v.Trainable {
				nTrain++
			}
		}
		if trainable && nTrain == 0 {
			t.Error("no trainable variables")
		}
		if !trainable {
			continue
		}
		// Training updates the variables (donating their buffers); the backbone's own weights stay.
		before := weightsOf(b)
		step, err := mlctx.NewExec(compute.MustBackend(), ctx, func(ctx *mlctx.Context, g *graph.Graph) *graph.Node {
			for v := range ctx.IterVariables() {
				if v.Trainable {
					v.SetValueGraph(graph.ZerosLike(v.ValueGraph(g)))
				}
			}
			return graph.Const(g, float32(0))
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := step.Exec(); err != nil {
			t.Fatal(err)
		}
		v := ctx.GetVariableByScopeAndName("/student/resnet50", "conv1.weight")
		if got := flat(v.MustValue()); got[0] != 0 {
			t.Errorf("variable not updated: %v", got[0])
		}
		after := weightsOf(b)
		for name, w := range before {
			if fmt.Sprint(w) != fmt.Sprint(after[name]) {
				t.Fatalf("training the variables changed the backbone's weight %s", name)
			}
		}
	}
}
