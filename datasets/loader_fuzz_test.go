package datasets

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoadMVTec lays out an MVTec-style category whose test image and mask hold arbitrary bytes, loads
// it and reads every image and mask: each read gives a valid image or an error naming its file, never a
// panic or a hang.
func FuzzLoadMVTec(f *testing.F) {
	good := encode(f, ".png", rgbPattern(8, 6))
	mask := encode(f, ".png", grayPattern(8, 6))
	f.Add(good, mask)
	f.Add(good[:len(good)/2], mask)
	f.Add(good, []byte{})
	f.Add([]byte("not an image"), mask[:20])
	f.Fuzz(func(t *testing.T, img, msk []byte) {
		root := t.TempDir()
		write := func(rel string, data []byte) {
			path := filepath.Join(root, "cat", rel)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		write("train/good/000.png", good)
		write("test/crack/000.png", img)
		write("ground_truth/crack/000_mask.png", msk)
		ds, err := LoadMVTec(root, "cat", Options{ImageSize: 8})
		if err != nil {
			return // a clear error at load is an answer too
		}
		for i := 0; i < ds.Test.Len(); i++ {
			if im, err := ds.Test.Image(i); err == nil {
				if err := im.Validate(); err != nil {
					t.Fatalf("image %d accepted but invalid: %v", i, err)
				}
			} else if !strings.Contains(err.Error(), "000") {
				t.Fatalf("image error does not name the file: %v", err)
			}
			if m, err := ds.Test.Mask(i); err == nil && m.Pix != nil {
				if err := m.Validate(); err != nil {
					t.Fatalf("mask %d accepted but invalid: %v", i, err)
				}
			} else if err != nil && !strings.Contains(err.Error(), "000") { // the mask, or its image whose size it takes
				t.Fatalf("mask error does not name the file: %v", err)
			}
		}
	})
}
