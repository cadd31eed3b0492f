//go:build !amd64

package coreset

// updateMin lowers minD[i] to the squared distance of row i of z to center, for every row.
func updateMin(z, center, minD []float32, dim int) { updateMinGo(z, center, minD, dim) }
