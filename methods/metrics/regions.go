package metrics

// Regions labels the 8-connected components of the non-zero pixels of a mask (row-major, h x w), as
// scipy.ndimage.label(mask, structure=np.ones((3, 3))) does in MVTec AD's evaluation: lab[i] is 0 for
// background and 1..n for the components, numbered in raster order of their first pixel. It returns n
// and the size of each component (sizes[k] is the size of component k+1). lab must have h*w entries.
func Regions(mask []float32, h, w int, lab []int32) (n int, sizes []int) {
	var r regionLabeler
	n = r.label(mask, h, w, lab)
	return n, r.sizes
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
