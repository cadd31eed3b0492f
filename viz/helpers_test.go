package viz

import (
	"bytes"
	"encoding/xml"
	"image"
	"image/color"
	"image/png"
	"io"
	"strings"
	"testing"
)

// decodePNG decodes data and fails the test if it is not a PNG.
func decodePNG(t *testing.T, data []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	return img
}

func rgb(c color.Color) (int, int, int) {
	r, g, b, _ := c.RGBA()
	return int(r >> 8), int(g >> 8), int(b >> 8)
}

// near reports whether two colours differ by at most tol in every channel.
func near(a, b color.Color, tol int) bool {
	ar, ag, ab := rgb(a)
	br, bg, bb := rgb(b)
	abs := func(v int) int {
		if v < 0 {
			return -v
		}
		return v
	}
	return abs(ar-br) <= tol && abs(ag-bg) <= tol && abs(ab-bb) <= tol
}

// countNear counts the pixels within tol of c.
func countNear(img image.Image, c color.Color, tol int) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if near(img.At(x, y), c, tol) {
				n++
			}
		}
	}
	return n
}

// inkFraction is the fraction of pixels that are not (near) white.
func inkFraction(img image.Image) float64 {
	b := img.Bounds()
	return 1 - float64(countNear(img, color.White, 8))/float64(b.Dx()*b.Dy())
}

// svgTexts checks data is well-formed XML with an <svg> root and returns the concatenated character
// data of all <text> elements.
func svgTexts(t *testing.T, data []byte) string {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(data))
	var texts strings.Builder
	depth, inText, root := 0, 0, ""
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				root = el.Name.Local
			}
			depth++
			if el.Name.Local == "text" {
				inText++
			}
		case xml.EndElement:
			depth--
			if el.Name.Local == "text" {
				inText--
				texts.WriteString("\n")
			}
		case xml.CharData:
			if inText > 0 {
				texts.Write(el)
			}
		}
	}
	if root != "svg" {
		t.Fatalf("SVG root element is %q, want svg", root)
	}
	if depth != 0 {
		t.Fatalf("SVG has unbalanced elements")
	}
	return texts.String()
}
