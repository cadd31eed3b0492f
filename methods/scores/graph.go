package scores

import (
	"context"
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gonomaly/gonomaly/methods/compute"
	"github.com/gonomaly/gonomaly/methods/features"
)

// GraphFunc is a score written as a GoMLX graph: from the bank [M, D] (train patches, or their
// coreset) and a chunk of query patches [Q, D] it returns one score per query, [Q]. knn.SquaredDistances
// and knn.Nearest are the usual building blocks.
type GraphFunc func(bank, queries *graph.Node) *graph.Node

// GraphScore runs a GraphFunc over a whole test set on the backend compute chooses (XLA when a plugin
// is present, else pure Go), in chunks of Chunk queries so memory stays bounded and the graph
// compiles once.
type GraphScore struct {
	// Label is the score's name in tables.
	Label string
	Fn    GraphFunc
	// Ratio and Seed: as NearestL2.
	Ratio float64
	Seed  uint64
	// Chunk is the number of queries per execution; default 256.
	Chunk int
}

// Graph makes a Func from a graph function, searching all train patches in chunks of 256 queries.
func Graph(name string, fn GraphFunc) *GraphScore { return &GraphScore{Label: name, Fn: fn} }

// Name implements Func.
func (s *GraphScore) Name() string { return withRatio(s.Label, s.Ratio) }

// Score implements Func.
func (s *GraphScore) Score(ctx context.Context, train, test *features.Set) (out []float32, err error) {
	if err := checkSets(train, test); err != nil {
		return nil, fmt.Errorf("scores: %s: %w", s.Name(), err)
	}
	backend, err := compute.Backend()
	if err != nil {
		return nil, err
	}
	bank, err := Bank(ctx, train, s.Ratio, s.Seed)
	if err != nil {
		return nil, err
	}
	d := test.D
	chunk := s.Chunk
	if chunk <= 0 {
		chunk = 256
	}
	nq := test.Patches()
	chunk = min(chunk, nq)
	defer func() { // graph-building panics (wrong output shape, bad ops) become errors
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("scores: %s: %v", s.Name(), r)
		}
	}()
	exec, err := graph.NewExec(backend, func(b, q *graph.Node) *graph.Node {
		o := s.Fn(b, q)
		if o.Rank() != 1 || o.Shape().Dimensions[0] != chunk {
			panic(fmt.Sprintf("graph score returned shape %s, want [%d] (one score per query)", o.Shape(), chunk))
		}
		return graph.ConvertDType(o, dtypes.Float32)
	})
	if err != nil {
		return nil, err
	}
	bankT := tensors.FromFlatDataAndDimensions(bank, len(bank)/d, d)
	defer bankT.FinalizeAll()
	out = make([]float32, nq)
	buf := make([]float32, chunk*d)
	for lo := 0; lo < nq; lo += chunk {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hi := min(lo+chunk, nq)
		clear(buf)
		copy(buf, test.Data[lo*d:hi*d]) // the last chunk is zero-padded to keep one compiled shape
		res, err := exec.Exec(bankT, tensors.FromFlatDataAndDimensions(buf, chunk, d))
		if err != nil {
			return nil, fmt.Errorf("scores: %s: %w", s.Name(), err)
		}
		v := tensors.MustCopyFlatData[float32](res[0])
		res[0].FinalizeAll()
		copy(out[lo:hi], v[:hi-lo])
	}
	return out, nil
}
