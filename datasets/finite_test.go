package datasets

import (
	"math"
	"path/filepath"
	"strings"
	"testing"
)

// TestNormalisationOverflowIsAnError: a Std small enough to overflow makes infinite pixels; loading is
// then an error naming the file, not an image that panics or silently skews a detector (issue 15, item 2).
func TestNormalisationOverflowIsAnError(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "035.png")
	writeImage(t, p, rgbPattern(fixW, fixH))
	src, err := NewDiskSource(Options{Mean: []float32{0}, Std: []float32{1e-40}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Load(Item{ID: "035.png", ImagePath: p})
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "is too small") && !strings.Contains(err.Error(), "Std too small") {
		t.Fatalf("Load with Std 1e-40: %v; want an error naming %s and the Std", err, p)
	}
	if _, err := NewDiskSource(Options{Mean: []float32{float32(math.NaN())}, Std: []float32{1}}); err == nil {
		t.Error("a NaN Mean was accepted")
	}
	im := NewImage(2, 3, 3)
	im.Pix[(1*3+2)*3+1] = float32(math.NaN())
	if err := im.CheckFinite(); err == nil || !strings.Contains(err.Error(), "pixel (x 2, y 1), channel 1 is NaN") {
		t.Errorf("CheckFinite = %v", err)
	}
}
