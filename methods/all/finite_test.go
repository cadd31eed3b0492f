package all_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/gonomaly/gonomaly/datasets/synth"
	"github.com/gonomaly/gonomaly/methods"
)

// named is an in-memory Images whose images have names, as a dataset split's do.
type named struct {
	methods.ImageList
	names []string
}

func (n named) ImageName(i int) string { return n.names[i] }

// poisoned copies images and puts v into image bad, at one pixel; images are named "img-<i>.png".
func poisoned(src methods.Images, bad int, v float32) (named, error) {
	var out named
	for i := 0; i < src.Len(); i++ {
		im, err := src.Image(i)
		if err != nil {
			return out, err
		}
		im.Pix = append([]float32(nil), im.Pix...)
		if i == bad {
			im.Pix[len(im.Pix)/2+1] = v
		}
		out.ImageList = append(out.ImageList, im)
		out.names = append(out.names, fmt.Sprintf("img-%d.png", i))
	}
	return out, nil
}

// TestNonFiniteImages feeds NaN and Inf images to every method of the catalogue, at Fit and at Predict:
// each must be a clear error naming the image, never a panic or a score (issue 15, item 2: one NaN test
// pixel panicked PatchCore's Predict, one NaN train pixel silently changed every score).
func TestNonFiniteImages(t *testing.T) {
	ctx := context.Background()
	ds, err := synth.New("tile", synth.Options{Size: 64, Train: 3, TestNormal: 2, TestPerDefect: 0, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	values := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}
	for _, e := range methods.Catalogue() {
		t.Run(e.Name, func(t *testing.T) {
			d, err := methods.Build(e.Name, methods.PresetCPU, tiny)
			if err != nil {
				t.Fatal(err)
			}
			call := func(what string, fn func() error) error {
				var err error
				func() {
					defer func() {
						if p := recover(); p != nil {
							t.Fatalf("%s panicked: %v", what, p)
						}
					}()
					err = fn()
				}()
				return err
			}
			for _, v := range values {
				train, err := poisoned(ds.Train, 2, v)
				if err != nil {
					t.Fatal(err)
				}
				err = call("Fit", func() error { return d.Fit(ctx, train) })
				if err == nil || !strings.Contains(err.Error(), "img-2.png") || !strings.Contains(err.Error(), "Inf") && !strings.Contains(err.Error(), "NaN") {
					t.Errorf("Fit with a %v pixel in img-2.png: %v; want an error naming it", v, err)
				}
			}
			if err := d.Fit(ctx, ds.Train); err != nil {
				t.Fatal(err)
			}
			for _, v := range values {
				test, err := poisoned(ds.Test, 1, v)
				if err != nil {
					t.Fatal(err)
				}
				var preds []methods.Prediction
				err = call("Predict", func() error { preds, err = d.Predict(ctx, test); return err })
				if err == nil || !strings.Contains(err.Error(), "img-1.png") {
					t.Errorf("Predict with a %v pixel in img-1.png: %v (%d predictions); want an error naming it", v, err, len(preds))
				}
			}
		})
	}
}
