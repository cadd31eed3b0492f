package vitrec

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/datasets/synth"
	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/compute"
	"github.com/gonomaly/gonomaly/methods/metrics"
)

// tinyConfig trains in seconds: 32 px in 8 px patches (16 tokens), width 32, two blocks.
func tinyConfig() Config {
	c := CPU()
	c.ImageSize, c.Dim, c.Depth, c.Heads, c.Epochs, c.BatchSize = 32, 32, 2, 4, 2, 4
	return c
}

func tinyData(t *testing.T, category string, size int) *datasets.Dataset {
	t.Helper()
	ds, err := synth.New(category, synth.Options{Size: size, Seed: 3, Train: 12, TestNormal: 4, TestPerDefect: 1})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// TestPatchifyRoundTrip: patchify puts pixel (y, x, c) at token (y/P)*G + x/P, position
// ((y%P)*P + x%P)*C + c, and unpatchify undoes it.
func TestPatchifyRoundTrip(t *testing.T) {
	backend, _ := compute.Backend()
	const n, size, p, c = 2, 8, 4, 3
	data := make([]float32, n*size*size*c)
	for i := range data {
		data[i] = float32(i)
	}
	exec, err := NewExec(backend, func(x *Node) []*Node {
		tok := patchify(x, p)
		return []*Node{tok, unpatchify(tok, size, p, c)}
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Exec(tensors.FromFlatDataAndDimensions(data, n, size, size, c))
	if err != nil {
		t.Fatal(err)
	}
	tok := tensors.MustCopyFlatData[float32](out[0])
	back := tensors.MustCopyFlatData[float32](out[1])
	g := size / p
	for i := 0; i < n; i++ {
		for y := 0; y < size; y++ {
			for x := 0; x < size; x++ {
				for ch := 0; ch < c; ch++ {
					src := ((i*size+y)*size+x)*c + ch
					dst := (i*g*g+(y/p)*g+x/p)*p*p*c + ((y%p)*p+x%p)*c + ch
					if tok[dst] != data[src] {
						t.Fatalf("pixel %d,%d,%d of image %d: token value %v, want %v", y, x, ch, i, tok[dst], data[src])
					}
				}
			}
		}
	}
	for i := range data {
		if back[i] != data[i] {
			t.Fatalf("unpatchify(patchify(x))[%d] = %v, want %v", i, back[i], data[i])
		}
	}
}

// TestMaskedMSE against a direct computation.
func TestMaskedMSE(t *testing.T) {
	backend, _ := compute.Backend()
	pred := [][][]float32{{{1, 2}, {0, 0}, {3, 1}}}
	target := [][][]float32{{{0, 2}, {1, 1}, {1, 1}}}
	mask := [][]float32{{1, 0, 1}}
	exec, err := NewExec(backend, maskedMSE)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Exec(pred, target, mask)
	if err != nil {
		t.Fatal(err)
	}
	// Token 0: ((1)^2 + 0)/2 = 0.5; token 2: (4 + 0)/2 = 2; two masked tokens: 1.25.
	if got := tensors.ToScalar[float32](out[0]); math.Abs(float64(got)-1.25) > 1e-6 {
		t.Fatalf("masked MSE %v, want 1.25", got)
	}
}

// TestGroupsCoverOnce: the test-time groups partition the grid, and every masked token of a group has
// its four neighbours unmasked.
func TestGroupsCoverOnce(t *testing.T) {
	c := CPU()
	g := c.grid()
	count := make([]int, c.MaskGroups)
	for r := 0; r < g; r++ {
		for col := 0; col < g; col++ {
			k := c.Group(r, col)
			count[k]++
			for _, d := range [][2]int{{-1, 0}, {1, 0}, {0, -1}, {0, 1}} {
				rr, cc := r+d[0], col+d[1]
				if rr >= 0 && rr < g && cc >= 0 && cc < g && c.Group(rr, cc) == k {
					t.Fatalf("token %d,%d and its neighbour %d,%d are both in group %d", r, col, rr, cc, k)
				}
			}
		}
	}
	for k, n := range count {
		if n != g*g/4 {
			t.Errorf("group %d has %d tokens, want %d", k, n, g*g/4)
		}
	}
}

// TestFitPredictAttention trains the CPU recipe on synthetic carpet: the loss falls, defects score
// above normal images, the maps find defect pixels, and every attention row is a distribution.
func TestFitPredictAttention(t *testing.T) {
	ds, err := synth.New("carpet", synth.Options{Size: 64, Seed: 1, Train: 48, TestNormal: 16, TestPerDefect: 4})
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(CPU())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := d.Fit(ctx, ds.Train); err != nil {
		t.Fatal(err)
	}
	h := d.History
	if !(h[len(h)-1] < 0.5*h[0]) {
		t.Errorf("masked-patch loss %.4f -> %.4f: did not halve", h[0], h[len(h)-1])
	}
	preds, err := d.Predict(ctx, ds.Test)
	if err != nil {
		t.Fatal(err)
	}
	scores, labels := make([]float64, len(preds)), make([]bool, len(preds))
	maps, masks := make([]datasets.Image, len(preds)), make([]datasets.Image, len(preds))
	for i, p := range preds {
		scores[i], labels[i] = float64(p.Score), ds.Test.Items[i].Label == datasets.Anomalous
		smp, err := ds.Test.Sample(i)
		if err != nil {
			t.Fatal(err)
		}
		maps[i], masks[i] = p.Map, smp.Mask
	}
	auc, err := metrics.AUROC(scores, labels)
	if err != nil {
		t.Fatal(err)
	}
	pix, err := metrics.PixelAUROC(maps, masks)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("vitrec CPU preset on synth/carpet (48 train, %d test): loss %.4f -> %.4f, image AUROC %.3f, pixel AUROC %.3f",
		len(preds), h[0], h[len(h)-1], auc, pix)
	if auc < 0.6 || pix < 0.6 {
		t.Errorf("image AUROC %.3f, pixel AUROC %.3f: want both >= 0.6", auc, pix)
	}
	att, err := d.Attention(ctx, methods.Slice(ds.Test, 0, 3), 1)
	if err != nil {
		t.Fatal(err)
	}
	cfg := d.Config()
	for i, a := range att {
		if len(a.W) != cfg.Depth || len(a.W[0]) != cfg.Heads || a.Tokens != cfg.grid()*cfg.grid() {
			t.Fatalf("attention of image %d: %d blocks, %d heads, %d tokens", i, len(a.W), len(a.W[0]), a.Tokens)
		}
		for b := range a.W {
			for hd, w := range a.W[b] {
				for q := 0; q < a.Tokens; q++ {
					s := 0.0
					for k := 0; k < a.Tokens; k++ {
						v := w[q*a.Tokens+k]
						if v < 0 {
							t.Fatalf("negative attention weight %v", v)
						}
						s += float64(v)
					}
					if math.Abs(s-1) > 1e-4 {
						t.Fatalf("image %d block %d head %d row %d sums to %v", i, b, hd, q, s)
					}
				}
			}
		}
	}
	if _, err := d.Attention(ctx, ds.Test, 4); err == nil {
		t.Error("mask group 4 of 4 accepted")
	}
}

// TestInpaintingIgnoresMaskedContent: a masked patch's prediction does not depend on what the patch
// holds (it is replaced by the mask token), so a defect there cannot be copied through.
func TestInpaintingIgnoresMaskedContent(t *testing.T) {
	ds := tinyData(t, "tile", 32)
	d, _ := New(tinyConfig())
	ctx := context.Background()
	if err := d.Fit(ctx, ds.Train); err != nil {
		t.Fatal(err)
	}
	im, _ := ds.Test.Image(0)
	spoilt := datasets.Image{H: im.H, W: im.W, C: im.C, Pix: append([]float32(nil), im.Pix...)}
	// Paint token (0, 0) (group 0) white.
	for y := 0; y < 8; y++ {
		for x := 0; x < 8; x++ {
			for c := 0; c < 3; c++ {
				spoilt.Pix[(y*32+x)*3+c] = 1
			}
		}
	}
	r, err := d.Reconstruct(ctx, methods.ImageList{im, spoilt})
	if err != nil {
		t.Fatal(err)
	}
	for y := 0; y < 8; y++ {
		for x := 0; x < 8; x++ {
			o := (y*32 + x) * 3
			if math.Abs(float64(r[0].Pix[o]-r[1].Pix[o])) > 1e-5 {
				t.Fatalf("pixel %d,%d: inpainted %v with the patch spoilt, %v without", y, x, r[1].Pix[o], r[0].Pix[o])
			}
		}
	}
	// A neighbour of the spoilt patch (token (0,1), group 1) sees it and may change; the score map sees
	// the spoilt patch as an error.
	preds, err := d.Predict(ctx, methods.ImageList{im, spoilt})
	if err != nil {
		t.Fatal(err)
	}
	if !(preds[1].Map.Pix[4*32+4] > preds[0].Map.Pix[4*32+4]) {
		t.Errorf("map at the spoilt patch %v, clean %v", preds[1].Map.Pix[4*32+4], preds[0].Map.Pix[4*32+4])
	}
}

// TestCheckpointResumeAndCancel: resuming after one epoch ends where an uninterrupted run ends;
// cancelling returns the context's error and leaves a loadable checkpoint; Save/Load round-trips.
func TestCheckpointResumeAndCancel(t *testing.T) {
	ds := tinyData(t, "grid", 32)
	ctx := context.Background()
	straight, _ := New(tinyConfig())
	if err := straight.Fit(ctx, ds.Train); err != nil {
		t.Fatal(err)
	}
	want, err := straight.Predict(ctx, ds.Test)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "train")
	cfg := tinyConfig()
	cfg.Epochs, cfg.CheckpointDir, cfg.CheckpointEvery = 1, dir, 1
	first, _ := New(cfg)
	if err := first.Fit(ctx, ds.Train); err != nil {
		t.Fatal(err)
	}
	cfg.Epochs = 2
	second, _ := New(cfg)
	resumed := false
	pctx := methods.WithProgress(ctx, func(e methods.Event) { resumed = resumed || strings.Contains(e.Task, "resumed") })
	if err := second.Fit(pctx, ds.Train); err != nil {
		t.Fatal(err)
	}
	if !resumed || len(second.History) != len(straight.History) {
		t.Fatalf("resumed=%v, %d steps, straight %d", resumed, len(second.History), len(straight.History))
	}
	got, err := second.Predict(ctx, ds.Test)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if d := math.Abs(float64(got[i].Score - want[i].Score)); d > 1e-4*max(1e-3, math.Abs(float64(want[i].Score))) {
			t.Fatalf("image %d: resumed score %v, uninterrupted %v", i, got[i].Score, want[i].Score)
		}
	}
	saved := filepath.Join(t.TempDir(), "saved")
	if err := second.Save(saved); err != nil {
		t.Fatal(err)
	}
	back, err := methods.Load(saved)
	if err != nil {
		t.Fatal(err)
	}
	again, err := back.Predict(ctx, ds.Test)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if again[i].Score != got[i].Score {
			t.Fatalf("image %d: %v after load, %v before", i, again[i].Score, got[i].Score)
		}
	}
	cfg.Epochs = 8
	third, _ := New(cfg)
	cctx, cancel := context.WithCancel(ctx)
	cctx = methods.WithProgress(cctx, func(e methods.Event) {
		if e.Task == "vitrec: training" && e.Done >= 8 {
			cancel()
		}
	})
	if err := third.Fit(cctx, ds.Train); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled fit returned %v", err)
	}
	if _, err := methods.Load(dir); err != nil {
		t.Fatalf("checkpoint after cancel: %v", err)
	}
}

