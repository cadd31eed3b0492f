// Package fastgo is gonomaly's CPU backend for GoMLX: the graphs every method builds run here when no
// XLA/PJRT plugin is installed, with our own kernels (a packed SGEMM with AVX-512, AVX2+FMA and pure-Go
// micro-kernels in methods/compute/fastgo/sgemm, convolutions and matrix products lowered onto it,
// element-wise, reduction and data-movement kernels that split their work over the cores).
//
// How a graph runs:
//   - Every builder call is recorded (operation, inputs, attributes) and, at the same time, built on a
//     shadow builder of GoMLX's own pure-Go backend ("go", package simplego), which validates the call
//     and infers its shape, so errors and shapes are exactly GoMLX's.
//   - Compile lowers the recording to this package's executor when it knows every operation (and dtype)
//     the graph uses. Otherwise the shadow graph is compiled by the pure-Go backend and runs there whole,
//     with a one-line notice per process naming the operation: a graph never fails for lack of a kernel.
//   - The executor walks the graph in creation order (a topological order), plans every intermediate
//     buffer at compile time and returns it to a free list at its last use, so peak memory is the
//     graph's live set, not the sum of its nodes.
//
// Buffers are the pure-Go backend's own (shared host memory), so the two execution paths exchange them
// without copies.
//
// The backend registers itself as "fastgo" (GOMLX_BACKEND=fastgo); methods/compute picks it by default
// when no PJRT plugin is installed.
package fastgo

import (
	"fmt"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
)

//go:generate go run ./internal/genops

// BackendName is the name this backend registers with GoMLX (GOMLX_BACKEND=fastgo).
const BackendName = "fastgo"

func init() {
	backends.Register(BackendName, New)
}

// Backend implements backends.Backend. Its data interface (buffers) is the embedded pure-Go backend's.
type Backend struct {
	*simplego.Backend
	noFallback bool
	noFusion   bool
	buffers    bufferCache
}

var _ backends.Backend = (*Backend)(nil)

// New builds the backend from a configuration: a comma-separated list of options.
//   - "nofallback": Compile fails instead of handing a graph with an unsupported operation to the
//     pure-Go backend (for tests that must prove a graph runs on our kernels).
//   - "nofusion": every element-wise operation runs as its own kernel (for tests and measurements).
//
// The shadow pure-Go backend always runs its ops one after another (see methods/compute: its parallel
// op scheduling can deadlock on graphs with many products in GoMLX v0.26).
func New(config string) (backends.Backend, error) {
	b := &Backend{}
	for _, opt := range strings.Split(config, ",") {
		switch strings.TrimSpace(opt) {
		case "":
		case "nofallback":
			b.noFallback = true
		case "nofusion":
			b.noFusion = true
		default:
			return nil, fmt.Errorf("fastgo: unknown configuration option %q (known: nofallback, nofusion)", opt)
		}
	}
	sg, err := simplego.New("ops_sequential")
	if err != nil {
		return nil, err
	}
	b.Backend = sg.(*simplego.Backend)
	return b, nil
}

// Name implements backends.Backend.
func (b *Backend) Name() string { return BackendName }

// String implements backends.Backend.
func (b *Backend) String() string { return BackendName }

// Description implements backends.Backend.
func (b *Backend) Description() string {
	return "gonomaly fastgo (CPU, " + gemmDescription() + "; unsupported graphs run on GoMLX pure Go)"
}

// Builder implements backends.Backend.
func (b *Backend) Builder(name string) backends.Builder {
	return &Builder{backend: b, name: name, sg: b.Backend.Builder(name)}
}
