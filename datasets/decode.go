package datasets

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // registers JPEG with image.Decode
	_ "image/png"  // registers PNG with image.Decode
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	_ "golang.org/x/image/bmp"  // registers BMP with image.Decode
	_ "golang.org/x/image/tiff" // registers TIFF with image.Decode
)

// Limits bounds the size of images the decoders accept, checked with image.DecodeConfig before any pixel
// is decoded, so a small file whose header claims a huge image (a decompression bomb) is rejected
// instead of exhausting memory.
type Limits struct {
	// MaxSide is the largest accepted width or height in pixels. Default (0): DefaultMaxSide.
	MaxSide int
	// MaxPixels is the largest accepted width*height. Default (0): DefaultMaxPixels.
	MaxPixels int
}

const (
	// DefaultMaxSide is the default Limits.MaxSide: 16384 pixels.
	DefaultMaxSide = 16384
	// DefaultMaxPixels is the default Limits.MaxPixels: 100 megapixels.
	DefaultMaxPixels = 100_000_000
)

func (l Limits) orDefault() Limits {
	if l.MaxSide <= 0 {
		l.MaxSide = DefaultMaxSide
	}
	if l.MaxPixels <= 0 {
		l.MaxPixels = DefaultMaxPixels
	}
	return l
}

// check returns an error if a w x h image exceeds the limits.
func (l Limits) check(w, h int) error {
	l = l.orDefault()
	switch {
	case w <= 0 || h <= 0:
		return fmt.Errorf("invalid image size %dx%d", w, h)
	case w > l.MaxSide || h > l.MaxSide:
		return fmt.Errorf("image size %dx%d exceeds the limit of %d pixels per side", w, h, l.MaxSide)
	case int64(w)*int64(h) > int64(l.MaxPixels):
		return fmt.Errorf("image size %dx%d (%d pixels) exceeds the limit of %d pixels", w, h, int64(w)*int64(h), l.MaxPixels)
	}
	return nil
}

// imageExts are the file extensions (lower case) the loaders treat as images.
var imageExts = map[string]bool{".png": true, ".jpg": true, ".jpeg": true, ".bmp": true, ".tif": true, ".tiff": true}

// IsImageFile reports whether a file name has an image extension the decoders read (PNG, JPEG, BMP,
// TIFF; case-insensitive). Loaders skip and count files for which it is false.
func IsImageFile(name string) bool {
	return imageExts[strings.ToLower(filepath.Ext(name))]
}

// ImageConfig is what a file's header says: format ("png", "jpeg", "bmp", "tiff") and size.
type ImageConfig struct {
	Format string
	Width  int
	Height int
}

// DecodeConfigFile reads only the header of an image file and checks its size against the limits.
// Errors name the file.
func DecodeConfigFile(path string, lim Limits) (ImageConfig, error) {
	f, err := openRegular(path)
	if err != nil {
		return ImageConfig{}, err
	}
	defer f.Close()
	cfg, format, err := safeDecodeConfig(bufio.NewReader(f))
	if err != nil {
		return ImageConfig{}, fmt.Errorf("%s: %w", quote(path), notReadable(err))
	}
	if err := lim.check(cfg.Width, cfg.Height); err != nil {
		return ImageConfig{}, fmt.Errorf("%s: %w", quote(path), err)
	}
	return ImageConfig{Format: format, Width: cfg.Width, Height: cfg.Height}, nil
}

// DecodeFile decodes an image file (PNG, JPEG, BMP or TIFF) into an Image with the given number of
// channels (1 or 3; 0 means 3). Grey inputs are replicated to 3 channels, colour inputs are converted to
// luma (ITU-R 601, as PIL's convert("L")) for 1 channel, alpha is dropped, 16-bit inputs keep their
// precision. The header is checked against lim before decoding. Errors name the file.
func DecodeFile(path string, channels int, lim Limits) (Image, error) {
	g, err := decodeGoFile(path, lim)
	if err != nil {
		return Image{}, err
	}
	im, err := FromGoImage(g, channels)
	if err != nil {
		return Image{}, fmt.Errorf("%s: %w", quote(path), err)
	}
	return im, nil
}

// decodeGoFile decodes a file to a Go image after checking its header; errors name the file. It
// streams from the file, so a huge file that is not an image costs no memory.
func decodeGoFile(path string, lim Limits) (image.Image, error) {
	f, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	g, err := decodeGo(f, lim)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", quote(path), err)
	}
	return g, nil
}

// openRegular opens an image file for reading after checking it is a regular file (links followed):
// opening a FIFO named like an image would block forever, a device could stream without end. Errors
// name the file.
func openRegular(path string) (*os.File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, quotePathError(err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file (%v), not read as an image", quote(path), st.Mode().Type())
	}
	if st.Size() == 0 {
		return nil, fmt.Errorf("%s: %w", quote(path), errEmpty)
	}
	f, err := os.Open(path)
	return f, quotePathError(err)
}

