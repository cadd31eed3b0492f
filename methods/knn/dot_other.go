//go:build !amd64

package knn

// dot4x2 returns the 8 dot products of four query rows with two bank rows (all of the same length).
func dot4x2(q0, q1, q2, q3, b0, b1 []float32) (s00, s01, s10, s11, s20, s21, s30, s31 float32) {
	return dot4x2Go(q0, q1, q2, q3, b0, b1)
}
