package methods

import (
	"context"
	"strings"
	"testing"
)

// named is imgs with file names.
type named struct{ imgs }

func (n named) ImageName(i int) string { return "/data/x/" + string(rune('a'+i)) + ".png" }

func TestSettingsValidate(t *testing.T) {
	s := Settings{}.WithDefaults(Settings{ImageSize: 96, Backbone: "resnet18", ImageScore: ScoreMapMax})
	if s.FeatureBatch != DefaultFeatureBatch || s.WidthDiv != 1 || s.ImageSize != 96 || s.ImageScore != ScoreMapMax {
		t.Fatalf("defaults %+v", s)
	}
	if err := s.Validate("m", 32, 32, ScoreMapMax); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		edit func(*Settings)
		want string
	}{
		{func(s *Settings) { s.ImageSize = 16 }, "too small"},
		{func(s *Settings) { s.ImageSize = 100 }, "multiple of 32"},
		{func(s *Settings) { s.FeatureBatch = -1 }, "FeatureBatch"},
		{func(s *Settings) { s.ImageScore = ScoreReweighted }, `"reweighted" is not one of map_max`},
	} {
		bad := s
		c.edit(&bad)
		if err := bad.Validate("m", 32, 32, ScoreMapMax); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", bad, err, c.want)
		}
	}
}

func TestCheckInputNamesTheFile(t *testing.T) {
	s := Settings{ImageSize: 4}
	images := named{imgs{constImage(4, 4, 3, 0), constImage(5, 6, 3, 0)}}
	checked := s.Checked(images, 3)
	if _, err := checked.Image(0); err != nil {
		t.Fatal(err)
	}
	_, err := checked.Image(1)
	want := "/data/x/b.png is 6x5 (W x H) but the detector's ImageSize is 4: load the data with datasets.Options{ImageSize: 4}"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("mis-sized image: %v\nwant %q", err, want)
	}
	if _, err := Slice(checked, 1, 2).Image(0); err == nil || !strings.Contains(err.Error(), "b.png") {
		t.Fatalf("a slice names the original file: %v", err)
	}
	if _, err := s.Checked(imgs{constImage(4, 4, 1, 0)}, 3).Image(0); err == nil || !strings.Contains(err.Error(), "image 0 has 1 channels") {
		t.Fatalf("grey image on an RGB detector: %v", err)
	}
}

// TestPredictEachFallback: a detector that does not stream is driven one feature batch at a time.
func TestPredictEachFallback(t *testing.T) {
	ctx := context.Background()
	d := &meanDetector{}
	if err := d.Fit(ctx, imgs{constImage(2, 2, 1, 0)}); err != nil {
		t.Fatal(err)
	}
	var in imgs
	for i := range 19 {
		in = append(in, constImage(2, 2, 1, float32(i)))
	}
	want, err := d.Predict(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	var got []Prediction
	err = PredictEach(ctx, d, in, func(i int, p Prediction) error {
		if i != len(got) {
			t.Fatalf("index %d after %d predictions", i, len(got))
		}
		got = append(got, p)
		return nil
	})
	if err != nil || len(got) != len(want) {
		t.Fatalf("%d predictions, %v", len(got), err)
	}
	for i := range want {
		if got[i].Score != want[i].Score {
			t.Fatalf("prediction %d: %v, want %v", i, got[i].Score, want[i].Score)
		}
	}
	collected, err := CollectPredictions(ctx, in, func(ctx context.Context, im Images, fn func(int, Prediction) error) error {
		return PredictEach(ctx, d, im, fn)
	})
	if err != nil || len(collected) != len(in) || collected[18].Score != want[18].Score {
		t.Fatalf("CollectPredictions: %d, %v", len(collected), err)
	}
}
