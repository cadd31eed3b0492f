//go:build !amd64 || purego

package sgemm

// Without the assembly kernels only Generic is registered; Best and SetKernel see that through kernels.
