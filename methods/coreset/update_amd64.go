package coreset

import "golang.org/x/sys/cpu"

// useAVX2 selects the assembly distance update on CPUs (and operating systems) with AVX2 and FMA.
var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func updateMinAVX2(z, center, minD *float32, rows, dim int)

// updateMin lowers minD[i] to the squared distance of row i of z to center, for every row.
// Rows already selected carry -1 and keep it (a distance is never below 0).
func updateMin(z, center, minD []float32, dim int) {
	if useAVX2 && dim%16 == 0 && len(minD) > 0 {
		_ = z[len(minD)*dim-1]
		_ = center[dim-1]
		updateMinAVX2(&z[0], &center[0], &minD[0], len(minD), dim)
		return
	}
	updateMinGo(z, center, minD, dim)
}
