// Package datasets reads the anomaly-detection benchmarks users have on disk (MVTec AD, MPDD, BTAD,
// VisA, plain folders) and turns images into float tensors; datasets/synth makes a procedural one.
//
// It knows nothing of methods: it hands out images, masks, labels and defect types.
package datasets

import (
	"fmt"

	"github.com/gonomaly/gonomaly/internal/finite"
)

// Image is a float32 image in HWC (channels-last) layout, row-major, values normally in [0, 1].
// Anomaly maps and masks are Images with C == 1 (masks hold exactly 0 or 1).
type Image struct {
	H, W, C int
	Pix     []float32
}

// NewImage allocates a zero image of the given size.
func NewImage(h, w, c int) Image {
	return Image{H: h, W: w, C: c, Pix: make([]float32, h*w*c)}
}

// At returns the value at row y, column x, channel ch.
func (im Image) At(y, x, ch int) float32 { return im.Pix[(y*im.W+x)*im.C+ch] }

// Set sets the value at row y, column x, channel ch.
func (im Image) Set(y, x, ch int, v float32) { im.Pix[(y*im.W+x)*im.C+ch] = v }

// Validate reports whether the header matches the pixel slice.
func (im Image) Validate() error {
	if im.H <= 0 || im.W <= 0 || im.C <= 0 {
		return fmt.Errorf("image has invalid size %dx%dx%d", im.H, im.W, im.C)
	}
	if len(im.Pix) != im.H*im.W*im.C {
		return fmt.Errorf("image %dx%dx%d has %d values, want %d", im.H, im.W, im.C, len(im.Pix), im.H*im.W*im.C)
	}
	return nil
}

// CheckFinite returns an error naming the first NaN or infinite value of the image by its pixel and
// channel: detectors cannot score such an image (a NaN never wins a nearest-neighbour comparison).
func (im Image) CheckFinite() error {
	i := finite.Index(im.Pix)
	if i < 0 {
		return nil
	}
	c := max(im.C, 1)
	p := i / c
	w := max(im.W, 1)
	return fmt.Errorf("pixel (x %d, y %d), channel %d is %s: images must be finite", p%w, p/w, i%c, finite.Describe(im.Pix[i]))
}

// Label says whether a sample is normal or anomalous.
type Label int

const (
	// Normal is a defect-free sample.
	Normal Label = 0
	// Anomalous is a sample with at least one defect.
	Anomalous Label = 1
)
