package fastgo

import (
	"math"
	"sync/atomic"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

// Element-wise fusion. A chain (a tree) of float element-wise operations whose intermediate results
// are used once, by the next operation of the chain, runs as one kernel: the output is computed in
// chunks that stay in L1, each operation of the chain applied to the chunk in turn, so memory is
// read and written once instead of once per operation. Optimiser updates (Adam is about twelve such
// operations per parameter), normalisations and activations are made of these chains.

// fusedChunk is the number of elements a fused kernel computes at a time.
const fusedChunk = 1024

// fusible says whether n is an element-wise float operation fusion handles: a unary op with an
// element function, or a binary arithmetic op whose inputs are n's shape or single values.
func fusible(n *Node) bool {
	if n.multiOf != nil || !n.shape.Ok() {
		return false
	}
	dt := n.shape.DType
	if dt != dtypes.Float32 && dt != dtypes.Float64 {
		return false
	}
	switch len(n.inputs) {
	case 1:
		if unaryFunc[float32](n.op) == nil || !n.inputs[0].shape.Equal(n.shape) {
			return false
		}
	case 2:
		switch n.op {
		case backends.OpTypeAdd, backends.OpTypeSub, backends.OpTypeMul, backends.OpTypeDiv,
			backends.OpTypeMax, backends.OpTypeMin, backends.OpTypePow:
		default:
			return false
		}
		for _, in := range n.inputs {
			if !in.shape.Equal(n.shape) && in.shape.Size() != 1 {
				return false
			}
		}
	default:
		return false
	}
	return true
}

// fusionPlan marks the nodes computed inside another node's fused kernel.
type fusionPlan struct {
	internal map[int]bool     // node id -> computed inside its consumer's kernel (no buffer of its own)
	program  map[int][]*Node  // root id -> the chain's nodes in creation order, root last
	leaves   map[int][]*Node  // root id -> the chain's inputs from outside
	inners   map[int][]int    // root id -> per leaf: 0, or the run length of a periodic broadcast read in place
	special  map[int]*special // node id -> a pattern computed by a kernel of its own (columns.go)
}

func planFusion(nodes []*Node, outs []*Node) fusionPlan {
	uses := map[int]int{}
	consumer := map[int]*Node{}
	for _, n := range nodes {
		for _, in := range n.inputs {
			uses[in.id]++
			consumer[in.id] = n
		}
	}
	isOut := map[int]bool{}
	for _, o := range outs {
		isOut[o.id] = true
	}
	p := fusionPlan{internal: map[int]bool{}, program: map[int][]*Node{}, leaves: map[int][]*Node{}, inners: map[int][]int{}}
	for _, n := range nodes {
		c := consumer[n.id]
		if uses[n.id] == 1 && !isOut[n.id] && c != nil && fusible(n) && fusible(c) &&
			n.shape.Equal(c.shape) {
			p.internal[n.id] = true
		}
	}
	absorbed := map[int]int{} // broadcast node id -> uses that read its source in place instead
	for _, n := range nodes {
		if p.internal[n.id] || !fusible(n) {
			continue
		}
		var prog, leaves []*Node
		var inners []int
		var absorbedHere []*Node
		seenLeaf := map[[2]int]bool{}
		var walk func(m *Node)
		walk = func(m *Node) {
			for _, in := range m.inputs {
				if p.internal[in.id] {
					walk(in)
					continue
				}
				inner := 0
				if src, k := absorbedBroadcast(in); src != nil && !isOut[in.id] {
					absorbedHere = append(absorbedHere, in)
					in, inner = src, k // read the values it repeats, not its broadcast copy
				}
				if !seenLeaf[[2]int{in.id, inner}] {
					seenLeaf[[2]int{in.id, inner}] = true
					leaves = append(leaves, in)
					inners = append(inners, inner)
				}
			}
			prog = append(prog, m)
		}
		walk(n)
		if len(prog) > 1 || len(absorbedHere) > 0 {
			p.program[n.id] = prog
			p.leaves[n.id] = leaves
			p.inners[n.id] = inners
			for _, b := range absorbedHere {
				absorbed[b.id]++
			}
		}
	}
	// A broadcast every consumer reads as a scalar is never materialised.
	for id, k := range absorbed {
		if k == uses[id] {
			p.internal[id] = true
		}
	}
	p.special = planColumns(nodes, uses, isOut)
	for _, sp := range p.special {
		for _, m := range sp.internal {
			p.internal[m.id] = true
		}
	}
	return p
}

// broadcastScalar returns the single value a BroadcastInDim repeats, or nil.
func broadcastScalar(n *Node) *Node {
	if n.op == backends.OpTypeBroadcastInDim && n.inputs[0].shape.Size() == 1 && n.inputs[0].shape.DType == n.shape.DType {
		return n.inputs[0]
	}
	return nil
}

// broadcastPeriodic returns the tensor a BroadcastInDim repeats and the run length of each of its
// values, when the broadcast read in order is that tensor's values in order, each repeated inner times,
// the whole repeated: out[i] = src[(i/inner) % size(src)]. Biases are broadcast so: [C] over the rows
// of [N, C] (inner 1), or over the channels of [N, C, H, W] (inner H·W). A fused chain reads src in
// place of the broadcast, which is then never materialised.
func broadcastPeriodic(n *Node) (*Node, int) {
	if n.op != backends.OpTypeBroadcastInDim {
		return nil, 0
	}
	in := n.inputs[0]
	size := in.shape.Size()
	if in.shape.DType != n.shape.DType || size <= 1 || size == n.shape.Size() {
		return nil, 0
	}
	axes := n.args[2].([]int)
	first, last := -1, -1
	for i, d := range in.shape.Dimensions {
		if d == 1 {
			continue
		}
		if axes[i] <= last || n.shape.Dimensions[axes[i]] != d {
			return nil, 0
		}
		if first < 0 {
			first = axes[i]
		}
		last = axes[i]
	}
	span := 1
	for _, d := range n.shape.Dimensions[first : last+1] {
		span *= d
	}
	if span != size { // another axis between them is broadcast
		return nil, 0
	}
	inner := 1
	for _, d := range n.shape.Dimensions[last+1:] {
		inner *= d
	}
	return in, inner
}

// absorbedBroadcast returns what a fused chain reads instead of broadcast n: the single value it
// repeats (inner 0), or its periodic source and run length; nil when n is not such a broadcast.
func absorbedBroadcast(n *Node) (*Node, int) {
	if src := broadcastScalar(n); src != nil {
		return src, 0
	}
	return broadcastPeriodic(n)
}

// fillPeriodic writes src's values, each repeated inner times and the whole repeated, into dst, starting
// at position lo of that sequence.
func fillPeriodic[T any](dst, src []T, lo, inner int) {
	p := len(src)
	if inner == 1 {
		start := lo % p
		for j := 0; j < len(dst); {
			j += copy(dst[j:], src[start:])
			start = 0
		}
		return
	}
	q, r := (lo/inner)%p, lo%inner
	for j := 0; j < len(dst); {
		run := min(inner-r, len(dst)-j)
		v := src[q]
		for i := j; i < j+run; i++ {
			dst[i] = v
		}
		j += run
		r = 0
		if q++; q == p {
			q = 0
		}
	}
}

// periodicChains counts the fused kernels that read a broadcast's source in place (tests check it happens).
var periodicChains atomic.Int64

// fusedKernel compiles a chain into one kernel reading the leaves (in order; inners says which are
// periodic broadcast sources) and writing the root.
func fusedKernel(prog, leaves []*Node, inners []int) kernel {
	for _, inner := range inners {
		if inner > 0 {
			periodicChains.Add(1)
			break
		}
	}
	if prog[len(prog)-1].shape.DType == dtypes.Float64 {
		return fusedKernelOf[float64](prog, leaves, inners)
	}
	return fusedKernelOf[float32](prog, leaves, inners)
}

type fusedStep[T float] struct {
	op    backends.OpType
	args  []int // slot of each input: leaves first, then the chain's steps
	unary func(T) T
	pow   bool
}

func fusedKernelOf[T float](prog, leaves []*Node, inners []int) kernel {
	slot := map[[2]int]int{}
	for i, l := range leaves {
		slot[[2]int{l.id, inners[i]}] = i
	}
	steps := make([]fusedStep[T], len(prog))
	for k, n := range prog {
		s := fusedStep[T]{op: n.op, pow: n.op == backends.OpTypePow}
		if len(n.inputs) == 1 {
			s.unary = unaryFunc[T](n.op)
		}
		for _, in := range n.inputs {
			k, ok := slot[[2]int{in.id, 0}]
			if src, inner := absorbedBroadcast(in); !ok && src != nil { // an absorbed broadcast: read what it repeats
				k, ok = slot[[2]int{src.id, inner}]
			}
			if !ok {
				panic("fastgo: fused chain input without a slot")
			}
			s.args = append(s.args, k)
		}
		steps[k] = s
		slot[[2]int{n.id, 0}] = len(leaves) + k
	}
	nl := len(leaves)
	return func(ins []tensor, out tensor) {
		o := out.data.([]T)
		src := make([][]T, nl)
		for i := range ins {
			src[i] = ins[i].data.([]T)
		}
		total := len(o)
		nChunks := (total + fusedChunk - 1) / fusedChunk
		parallelFor(nChunks, max(1, elementGrain/fusedChunk), func(c0, c1 int) {
			tmp := make([][]T, len(steps))
			for k := range tmp[:len(steps)-1] {
				tmp[k] = make([]T, fusedChunk)
			}
			periodic := make([][]T, nl)
			for i, inner := range inners {
				if inner > 0 {
					periodic[i] = make([]T, fusedChunk)
				}
			}
			view := func(s, lo, hi int) ([]T, int) {
				if s < nl {
					if inners[s] > 0 {
						buf := periodic[s][:hi-lo]
						fillPeriodic(buf, src[s], lo, inners[s])
						return buf, 1
					}
					if len(src[s]) == 1 {
						return src[s], 0
					}
					return src[s][lo:hi], 1
				}
				return tmp[s-nl][:hi-lo], 1
			}
			for c := c0; c < c1; c++ {
				lo, hi := c*fusedChunk, min((c+1)*fusedChunk, total)
				for k, s := range steps {
					var dst []T
					if k == len(steps)-1 {
						dst = o[lo:hi]
					} else {
						dst = tmp[k][:hi-lo]
					}
					a, sa := view(s.args[0], lo, hi)
					if s.unary != nil {
						if sa == 0 {
							v := s.unary(a[0])
							for j := range dst {
								dst[j] = v
							}
							continue
						}
						applyUnary(s.op, s.unary, dst, a)
						continue
					}
					b, sb := view(s.args[1], lo, hi)
					if s.pow {
						for j := range dst {
							dst[j] = T(math.Pow(float64(a[j*sa]), float64(b[j*sb])))
						}
						continue
					}
					if sa == 0 && sb == 0 {
						fastBinaryRow(s.op, dst[:1], a, b, 1, 1)
						for j := range dst {
							dst[j] = dst[0]
						}
						continue
					}
					fastBinaryRow(s.op, dst, a, b, sa, sb)
				}
			}
		})
	}
}

// applyUnary writes f(x) into dst, with direct loops for the cheapest ops.
func applyUnary[T float](op backends.OpType, f func(T) T, dst, x []T) {
	x = x[:len(dst)]
	if d32, ok := any(dst).([]float32); ok && unary32(op, d32, any(x).([]float32)) {
		return
	}
	switch op {
	case backends.OpTypeNeg:
		for j, v := range x {
			dst[j] = -v
		}
	case backends.OpTypeSqrt:
		for j, v := range x {
			dst[j] = T(math.Sqrt(float64(v)))
		}
	default:
		for j, v := range x {
			dst[j] = f(v)
		}
	}
}
