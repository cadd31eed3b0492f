package datasets

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestErrorWording: errors say what is wrong with the file (issue 15, item 7): a zero-byte file is
// empty (not of unknown format), a cut JPEG or PNG is truncated (not corrupt), a path with a newline is
// quoted so that the message stays on one line.
func TestErrorWording(t *testing.T) {
	dir := t.TempDir()
	jpg := encode(t, ".jpg", rgbPattern(64, 64))
	png := encode(t, ".png", rgbPattern(64, 64))
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty.png", nil, "empty file (0 bytes)"},
		{"half.jpg", jpg[:len(jpg)/2], "truncated jpeg file"},
		{"short.jpg", jpg[:len(jpg)-2], "truncated jpeg file"},
		{"half.png", png[:len(png)/2], "truncated png file"},
		{"header.jpg", jpg[:40], "truncated, the file ends inside its header"},
		{"new\nline.png", nil, strconv.Quote(filepath.Join(dir, "new\nline.png")) + ": empty file"},
	} {
		p := filepath.Join(dir, tc.name)
		writeFile(t, p, tc.data)
		_, err := DecodeFile(p, 3, Limits{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v; want %q", tc.name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: the message spans lines: %q", tc.name, err)
		}
	}
	if _, err := DecodeBytes(nil, 3, Limits{}); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("DecodeBytes(nil): %v", err)
	}
	if _, err := DecodeFile(filepath.Join(dir, "gone\n.png"), 3, Limits{}); err == nil || strings.Contains(err.Error(), "\n") {
		t.Errorf("missing file with a newline: %q", err)
	}
}

// TestBadMaskDoesNotBlockImages: detectors read Split.Image, which needs no mask; a broken mask file
// is still an error for Sample (and so for the evaluation), naming the mask (issue 15, item 7).
func TestBadMaskDoesNotBlockImages(t *testing.T) {
	root := mvtecFixture(t)
	mask := filepath.Join(root, "bottle", "ground_truth", "crack", "000_mask.png")
	writeFile(t, mask, []byte("not a png"))
	d, err := LoadMVTec(root, "bottle", Options{})
	if err != nil {
		t.Fatal(err)
	}
	i := 0 // test/crack/000.png
	if d.Test.Items[i].MaskPath != mask {
		t.Fatalf("item 0 has mask %q", d.Test.Items[i].MaskPath)
	}
	im, err := d.Test.Image(i)
	if err != nil || im.W != fixW || im.H != fixH {
		t.Errorf("Image with a bad mask: %dx%d, %v; want the image", im.W, im.H, err)
	}
	if _, err := d.Test.Sample(i); err == nil || !strings.Contains(err.Error(), mask) {
		t.Errorf("Sample with a bad mask: %v; want an error naming %s", err, mask)
	}
}
