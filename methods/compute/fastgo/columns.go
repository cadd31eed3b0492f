package fastgo

import (
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

// Column gathers. GoMLX's Gather takes leading-axis slices, so a graph that selects columns of x [N, D]
// writes Transpose(Gather(Transpose(x), idx)) (the normalizing flows' coupling halves and permutations,
// methods/flow), and its gradient is Transpose(ScatterSum(zeros, idx, Transpose(g))). Run op by op, that
// is two strided transposes of the whole tensor around a gather: in a CFLOW-AD prediction those
// transposes were a quarter of the time. Each pattern runs instead as one kernel that reads and writes
// every row once.

// special is a node computed by a kernel of its own over leaves, replacing the nodes in internal.
type special struct {
	run      kernel
	leaves   []*Node
	internal []*Node
}

// isTranspose2D reports whether n is Transpose(x, 1, 0) of a rank-2 x.
func isTranspose2D(n *Node) bool {
	return n.op == backends.OpTypeTranspose && n.shape.Rank() == 2 && slices.Equal(n.args[1].([]int), []int{1, 0})
}

// planColumns finds the column gather and column scatter patterns whose inner nodes are used only
// inside the pattern, keyed by the outer transpose's id.
func planColumns(nodes []*Node, uses map[int]int, isOut map[int]bool) map[int]*special {
	private := func(m *Node) bool { return uses[m.id] == 1 && !isOut[m.id] }
	found := map[int]*special{}
	for _, n := range nodes {
		if !isTranspose2D(n) {
			continue
		}
		inner := n.inputs[0]
		if !private(inner) {
			continue
		}
		switch inner.op {
		case backends.OpTypeGather:
			x := inner.inputs[0]
			idx := inner.inputs[1]
			if !isTranspose2D(x) || !private(x) || idx.shape.DType != dtypes.Int32 || idx.shape.Rank() != 2 ||
				!newGatherPlan(inner).rows {
				continue
			}
			src := x.inputs[0]
			d, k := src.shape.Dimensions[1], idx.shape.Dimensions[0]
			run, err := byWidth(n.shape.DType, columnGather[uint8](d, k), columnGather[uint16](d, k),
				columnGather[uint32](d, k), columnGather[uint64](d, k))
			if err != nil {
				continue
			}
			found[n.id] = &special{run: run, leaves: []*Node{src, idx}, internal: []*Node{x, inner}}
		case backends.OpTypeScatterSum:
			op, idx, upd := inner.inputs[0], inner.inputs[1], inner.inputs[2]
			dt := n.shape.DType
			if !isTranspose2D(upd) || !private(upd) || idx.shape.DType != dtypes.Int32 || idx.shape.Rank() != 2 ||
				!isRowScatter(inner) || (dt != dtypes.Float32 && dt != dtypes.Float64) {
				continue
			}
			sp := &special{internal: []*Node{upd, inner}}
			first, fill := op, false
			if src := broadcastScalar(op); src != nil && private(op) {
				first, fill = src, true // zeros, as in Gather's gradient: filled, never materialised
				sp.internal = append(sp.internal, op)
			}
			d, k := op.shape.Dimensions[0], idx.shape.Dimensions[0]
			if dt == dtypes.Float32 {
				sp.run = columnScatter[float32](d, k, fill)
			} else {
				sp.run = columnScatter[float64](d, k, fill)
			}
			sp.leaves = []*Node{first, idx, upd.inputs[0]}
			found[n.id] = sp
		}
	}
	return found
}

// columnGather: out [N, k] = x [N, d] at columns idx [k, 1] (clamped into range, as XLA's Gather).
func columnGather[W any](d, k int) kernel {
	return func(ins []tensor, out tensor) {
		src, dst := words[W](ins[0].data), words[W](out.data)
		if k == 0 || d == 0 {
			return
		}
		idx, contiguous := clampedColumns(ins[1].data.([]int32), d)
		parallelFor(len(dst)/k, max(1, elementGrain/k), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				row, s := dst[r*k:(r+1)*k], src[r*d:(r+1)*d]
				if contiguous {
					copy(row, s[idx[0]:idx[0]+k])
					continue
				}
				for j, c := range idx {
					row[j] = s[c]
				}
			}
		})
	}
}

// clampedColumns returns the indices clamped into [0, d) and whether they are one contiguous run.
func clampedColumns(raw []int32, d int) ([]int, bool) {
	idx := make([]int, len(raw))
	contiguous := true
	for j, v := range raw {
		idx[j] = min(max(int(v), 0), d-1)
		if idx[j] != idx[0]+j {
			contiguous = false
		}
	}
	return idx, contiguous
}

// columnScatter: out [N, d] = transpose(op [d, N]) with upd [N, k] added at columns idx [k, 1]; indices
// out of range are skipped, as XLA's ScatterSum. With fill, op is the single value the operand repeats.
func columnScatter[T float](d, k int, fill bool) kernel {
	return func(ins []tensor, out tensor) {
		o, upd, raw := out.data.([]T), ins[2].data.([]T), ins[1].data.([]int32)
		if d == 0 {
			return
		}
		n := len(o) / d
		if !fill {
			copyStrided(o, 0, []int{d, 1}, ins[0].data.([]T), 0, []int{1, n}, []int{n, d})
		}
		parallelFor(n, max(1, elementGrain/d), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				row := o[r*d : (r+1)*d]
				if fill {
					v := ins[0].data.([]T)[0]
					for j := range row {
						row[j] = v
					}
				}
				u := upd[r*k : (r+1)*k]
				for j, c := range raw {
					if c >= 0 && int(c) < d {
						row[c] += u[j]
					}
				}
			}
		})
	}
}
