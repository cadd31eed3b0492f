package fastgo

// FusedChains reports how many fused element-wise kernels have been compiled (for tests).
func FusedChains() int64 { return fusedChains.Load() }

// SpecialKernels reports how many patterns (column gathers and scatters) have been compiled into a kernel of their own.
func SpecialKernels() int64 { return specialKernels.Load() }

// PeriodicChains reports how many fused kernels read a periodic broadcast's source in place.
func PeriodicChains() int64 { return periodicChains.Load() }