// TestMVTecFolder fits and predicts on an MVTec-layout folder written by synth.WriteMVTec.
func TestMVTecFolder(t *testing.T) {
	ds := tinyData(t, "screw", 32)
	root := t.TempDir()
	if err := synth.WriteMVTec(root, ds); err != nil {
		t.Fatal(err)
	}
	loaded, err := datasets.LoadMVTec(root, "screw", datasets.Options{ImageSize: 32})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := New(tinyConfig())
	if err := d.Fit(context.Background(), loaded.Train); err != nil {
		t.Fatal(err)
	}
	preds, err := d.Predict(context.Background(), loaded.Test)
	if err != nil {
		t.Fatal(err)
	}
	if len(preds) != loaded.Test.Len() || preds[0].Map.W != 32 {
		t.Fatalf("%d predictions for %d images", len(preds), loaded.Test.Len())
	}
}

// TestConfigErrors: settings the model cannot use are refused with a message saying why.
func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.ImageSize = 60 }, "multiple of 8"},
		{func(c *Config) { c.Backbone = "resnet18" }, "no backbone"},
		{func(c *Config) { c.Weights = "/x/w.safetensors" }, "/x/w.safetensors"},
		{func(c *Config) { c.Heads = 3 }, "multiple of Heads"},
		{func(c *Config) { c.MaskGroups = 2 }, "MaskGroups"},
	} {
		c := CPU()
		tc.edit(&c)
		if _, err := New(c); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New: %v; want an error containing %q", err, tc.want)
		}
	}
}
