package knn

import (
	"context"
	"math"
	"strings"
	"testing"
)

// TestNonFiniteRowsAreErrors: a NaN or an infinity in the bank or the queries, or distances that
// overflow, are errors naming the row; Search never returns (or indexes with) the -1 of an empty top-k
// slot (issue 15, item 2: it panicked with "slice bounds out of range [-256:]").
func TestNonFiniteRowsAreErrors(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	good := []float32{0, 0, 1, 1, 2, 2, 3, 3}
	for _, tc := range []struct {
		name          string
		bank, queries []float32
		dim           int
		want          string
	}{
		{"NaN query", good, []float32{0, 0, nan, 1}, 2, "knn: query row 1"},
		{"Inf query", good, []float32{-inf, 1}, 2, "knn: query row 0"},
		{"NaN bank", []float32{0, 0, 1, nan}, []float32{0, 0}, 2, "knn: bank row 1"},
		{"norm overflows", []float32{0, 0, 3e19, 3e19}, []float32{0, 0}, 2, "overflows"},
		// Finite norms whose distance overflows to +Inf: the top-k slot is never filled.
		{"distance overflows", []float32{-1.3e19}, []float32{1.3e19}, 1, "no finite distance"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Search(context.Background(), tc.queries, tc.bank, tc.dim, 1)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Search = %+v, %v; want an error containing %q", res, err, tc.want)
			}
		})
	}
}
