package datasets

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestMasksDecodeNoImage is issue 17's finding 7 (masks): Split.Masks gives the masks Sample gives, with
// and without resizing and cropping, without decoding any image: with every test image's pixel data cut
// off after its header, Masks still succeeds while Sample fails.
func TestMasksDecodeNoImage(t *testing.T) {
	for _, opts := range []Options{{}, {ImageSize: 8}, {ImageSize: 8, CropSize: 6}} {
		root := mvtecFixture(t)
		ds, err := LoadMVTec(root, "bottle", opts)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]Image, ds.Test.Len())
		for i := range want {
			s, err := ds.Test.Sample(i)
			if err != nil {
				t.Fatal(err)
			}
			want[i] = s.Mask
		}
		for _, it := range ds.Test.Items {
			writeFile(t, it.ImagePath, pngHeaderOnly(fixW, fixH))
		}
		got, err := ds.Test.Masks()
		if err != nil {
			t.Fatalf("%+v: Masks read the images: %v", opts, err)
		}
		for i := range want {
			if got[i].H != want[i].H || got[i].W != want[i].W || !slices.Equal(got[i].Pix, want[i].Pix) {
				t.Errorf("%+v: mask %d (%s) is %dx%d, differs from Sample's %dx%d", opts, i, ds.Test.Items[i].ID, got[i].W, got[i].H, want[i].W, want[i].H)
			}
		}
		if _, err := ds.Test.Sample(0); err == nil {
			t.Fatalf("%+v: Sample decoded a truncated image", opts)
		}
	}
}

// TestSplitImageName: errors about an image can name its file.
func TestSplitImageName(t *testing.T) {
	root := mvtecFixture(t)
	ds, err := LoadMVTec(root, "bottle", Options{})
	if err != nil {
		t.Fatal(err)
	}
	name := ds.Test.ImageName(0)
	if !strings.HasPrefix(name, root) || filepath.Ext(name) != ".png" {
		t.Errorf("ImageName(0) = %q, want the image file under %s", name, root)
	}
	if _, err := os.Stat(name); err != nil {
		t.Error(err)
	}
}
