package datasets

import (
	"image"
	"image/color"
	"testing"

	"github.com/gonomaly/gonomaly/internal/fuzzcorpus"
)

// TestWriteFuzzCorpus writes FuzzDecode's committed seed corpus, testdata/fuzz/FuzzDecode, when
// GONOMALY_WRITE_CORPUS=1 (otherwise it checks the corpus is there): files the hostile-input tests
// found interesting, each a case `go test` then runs through FuzzDecode. Run
// `GONOMALY_WRITE_CORPUS=1 go test ./datasets -run TestWriteFuzzCorpus` to regenerate it.
func TestWriteFuzzCorpus(t *testing.T) {
	fuzzcorpus.Maintain(t, "FuzzDecode", func() map[string][]byte {
		g16 := image.NewGray16(image.Rect(0, 0, 5, 4))
		pal := image.NewPaletted(image.Rect(0, 0, 4, 4), color.Palette{color.Black, color.White, color.RGBA{200, 10, 10, 128}})
		nrgba := image.NewNRGBA(image.Rect(0, 0, 3, 3))
		for i := range g16.Pix {
			g16.Pix[i] = byte(i * 37)
		}
		for i := range pal.Pix {
			pal.Pix[i] = byte(i % 3)
		}
		for i := range nrgba.Pix {
			nrgba.Pix[i] = byte(i * 29)
		}
		jpg := encode(t, ".jpg", rgbPattern(16, 16))
		png := encode(t, ".png", rgbPattern(16, 16))
		seeds := map[string][]byte{
			"empty":            {},
			"png-gray16":       encode(t, ".png", g16),
			"png-paletted":     encode(t, ".png", pal),
			"png-nrgba":        encode(t, ".png", nrgba),
			"png-cut-in-data":  png[:len(png)/2],
			"png-zero-width":   pngHeaderOnly(0, 5),
			"png-bomb-header":  pngHeaderOnly(100000, 100000),
			"jpeg-grey":        encode(t, ".jpg", grayPattern(9, 7)),
			"jpeg-cut-huffman": jpg[:len(jpg)/2],
			"jpeg-cut-header":  jpg[:40],
			"jpeg-no-eoi":      jpg[:len(jpg)-2],
			"bmp-cut":          encode(t, ".bmp", rgbPattern(8, 8))[:60],
			"tiff-cut-ifd":     encode(t, ".tif", rgbPattern(8, 8))[:100],
			"tiff-gray":        encode(t, ".tif", grayPattern(6, 5)),
			"text":             []byte("this is not an image at all\n"),
		}
		return seeds
	})
}
