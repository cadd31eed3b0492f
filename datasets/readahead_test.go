package datasets

import (
	"fmt"
	"sync/atomic"
	"testing"
)

// countingSource makes a tiny sample per item, counting loads.
type countingSource struct{ loads atomic.Int64 }

func (c *countingSource) Load(it Item) (Sample, error) {
	c.loads.Add(1)
	if it.Index == 5 {
		return Sample{}, fmt.Errorf("item %d is broken", it.Index)
	}
	im := NewImage(1, 1, 1)
	im.Pix[0] = float32(it.Index)
	return Sample{Item: it, Image: im, Mask: NewImage(1, 1, 1)}, nil
}

func TestReadAhead(t *testing.T) {
	src := &countingSource{}
	sp := &Split{Name: "test", Category: "x", Source: src}
	for i := 0; i < 20; i++ {
		sp.Items = append(sp.Items, Item{ID: fmt.Sprint(i), Index: i})
	}
	ra := sp.ReadAhead(4, 2)
	// In order, twice (the second pass re-loads: results are handed out once).
	for pass := 0; pass < 2; pass++ {
		for i := 0; i < 20; i++ {
			im, err := ra.Image(i)
			if i == 5 {
				if err == nil {
					t.Fatal("broken item 5 loaded without error")
				}
				continue
			}
			if err != nil || im.Pix[0] != float32(i) {
				t.Fatalf("pass %d item %d: %v, %v", pass, i, im.Pix, err)
			}
		}
	}
	// Random access still answers correctly.
	for _, i := range []int{17, 3, 3, 19, 0, 11} {
		if im, err := ra.Image(i); err != nil || im.Pix[0] != float32(i) {
			t.Fatalf("random access %d: %v, %v", i, im.Pix, err)
		}
	}
	// Reading ahead wastes at most a window per jump.
	if n := src.loads.Load(); n < 40 || n > 40+6*5 {
		t.Errorf("%d loads for 46 reads", n)
	}
}
