package pni

import (
	"context"
	"math"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/datasets/anomalysynth"
	"github.com/gonomaly/gonomaly/datasets/synth"
	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/compute"
)

// heldOutError is the mean squared error, against the defect masks, of the network's map (Weight 1) and
// of the clipped, normalised PNI map it started from, on Perlin defects made on images the detector
// never saw.
func heldOutError(t *testing.T, p *PNI, images methods.Images) (refined, plain float64) {
	t.Helper()
	ctx := context.Background()
	gen := anomalysynth.DefaultPerlin()
	gen.CleanProbability = 0
	var imgs methods.ImageList
	var masks []datasets.Image
	for i := 0; i < images.Len(); i++ {
		img, err := images.Image(i)
		if err != nil {
			t.Fatal(err)
		}
		res, err := gen.Apply(img, 9000+uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		imgs, masks = append(imgs, res.Image), append(masks, res.Mask)
	}
	feats, err := p.Features(ctx, imgs)
	if err != nil {
		t.Fatal(err)
	}
	preds, err := p.PredictFeatures(ctx, feats)
	if err != nil {
		t.Fatal(err)
	}
	cfg := p.cfg.Refine
	cfg.Weight = 1
	var n int
	for i, pr := range preds {
		out, err := p.refine.apply(cfg, imgs[i], pr.Map)
		if err != nil {
			t.Fatal(err)
		}
		for j, m := range masks[i].Pix {
			d := float64(out.Pix[j] - m)
			refined += d * d
			d = float64(p.refine.normalize(pr.Map.Pix[j], true) - m)
			plain += d * d
			n++
		}
	}
	return refined / float64(n), plain / float64(n)
}

func TestRefinement(t *testing.T) {
	ctx := context.Background()
	ds, err := synth.New("pill", synth.Options{Size: 64, Train: 16, TestNormal: 8, TestPerDefect: 3, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	cfg := tinyConfig()
	cfg.Refine = RefineConfig{Enabled: true, Width: 8, Epochs: 12, Samples: 48}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Fit(ctx, ds.Train); err != nil {
		t.Fatal(err)
	}
	if !p.Refined() {
		t.Fatal("fit with Refine.Enabled left no refinement network")
	}
	l := p.RefineLosses()
	t.Logf("refinement losses %.4f ... %.4f", l[0], l[len(l)-1])
	if !(l[len(l)-1] < 0.8*l[0]) {
		t.Errorf("refinement loss did not fall by 20%%: %v", l)
	}
	normals := ds.Test.Subset("normal", normalIndices(ds.Test))
	refined, plain := heldOutError(t, p, normals)
	t.Logf("held-out synthetic defects: squared error %.4f refined, %.4f before", refined, plain)
	if !(refined < plain) {
		t.Errorf("refinement does not bring maps closer to unseen synthetic masks: %.4f >= %.4f", refined, plain)
	}

	preds, err := p.Predict(ctx, ds.Test)
	if err != nil {
		t.Fatal(err)
	}
	r := evaluate(t, preds, ds.Test)
	t.Logf("refined: image AUROC %.3f, pixel AUROC %.3f, AUPRO %.3f", r.ImageAUROC, r.PixelAUROC, r.AUPRO)
	if r.PixelAUROC < 0.8 {
		t.Errorf("refined pixel AUROC %.3f, want >= 0.8", r.PixelAUROC)
	}
	for i, pr := range preds {
		for _, v := range pr.Map.Pix {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("image %d: refined map holds %v", i, v)
			}
		}
	}

	dir := t.TempDir() + "/pni"
	if err := p.Save(dir); err != nil {
		t.Fatal(err)
	}
	q, err := methods.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !q.(*PNI).Refined() {
		t.Fatal("loaded detector lost its refinement network")
	}
	again, err := q.Predict(ctx, ds.Test)
	if err != nil {
		t.Fatal(err)
	}
	for i := range preds {
		for j, v := range preds[i].Map.Pix {
			if math.Abs(float64(again[i].Map.Pix[j]-v)) > 1e-5 {
				t.Fatalf("image %d pixel %d: %v after load, %v before", i, j, again[i].Map.Pix[j], v)
			}
		}
	}
}

func normalIndices(s *datasets.Split) []int {
	var idx []int
	for i, l := range s.Labels() {
		if l == datasets.Normal {
			idx = append(idx, i)
		}
	}
	return idx
}

// TestRefineLoss checks the graph loss against a direct computation: mean squared error of the map and
// of its forward differences along x and y with replicate padding (the last difference is zero).
func TestRefineLoss(t *testing.T) {
	const n, h, w = 2, 5, 7
	pred, target := make([]float32, n*h*w), make([]float32, n*h*w)
	for i := range pred {
		pred[i] = float32(math.Sin(float64(i) * 0.7))
		target[i] = float32(i%3) * 0.5
	}
	e := func(b, y, x int) float64 { i := (b*h+y)*w + x; return float64(pred[i] - target[i]) }
	var l0, lx, ly float64
	for b := 0; b < n; b++ {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				l0 += e(b, y, x) * e(b, y, x)
				if x+1 < w {
					d := e(b, y, x) - e(b, y, x+1)
					lx += d * d
				}
				if y+1 < h {
					d := e(b, y, x) - e(b, y+1, x)
					ly += d * d
				}
			}
		}
	}
	size := float64(n * h * w)
	want := l0/size/2 + lx/size/4 + ly/size/4
	exec, err := graph.NewExec(compute.MustBackend(), refineLoss)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Exec(tensors.FromFlatDataAndDimensions(pred, n, h, w, 1), tensors.FromFlatDataAndDimensions(target, n, h, w, 1))
	if err != nil {
		t.Fatal(err)
	}
	if got := float64(tensors.ToScalar[float32](out[0])); math.Abs(got-want) > 1e-5*want {
		t.Fatalf("refine loss %v, want %v", got, want)
	}
}