// quote returns path as is when it prints on one line, else Go-quoted: a newline or another control
// character in a file name must not split or garble an error message.
func quote(path string) string {
	if !utf8.ValidString(path) || strings.IndexFunc(path, unicode.IsControl) >= 0 {
		return strconv.Quote(path)
	}
	return path
}

// quotePathError quotes the path of an *os.PathError when quote would; other errors are returned as
// they are. errors.Is still sees the underlying error.
func quotePathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) && quote(pe.Path) != pe.Path {
		return fmt.Errorf("%s %s: %w", pe.Op, quote(pe.Path), pe.Err)
	}
	return err
}

// DecodeBytes is DecodeFile for an in-memory encoded image. It never panics on hostile input.
func DecodeBytes(data []byte, channels int, lim Limits) (Image, error) {
	g, err := decodeGo(bytes.NewReader(data), lim)
	if err != nil {
		return Image{}, err
	}
	return FromGoImage(g, channels)
}

// decodeGo checks the header then decodes to a Go image.
func decodeGo(r io.ReadSeeker, lim Limits) (image.Image, error) {
	cfg, format, err := safeDecodeConfig(bufio.NewReader(r))
	if err != nil {
		return nil, notReadable(err)
	}
	if err := lim.check(cfg.Width, cfg.Height); err != nil {
		return nil, err
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	g, err := safeDecode(bufio.NewReaderSize(r, 1<<16))
	if err != nil {
		if truncation(err) {
			return nil, fmt.Errorf("truncated %s file (it ends before its image data does): %w", format, err)
		}
		return nil, fmt.Errorf("corrupt %s file: %w", format, err)
	}
	b := g.Bounds()
	if b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return nil, fmt.Errorf("%s header says %dx%d but decoded %dx%d", format, cfg.Width, cfg.Height, b.Dx(), b.Dy())
	}
	if err := lim.check(b.Dx(), b.Dy()); err != nil {
		return nil, err
	}
	return g, nil
}

// truncation reports whether a decoder's error means its input ended too early: an end of file, or
// the messages with which the JPEG and PNG decoders report image data cut short.
func truncation(err error) bool {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "short Huffman data") || strings.Contains(msg, "not enough pixel data")
}

// notReadable explains a header that no registered decoder accepts.
func notReadable(err error) error {
	if errors.Is(err, errEmpty) {
		return err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("not a readable image: truncated, the file ends inside its header: %w", err)
	}
	if errors.Is(err, image.ErrFormat) {
		return fmt.Errorf("not a readable image: unknown format (PNG, JPEG, BMP and TIFF are supported): %w", err)
	}
	return fmt.Errorf("not a readable image: %w", err)
}

// errEmpty is the error for a zero-byte input.
var errEmpty = errors.New("empty file (0 bytes), not an image")

// safeDecodeConfig and safeDecode turn a panic of a third-party decoder on hostile input into an error:
// a bad file must never bring down a notebook.
func safeDecodeConfig(r *bufio.Reader) (cfg image.Config, format string, err error) {
	if _, err := r.Peek(1); err == io.EOF {
		return cfg, "", errEmpty
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("decoder failed on malformed header: %v", p)
		}
	}()
	return image.DecodeConfig(r)
}

func safeDecode(r io.Reader) (g image.Image, err error) {
	defer func() {
		if p := recover(); p != nil {
			g, err = nil, fmt.Errorf("decoder failed on malformed data: %v", p)
		}
	}()
	g, _, err = image.Decode(r)
	return g, err
}

// Luma weights of ITU-R BT.601, the ones PIL's convert("L") uses.
const (
	lumaR = 0.299
	lumaG = 0.587
	lumaB = 0.114
)

// FromGoImage converts a Go image into an Image with 1 or 3 channels (0 means 3), values in [0, 1].
// Common concrete types (RGBA, NRGBA, Gray, Gray16, RGBA64, NRGBA64, YCbCr, Paletted, CMYK) take fast
// paths; others go through color.Model conversion per pixel.
func FromGoImage(g image.Image, channels int) (Image, error) {
	conv, w, h, channels, err := rowConverter(g, channels)
	if err != nil {
		return Image{}, err
	}
	out := NewImage(h, w, channels)
	for y := 0; y < h; y++ {
		conv(y, out.Pix[y*w*channels:(y+1)*w*channels])
	}
	return out, nil
}

