package sgemm

import (
	"os"
	"strconv"
)

func init() {
	if v, err := strconv.Atoi(os.Getenv("DC")); err == nil {
		directCols = v
	}
}

func init() {
	if v, err := strconv.Atoi(os.Getenv("DR")); err == nil {
		directRows = v
	}
}

func init() {
	if v, err := strconv.Atoi(os.Getenv("KC")); err == nil {
		kernels[Best()].kc = v
	}
	if v, err := strconv.Atoi(os.Getenv("MC")); err == nil {
		kernels[Best()].mc = v
	}
	if v, err := strconv.Atoi(os.Getenv("NC")); err == nil {
		kernels[Best()].nc = v
	}
}
