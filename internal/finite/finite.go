// Package finite is gonomaly's one non-finite guard: images at load, detector inputs, feature rows and
// the kernels that pick a minimum or a maximum (knn, coreset) all ask it whether their values are
// finite, so a NaN or an infinity is an error naming where it is, never a panic or a silent score.
package finite

import (
	"fmt"
	"math"
)

// Index returns the index of the first NaN or infinite value of x, or -1 when every value is finite.
func Index(x []float32) int {
	for i, v := range x {
		// v-v is 0 for a finite v and NaN for NaN and +-Inf: one subtraction and one compare per value.
		if v-v != 0 {
			return i
		}
	}
	return -1
}

// Describe names a non-finite value: "NaN", "+Inf" or "-Inf".
func Describe(v float32) string {
	switch {
	case math.IsNaN(float64(v)):
		return "NaN"
	case v > 0:
		return "+Inf"
	default:
		return "-Inf"
	}
}

// Rows returns an error when x (row-major rows of dim values) holds a NaN or an infinity; it names the
// row and column, prefixed by what (e.g. "knn: bank"). dim <= 0 treats x as one row.
func Rows(what string, x []float32, dim int) error {
	i := Index(x)
	if i < 0 {
		return nil
	}
	if dim <= 0 {
		return fmt.Errorf("%s: value %d is %s (non-finite values are not allowed)", what, i, Describe(x[i]))
	}
	return fmt.Errorf("%s: row %d, column %d is %s (non-finite values are not allowed)", what, i/dim, i%dim, Describe(x[i]))
}
