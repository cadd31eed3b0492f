package features

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/gonomaly/gonomaly/datasets"
)

// namedImages are images whose names are files; image bad is 40x48 instead of 48x48.
type namedImages struct {
	images
	bad int
}

func (n namedImages) Image(i int) (datasets.Image, error) {
	if i == n.bad {
		return datasets.NewImage(48, 40, 3), nil
	}
	return n.images.Image(i)
}

func (n namedImages) ImageName(i int) string { return fmt.Sprintf("/data/%03d.png", i) }

// TestErrorsNameTheImageAcrossChunks: an error about image 35 names /data/035.png, not its index in
// its chunk ("image 3"), and gives sizes as W x H (issue 15, item 7).
func TestErrorsNameTheImageAcrossChunks(t *testing.T) {
	b := smallBackbone(t, 1)
	_, err := Extract(context.Background(), b, namedImages{images{40, 48, 0}, 35}, Config{Dim: 20, Chunk: 32, BatchSize: 2})
	if err == nil || !strings.Contains(err.Error(), "/data/035.png") || !strings.Contains(err.Error(), "40x48 (W x H)") {
		t.Fatalf("Extract: %v; want an error naming /data/035.png, 40x48 (W x H)", err)
	}
}
