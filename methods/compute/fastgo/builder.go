package fastgo

import (
	"fmt"
	"reflect"
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// Builder records a graph and builds it on a shadow pure-Go builder at the same time (see the package doc).
type Builder struct {
	backend  *Backend
	name     string
	sg       backends.Builder
	nodes    []*Node
	params   []*Node
	compiled bool
}

var _ backends.Builder = (*Builder)(nil)

// Node is one recorded operation: what Builder methods return as backends.Op.
type Node struct {
	id      int
	op      backends.OpType
	inputs  []*Node
	args    []any // the call's arguments in order, Ops replaced by *Node / []*Node
	shape   shapes.Shape
	sg      backends.Op
	builder *Builder

	// multiOf is set on each output of a multi-output operation; outIdx says which one.
	multiOf *Node
	outIdx  int
	// constant holds a Constant's flat data (a private copy); paramIdx a Parameter's position.
	constant any
	paramIdx int
	name     string
}

// Name implements backends.Builder.
func (b *Builder) Name() string { return b.name }

// OpShape implements backends.Builder.
func (b *Builder) OpShape(op backends.Op) (shapes.Shape, error) {
	n, err := b.in("OpShape", op)
	if err != nil {
		return shapes.Invalid(), err
	}
	return n.shape, nil
}

// DistributedSPMD implements backends.Builder: one device only.
func (b *Builder) DistributedSPMD(numDevices int) error {
	if numDevices == 1 {
		return nil
	}
	return fmt.Errorf("fastgo: distributed execution is not supported (asked for %d devices)", numDevices)
}

// DistributedAutoSharding implements backends.Builder: not supported.
func (b *Builder) DistributedAutoSharding(meshes ...backends.Mesh) error {
	return fmt.Errorf("fastgo: distributed execution (auto-sharding) is not supported")
}

// DeviceAssignment implements backends.Builder: device 0 only.
func (b *Builder) DeviceAssignment(devices ...backends.DeviceNum) error {
	if len(devices) == 1 && devices[0] == 0 {
		return nil
	}
	return fmt.Errorf("fastgo: only device 0 exists, got assignment %v", devices)
}

// Parameter implements backends.Builder.
func (b *Builder) Parameter(name string, shape shapes.Shape, sharding *backends.ShardingSpec) (backends.Op, error) {
	sgOp, err := b.sg.Parameter(name, shape, sharding)
	if err != nil {
		return nil, err
	}
	n := b.record(backends.OpTypeParameter, sgOp, nil, []any{name, shape})
	n.paramIdx = len(b.params)
	n.name = name
	b.params = append(b.params, n)
	return n, nil
}

// Constant implements backends.Builder.
func (b *Builder) Constant(flat any, dims ...int) (backends.Op, error) {
	sgOp, err := b.sg.Constant(flat, dims...)
	if err != nil {
		return nil, err
	}
	v := reflect.ValueOf(flat)
	cp := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
	reflect.Copy(cp, v)
	n := b.record(backends.OpTypeConstant, sgOp, nil, []any{slices.Clone(dims)})
	n.constant = cp.Interface()
	return n, nil
}

// record appends a node for a single-output operation already built on the shadow builder.
func (b *Builder) record(op backends.OpType, sgOut backends.Op, inputs []*Node, args []any) *Node {
	shape, err := b.sg.OpShape(sgOut)
	if err != nil {
		panic(fmt.Sprintf("fastgo: shadow builder has no shape for %s: %v", op, err))
	}
	n := &Node{id: len(b.nodes), op: op, inputs: inputs, args: args, shape: shape, sg: sgOut, builder: b}
	b.nodes = append(b.nodes, n)
	return n
}

// recordMulti records an operation with several outputs: a parent node (no value of its own) and one
// node per output.
func (b *Builder) recordMulti(op backends.OpType, sgOuts []backends.Op, inputs []*Node, args []any) []*Node {
	parent := &Node{id: len(b.nodes), op: op, inputs: inputs, args: args, shape: shapes.Invalid(), builder: b}
	b.nodes = append(b.nodes, parent)
	outs := make([]*Node, len(sgOuts))
	for i, o := range sgOuts {
		outs[i] = b.record(op, o, []*Node{parent}, nil)
		outs[i].multiOf = parent
		outs[i].outIdx = i
	}
	return outs
}

// in checks that op is a node of this builder.
func (b *Builder) in(opName string, op backends.Op) (*Node, error) {
	n, ok := op.(*Node)
	if !ok || n == nil {
		return nil, fmt.Errorf("fastgo: %s: operand of type %T is not a fastgo node", opName, op)
	}
	if n.builder != b {
		return nil, fmt.Errorf("fastgo: %s: operand comes from builder %q, not %q", opName, n.builder.name, b.name)
	}
	if b.compiled {
		return nil, fmt.Errorf("fastgo: %s: builder %q is already compiled", opName, b.name)
	}
	return n, nil
}

func (b *Builder) ins(opName string, ops []backends.Op) ([]*Node, error) {
	nodes := make([]*Node, len(ops))
	for i, op := range ops {
		n, err := b.in(opName, op)
		if err != nil {
			return nil, err
		}
		nodes[i] = n
	}
	return nodes, nil
}

func sgOps(nodes []*Node) []backends.Op {
	ops := make([]backends.Op, len(nodes))
	for i, n := range nodes {
		ops[i] = n.sg
	}
	return ops
}

// joinNodes flattens *Node and []*Node arguments into one input list.
func joinNodes(parts ...any) []*Node {
	var all []*Node
	for _, p := range parts {
		switch v := p.(type) {
		case *Node:
			all = append(all, v)
		case []*Node:
			all = append(all, v...)
		}
	}
	return all
}

// dtype is a shorthand for the node's dtype.
func (n *Node) dtype() dtypes.DType { return n.shape.DType }

func asOps(nodes []*Node) []backends.Op {
	ops := make([]backends.Op, len(nodes))
	for i, n := range nodes {
		ops[i] = n
	}
	return ops
}
