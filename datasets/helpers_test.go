package datasets

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

// encode encodes g in the format named by ext (".png", ".jpg", ".bmp", ".tif").
func encode(t testing.TB, ext string, g image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	var err error
	switch strings.ToLower(ext) {
	case ".png":
		err = png.Encode(&buf, g)
	case ".jpg", ".jpeg":
		err = jpeg.Encode(&buf, g, &jpeg.Options{Quality: 95})
	case ".bmp":
		err = bmp.Encode(&buf, g)
	case ".tif", ".tiff":
		err = tiff.Encode(&buf, g, nil)
	default:
		t.Fatalf("no encoder for %q", ext)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeFile writes data to path, creating folders.
func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeImage encodes g by the extension of path and writes it.
func writeImage(t testing.TB, path string, g image.Image) {
	t.Helper()
	writeFile(t, path, encode(t, filepath.Ext(path), g))
}

// rgbPattern is an opaque w x h RGB image with R = 16x, G = 16y, B = 128 (mod 256).
func rgbPattern(w, h int) *image.NRGBA {
	g := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			g.SetNRGBA(x, y, color.NRGBA{uint8(16 * x), uint8(16 * y), 128, 255})
		}
	}
	return g
}

// grayPattern is a w x h grey image with value 10x+3y (mod 256).
func grayPattern(w, h int) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			g.SetGray(x, y, color.Gray{uint8(10*x + 3*y)})
		}
	}
	return g
}

// maskImage is a w x h grey mask with a filled rectangle [x0,x1) x [y0,y1) of value v.
func maskImage(w, h, x0, y0, x1, y1 int, v uint8) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, w, h))
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			g.SetGray(x, y, color.Gray{v})
		}
	}
	return g
}

// pngHeaderOnly returns a PNG signature and IHDR chunk claiming a w x h RGB image, with no data.
func pngHeaderOnly(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit truecolour
	chunk := append([]byte("IHDR"), ihdr...)
	binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}
