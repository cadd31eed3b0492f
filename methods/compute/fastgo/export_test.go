package fastgo

// FusedChains reports how many fused element-wise kernels have been compiled (for tests).
func FusedChains() int64 { return fusedChains.Load() }
