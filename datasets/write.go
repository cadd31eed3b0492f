package datasets

import (
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
)

// ToGoImage converts an Image with values in [0, 1] (clamped) to a Go image: *image.Gray for C == 1,
// *image.NRGBA for C == 3 (opaque) or C == 4. Masks (0/1) become 0/255.
func ToGoImage(im Image) (image.Image, error) {
	if err := im.Validate(); err != nil {
		return nil, err
	}
	q := func(v float32) uint8 {
		if !(v > 0) { // also NaN
			return 0
		}
		if v >= 1 {
			return 255
		}
		return uint8(math.Round(float64(v) * 255))
	}
	r := image.Rect(0, 0, im.W, im.H)
	switch im.C {
	case 1:
		g := image.NewGray(r)
		for i, v := range im.Pix {
			g.Pix[i] = q(v)
		}
		return g, nil
	case 3, 4:
		g := image.NewNRGBA(r)
		for i := 0; i < im.H*im.W; i++ {
			for ch := 0; ch < 3; ch++ {
				g.Pix[4*i+ch] = q(im.Pix[i*im.C+ch])
			}
			g.Pix[4*i+3] = 255
			if im.C == 4 {
				g.Pix[4*i+3] = q(im.Pix[i*4+3])
			}
		}
		return g, nil
	}
	return nil, fmt.Errorf("cannot convert a %d-channel image to a Go image (want 1, 3 or 4)", im.C)
}

// WritePNG writes im as an 8-bit PNG atomically (a temporary file in the same folder, then rename),
// creating the folder if needed. Masks are written as 0/255 grey.
func WritePNG(path string, im Image) error {
	g, err := ToGoImage(im)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if err := png.Encode(tmp, g); err != nil {
		tmp.Close()
		return fmt.Errorf("%s: encoding PNG: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