// rowConverter returns a function that writes row y (0-based) of g as w*channels floats into dst,
// choosing the fast path for g's concrete type once. Converting row by row lets the resizer filter
// a row as soon as it is converted, without holding the full-size float image.
func rowConverter(g image.Image, channels int) (conv func(y int, dst []float32), w, h, c int, err error) {
	if channels == 0 {
		channels = 3
	}
	if channels != 1 && channels != 3 {
		return nil, 0, 0, 0, fmt.Errorf("channels must be 1 or 3, got %d", channels)
	}
	b := g.Bounds()
	w, h = b.Dx(), b.Dy()
	if w <= 0 || h <= 0 {
		return nil, 0, 0, 0, fmt.Errorf("empty image %dx%d", w, h)
	}
	const inv8 = 1.0 / 255
	const inv16 = 1.0 / 65535
	gray := channels == 1
	// put writes pixel x of dst from r, g, b in [0,1].
	put := func(dst []float32, x int, r, gg, bb float32) {
		if gray {
			dst[x] = lumaR*r + lumaG*gg + lumaB*bb
		} else {
			dst[3*x], dst[3*x+1], dst[3*x+2] = r, gg, bb
		}
	}
	switch src := g.(type) {
	case *image.Gray:
		conv = func(y int, dst []float32) {
			row := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):][:w]
			if gray {
				for x, v := range row {
					dst[x] = float32(v) * inv8
				}
				return
			}
			for x, v := range row {
				f := float32(v) * inv8
				dst[3*x], dst[3*x+1], dst[3*x+2] = f, f, f
			}
		}
	case *image.Gray16:
		conv = func(y int, dst []float32) {
			row := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):][:2*w]
			for x := 0; x < w; x++ {
				f := float32(uint16(row[2*x])<<8|uint16(row[2*x+1])) * inv16
				if gray {
					dst[x] = f
				} else {
					dst[3*x], dst[3*x+1], dst[3*x+2] = f, f, f
				}
			}
		}
	case *image.NRGBA:
		// Straight alpha: drop it, as PIL's convert("RGB") does.
		conv = func(y int, dst []float32) {
			row := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):][:4*w]
			for x := 0; x < w; x++ {
				p := row[4*x : 4*x+3 : 4*x+3]
				put(dst, x, float32(p[0])*inv8, float32(p[1])*inv8, float32(p[2])*inv8)
			}
		}
	case *image.RGBA:
		// Premultiplied alpha: undo the premultiplication so colours match the straight-alpha case.
		conv = func(y int, dst []float32) {
			row := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):][:4*w]
			for x := 0; x < w; x++ {
				p := row[4*x : 4*x+4 : 4*x+4]
				r, gg, bb := float32(p[0])*inv8, float32(p[1])*inv8, float32(p[2])*inv8
				if a := p[3]; a != 255 && a != 0 {
					s := 255 / float32(a)
					r, gg, bb = min(r*s, 1), min(gg*s, 1), min(bb*s, 1)
				}
				put(dst, x, r, gg, bb)
			}
		}
	case *image.NRGBA64:
		conv = func(y int, dst []float32) {
			row := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):][:8*w]
			for x := 0; x < w; x++ {
				p := row[8*x : 8*x+6 : 8*x+6]
				put(dst, x, float32(uint16(p[0])<<8|uint16(p[1]))*inv16,
					float32(uint16(p[2])<<8|uint16(p[3]))*inv16,
					float32(uint16(p[4])<<8|uint16(p[5]))*inv16)
			}
		}
	case *image.RGBA64:
		conv = func(y int, dst []float32) {
			row := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):][:8*w]
			for x := 0; x < w; x++ {
				p := row[8*x : 8*x+8 : 8*x+8]
				r := float32(uint16(p[0])<<8|uint16(p[1])) * inv16
				gg := float32(uint16(p[2])<<8|uint16(p[3])) * inv16
				bb := float32(uint16(p[4])<<8|uint16(p[5])) * inv16
				if a := uint16(p[6])<<8 | uint16(p[7]); a != 0xffff && a != 0 {
					s := 65535 / float32(a)
					r, gg, bb = min(r*s, 1), min(gg*s, 1), min(bb*s, 1)
				}
				put(dst, x, r, gg, bb)
			}
		}
	case *image.YCbCr:
		// COffset is a row term plus a column term for every subsampling ratio: precompute the columns.
		col := make([]int, w)
		c0 := src.COffset(b.Min.X, b.Min.Y)
		for x := range col {
			col[x] = src.COffset(b.Min.X+x, b.Min.Y) - c0
		}
		conv = func(y int, dst []float32) {
			yRow := src.Y[src.YOffset(b.Min.X, b.Min.Y+y):][:w]
			cRow := src.COffset(b.Min.X, b.Min.Y+y)
			for x, cx := range col {
				ci := cRow + cx
				r, gg, bb := color.YCbCrToRGB(yRow[x], src.Cb[ci], src.Cr[ci])
				put(dst, x, float32(r)*inv8, float32(gg)*inv8, float32(bb)*inv8)
			}
		}
	case *image.Paletted:
		// Look-up table of the palette in [0,1] (straight alpha dropped); indices beyond the palette
		// read black, as image.Paletted.At does.
		lut := make([][3]float32, 256)
		for i, c := range src.Palette {
			n := straightRGB(c)
			lut[i] = [3]float32{float32(n.R) * inv16, float32(n.G) * inv16, float32(n.B) * inv16}
		}
		conv = func(y int, dst []float32) {
			row := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):][:w]
			for x, v := range row {
				p := &lut[v]
				put(dst, x, p[0], p[1], p[2])
			}
		}
	case *image.CMYK:
		conv = func(y int, dst []float32) {
			row := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):][:4*w]
			for x := 0; x < w; x++ {
				p := row[4*x : 4*x+4 : 4*x+4]
				r, gg, bb := color.CMYKToRGB(p[0], p[1], p[2], p[3])
				put(dst, x, float32(r)*inv8, float32(gg)*inv8, float32(bb)*inv8)
			}
		}
	default:
		conv = func(y int, dst []float32) {
			for x := 0; x < w; x++ {
				n := straightRGB(g.At(b.Min.X+x, b.Min.Y+y))
				put(dst, x, float32(n.R)*inv16, float32(n.G)*inv16, float32(n.B)*inv16)
			}
		}
	}
	return conv, w, h, channels, nil
}

