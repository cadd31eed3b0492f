package coreset

import (
	"context"
	"math"
	"strings"
	"testing"
)

// TestGreedyKCenterRejectsNonFinite: a NaN never wins the farthest-point comparison, so a NaN row
// would be picked wrongly or twice; it is an error naming the row (issue 15, item 2).
func TestGreedyKCenterRejectsNonFinite(t *testing.T) {
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(-1))} {
		x := []float32{0, 0, 1, 1, 2, 2, 3, bad, 4, 4}
		for _, opts := range []Options{{NoProjection: true}, {Dim: 1}} {
			_, err := GreedyKCenter(context.Background(), x, 2, 3, opts)
			if err == nil || !strings.Contains(err.Error(), "row 3, column 1") {
				t.Errorf("GreedyKCenter with %v, %+v: %v; want an error naming row 3, column 1", bad, opts, err)
			}
		}
	}
}
