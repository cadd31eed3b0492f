package features

import (
	"context"
	"strings"
	"testing"

	"github.com/gonomaly/gonomaly/datasets"
)

type imageSlice []datasets.Image

func (s imageSlice) Len() int                            { return len(s) }
func (s imageSlice) Image(i int) (datasets.Image, error) { return s[i], nil }

func TestExtractorTrainChecks(t *testing.T) {
	e := &Extractor{Arch: "resnet18", Weights: "random", WidthDiv: 8, Recipe: Config{}.WithDefaults()}
	if got := e.Describe(); got != "resnet18" {
		t.Fatalf("Describe before build = %q", got)
	}
	if _, _, err := e.ExtractTrain(context.Background(), imageSlice{}); err == nil || !strings.Contains(err.Error(), "no train images") {
		t.Fatalf("empty split: %v", err)
	}
	mixed := imageSlice{datasets.NewImage(32, 32, 3), datasets.NewImage(32, 40, 3)}
	if _, _, err := e.ExtractTrain(context.Background(), mixed); err == nil || !strings.Contains(err.Error(), "32x40") {
		t.Fatalf("mixed sizes: %v", err)
	}
	if !strings.Contains(e.Describe(), "resnet18 (") {
		t.Fatalf("Describe after build = %q", e.Describe())
	}
}