// straightRGB converts a colour to non-premultiplied 16-bit RGBA, keeping the colour of transparent
// straight-alpha pixels (color.NRGBA64Model would go through premultiplied RGBA and lose it).
func straightRGB(c color.Color) color.NRGBA64 {
	if n, ok := c.(color.NRGBA); ok {
		return color.NRGBA64{uint16(n.R) * 0x101, uint16(n.G) * 0x101, uint16(n.B) * 0x101, uint16(n.A) * 0x101}
	}
	return color.NRGBA64Model.Convert(c).(color.NRGBA64)
}

// maskFromGoImage binarises a decoded mask: a pixel is defect (1) when any of its colour channels is
// non-zero. Alpha is ignored, so an opaque black mask is all normal.
func maskFromGoImage(g image.Image) Image {
	b := g.Bounds()
	w, h := b.Dx(), b.Dy()
	out := NewImage(h, w, 1)
	switch src := g.(type) {
	case *image.Gray:
		for y := 0; y < h; y++ {
			row := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):][:w]
			for x, v := range row {
				if v != 0 {
					out.Pix[y*w+x] = 1
				}
			}
		}
	case *image.Paletted:
		var nz [256]bool
		for i, c := range src.Palette {
			n := color.NRGBAModel.Convert(c).(color.NRGBA)
			nz[i] = n.R|n.G|n.B != 0
		}
		for y := 0; y < h; y++ {
			row := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):][:w]
			for x, v := range row {
				if nz[v] {
					out.Pix[y*w+x] = 1
				}
			}
		}
	case *image.Gray16:
		for y := 0; y < h; y++ {
			row := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):][:2*w]
			for x := 0; x < w; x++ {
				if row[2*x]|row[2*x+1] != 0 {
					out.Pix[y*w+x] = 1
				}
			}
		}
	case *image.NRGBA, *image.RGBA:
		// Both store 4 bytes per pixel with alpha last; colour is zero in both or in neither.
		var pix []byte
		var off func(x, y int) int
		if n, ok := src.(*image.NRGBA); ok {
			pix, off = n.Pix, n.PixOffset
		} else {
			r := src.(*image.RGBA)
			pix, off = r.Pix, r.PixOffset
		}
		for y := 0; y < h; y++ {
			row := pix[off(b.Min.X, b.Min.Y+y):][:4*w]
			for x := 0; x < w; x++ {
				if row[4*x]|row[4*x+1]|row[4*x+2] != 0 {
					out.Pix[y*w+x] = 1
				}
			}
		}
	case *image.YCbCr:
		// Lossy masks: luma decides, so chroma noise does not mark pixels.
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				if src.Y[src.YOffset(b.Min.X+x, b.Min.Y+y)] != 0 {
					out.Pix[y*w+x] = 1
				}
			}
		}
	default:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				n := straightRGB(g.At(b.Min.X+x, b.Min.Y+y))
				if n.R|n.G|n.B != 0 {
					out.Pix[y*w+x] = 1
				}
			}
		}
	}
	return out
}

// DecodeMaskFile decodes a ground-truth mask file into a binary Image with C == 1 (non-zero is defect).
// Errors name the file.
func DecodeMaskFile(path string, lim Limits) (Image, error) {
	g, err := decodeGoFile(path, lim)
	if err != nil {
		return Image{}, err
	}
	return maskFromGoImage(g), nil
}
