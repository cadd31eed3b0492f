package datasets

import (
	"fmt"
	"strings"
)

// Benchmarks lists the on-disk layouts Load understands.
var Benchmarks = []string{"mvtec", "mpdd", "btad", "visa"}

// Load reads one category of the named benchmark layout ("mvtec", "mpdd", "btad" or "visa"; case-
// insensitive) under root. See LoadMVTec, LoadMPDD, LoadBTAD, LoadVisA; LoadFolder for plain folders.
func Load(benchmark, root, category string, opts Options) (*Dataset, error) {
	switch strings.ToLower(benchmark) {
	case "mvtec", "mvtec_ad", "mvtecad":
		return LoadMVTec(root, category, opts)
	case "mpdd":
		return LoadMPDD(root, category, opts)
	case "btad":
		return LoadBTAD(root, category, opts)
	case "visa":
		return LoadVisA(root, category, opts)
	}
	return nil, fmt.Errorf("unknown benchmark %q (known: %s)", benchmark, strings.Join(Benchmarks, ", "))
}

// Categories discovers the categories of the named benchmark layout under root, sorted.
func Categories(benchmark, root string) ([]string, error) {
	switch strings.ToLower(benchmark) {
	case "mvtec", "mvtec_ad", "mvtecad", "mpdd":
		return MVTecCategories(root)
	case "btad":
		return BTADCategories(root)
	case "visa":
		return VisACategories(root)
	}
	return nil, fmt.Errorf("unknown benchmark %q (known: %s)", benchmark, strings.Join(Benchmarks, ", "))
}

// MustLoad is Load that panics on error, for notebook cells.
func MustLoad(benchmark, root, category string, opts Options) *Dataset {
	d, err := Load(benchmark, root, category, opts)
	if err != nil {
		panic(err)
	}
	return d
}
