package metrics

import (
	"fmt"

	"github.com/gonomaly/gonomaly/datasets"
)

// Regions labels the 8-connected components of the non-zero pixels of a mask (C == 1), as
// scipy.ndimage.label(mask, structure=np.ones((3, 3))) does in MVTec AD's evaluation: labels[i] is 0 for
// background and 1..n for the components, numbered in raster order of their first pixel; sizes[k] is
// the pixel count of component k+1.
func Regions(mask datasets.Image) (labels []int32, sizes []int, err error) {
	if err := mask.Validate(); err != nil {
		return nil, nil, fmt.Errorf("metrics: mask: %w", err)
	}
	if mask.C != 1 {
		return nil, nil, fmt.Errorf("metrics: mask has %d channels, want 1", mask.C)
	}
	var r regionLabeler
	labels = make([]int32, len(mask.Pix))
	r.label(mask.Pix, mask.H, mask.W, labels)
	return labels, r.sizes, nil
}

// regionLabeler keeps the flood-fill stack between calls.
type regionLabeler struct {
	stack []int32
	sizes []int
}

// label fills lab with component numbers and r.sizes with component sizes; it returns the count.
func (r *regionLabeler) label(mask []float32, h, w int, lab []int32) int {
	for i := range lab[:h*w] {
		lab[i] = 0
	}
	r.sizes = r.sizes[:0]
	n := int32(0)
	for start, v := range mask[:h*w] {
		if v == 0 || lab[start] != 0 {
			continue
		}
		n++
		lab[start] = n
		size := 0
		st := append(r.stack[:0], int32(start))
		for len(st) > 0 {
			p := int(st[len(st)-1])
			st = st[:len(st)-1]
			size++
			y, x := p/w, p%w
			for dy := -1; dy <= 1; dy++ {
				yy := y + dy
				if yy < 0 || yy >= h {
					continue
				}
				for dx := -1; dx <= 1; dx++ {
					xx := x + dx
					if xx < 0 || xx >= w {
						continue
					}
					q := yy*w + xx
					if mask[q] != 0 && lab[q] == 0 {
						lab[q] = n
						st = append(st, int32(q))
					}
				}
			}
		}
		r.stack = st
		r.sizes = append(r.sizes, size)
	}
	return int(n)
}
