package features

import (
	"context"
	"strings"
	"testing"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/methods"
)

type imageSlice []datasets.Image

func (s imageSlice) Len() int                            { return len(s) }
func (s imageSlice) Image(i int) (datasets.Image, error) { return s[i], nil }

func TestExtractorTrainChecks(t *testing.T) {
	s := methods.Settings{ImageSize: 32, Backbone: "resnet18", Weights: "random", WidthDiv: 8, FeatureBatch: 4}
	e, err := NewExtractor(s, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.Describe(), "resnet18 (") {
		t.Fatalf("Describe = %q", e.Describe())
	}
	if _, _, err := e.ExtractTrain(context.Background(), imageSlice{}); err == nil || !strings.Contains(err.Error(), "no train images") {
		t.Fatalf("empty split: %v", err)
	}
	mixed := imageSlice{datasets.NewImage(32, 32, 3), datasets.NewImage(32, 40, 3)}
	if _, _, err := e.ExtractTrain(context.Background(), mixed); err == nil || !strings.Contains(err.Error(), "image 1 is 40x32 (W x H)") {
		t.Fatalf("mixed sizes: %v", err)
	}
	s.Weights = "/nonexistent/weights.safetensors"
	if _, err := NewExtractor(s, Config{}); err == nil || !strings.Contains(err.Error(), s.Weights) {
		t.Fatalf("missing weights file: %v", err)
	}
}
