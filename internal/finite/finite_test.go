package finite

import (
	"math"
	"strings"
	"testing"
)

func TestIndexAndRows(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, tc := range []struct {
		x    []float32
		want int
		msg  string
	}{
		{nil, -1, ""},
		{[]float32{0, 1, -3, math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32}, -1, ""},
		{[]float32{0, 1, 2, nan}, 3, "row 1, column 1 is NaN"},
		{[]float32{inf, 1}, 0, "row 0, column 0 is +Inf"},
		{[]float32{1, 2, 3, 4, -inf}, 4, "row 2, column 0 is -Inf"},
	} {
		if got := Index(tc.x); got != tc.want {
			t.Errorf("Index(%v) = %d, want %d", tc.x, got, tc.want)
		}
		err := Rows("bank", tc.x, 2)
		if (err == nil) != (tc.msg == "") || err != nil && (!strings.Contains(err.Error(), tc.msg) || !strings.HasPrefix(err.Error(), "bank: ")) {
			t.Errorf("Rows(%v) = %v, want %q", tc.x, err, tc.msg)
		}
	}
}
