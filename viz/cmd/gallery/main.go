package main

import (
	"flag"
	"fmt"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/viz"
)

func main() {
	out := flag.String("out", "gallery", "output directory")
	flag.Parse()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	roc := func(q float64) viz.Series {
		var xs, ys []float64
		for i := 0; i <= 100; i++ {
			x := float64(i) / 100
			xs = append(xs, x)
			ys = append(ys, math.Pow(x, q))
		}
		return viz.Series{X: xs, Y: ys}
	}
	a, b := roc(0.2), roc(0.5)
	a.Name, b.Name = "mean-image distance", "z-score"
	save := func(name string, f viz.Figure, err error) {
		if err != nil {
			log.Fatal(name, err)
		}
		for _, ext := range []string{".png", ".svg"} {
			if err := f.Save(filepath.Join(*out, name+ext)); err != nil {
				log.Fatal(err)
			}
		}
	}
	c, err := viz.ROC(a, b)
	save("roc", c, err)
	c, err = viz.PR(viz.Series{Name: "a", X: a.X, Y: b.Y}, viz.Series{Name: "b", X: b.X, Y: a.Y})
	save("pr", c, err)
	c, err = viz.PRO(0.3, a, b)
	save("pro", c, err)
	var n, an []float64
	for i := 0; i < 200; i++ {
		n = append(n, r.NormFloat64())
		an = append(an, r.NormFloat64()+2.5)
	}
	c, err = viz.ScoreHistogram(n, an[:40], 1.3)
	save("scores", c, err)
	c, err = viz.LogLikelihoodHistogram(viz.Group{Name: "normal", Values: n}, viz.Group{Name: "scratch", Values: an[:30]}, viz.Group{Name: "hole", Values: an[100:130]})
	save("loglik", c, err)
	g, _ := viz.GridFunc(-4, 4, -4, 4, 80, 80, func(x, y float64) float64 { return -(x*x + y*y) / 2 })
	c, err = viz.LatentDensity(g, viz.PointGroup{Name: "normal", X: n[:50], Y: n[50:100]}, viz.PointGroup{Name: "anomalous", X: an[:20], Y: an[20:40]})
	save("latent", c, err)
	var st, l1, l2 []float64
	for i := 0; i < 100; i++ {
		st = append(st, float64(i))
		l1 = append(l1, 2*math.Exp(-float64(i)/20)+0.05*r.Float64())
		l2 = append(l2, 2*math.Exp(-float64(i)/40)+0.05*r.Float64())
	}
	c, err = viz.LossCurves(true, viz.Series{Name: "lr 0.01", X: st, Y: l1}, viz.Series{Name: "lr 0.003", X: st, Y: l2})
	save("loss", c, err)
	img := datasets.NewImage(96, 128, 3)
	amap := datasets.NewImage(96, 128, 1)
	mask := datasets.NewImage(96, 128, 1)
	for y := 0; y < 96; y++ {
		for x := 0; x < 128; x++ {
			v := 0.5 + 0.2*math.Sin(float64(x)/5)*math.Cos(float64(y)/7)
			img.Set(y, x, 0, float32(v))
			img.Set(y, x, 1, float32(v*0.9))
			img.Set(y, x, 2, float32(v*0.7))
			d := math.Hypot(float64(y-40), float64(x-70))
			amap.Set(y, x, 0, float32(math.Exp(-d*d/200)+0.1*r.Float64()))
			if d < 12 {
				mask.Set(y, x, 0, 1)
			}
		}
	}
	ov, err := viz.Overlay(img, amap).Mask(mask).Done()
	save("overlay", ov, err)
	gr, err := viz.SampleGrid(
		viz.Sample{Image: img, Map: amap, Mask: mask, Score: 0.93, Truth: datasets.Anomalous, Defect: "scratch"},
		viz.Sample{Image: img, Map: amap, Score: 0.21, Truth: datasets.Normal},
	).PixelThreshold(0.5).ScoreThreshold(0.5).Title("z-score on synthetic").Done()
	save("grid", gr, err)
	t := viz.NewTable("Metrics", "method", "image AUROC", "pixel AUPRO")
	t.AddRow("a<b>", 0.91234, math.NaN())
	fmt.Println(t.Text())
}
