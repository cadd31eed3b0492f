package fastgo

import (
	"fmt"
	"os"
	"reflect"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// tensor is a value during execution: a shape and its flat data ([]float32, []int32, ... []bool).
type tensor struct {
	shape shapes.Shape
	data  any
}

// kernel computes one node's output into out.data, which the executor has allocated (not zeroed).
type kernel func(ins []tensor, out tensor)

// step is one node of the execution plan.
type step struct {
	node   *Node
	ins    []int // node ids of the inputs
	run    kernel
	multi  multiKernel // set instead of run for operations with several outputs (children)
	outs   []*Node     // the children of a multi-output operation
	view   bool        // the output is ins[0]'s data with a new shape (no copy, no kernel)
	outIdx int         // >= 0: the node is graph output outIdx, or the storage it views, written straight into its buffer
	free   []int       // storage ids released after this step
}

// fusedChains counts the fused kernels compiled (tests check that fusion happens).
var fusedChains atomic.Int64

// specialKernels counts the patterns compiled into a kernel of their own (tests check that they are found).
var specialKernels atomic.Int64

// multiKernel computes the outputs of a multi-output operation into outs (allocated by the executor).
type multiKernel func(ins []tensor, outs []tensor)

// Executable implements backends.Executable for graphs the executor fully supports.
type Executable struct {
	backend   *Backend
	name      string
	params    []*Node
	outputs   []*Node
	steps     []step
	constants []*Node
	numIDs    int
	storage   []int // storage id of each node id (itself, or the node whose data a view shares)

	// arenas keeps released buffers across executions (a list, not a sync.Pool, which the garbage
	// collector empties: re-allocating a training step's buffers after every collection costs more
	// than the step's arithmetic on large models).
	arenaMu sync.Mutex
	arenas  []*arena
}

var _ backends.Executable = (*Executable)(nil)

// newExecutable lowers every reachable node, then plans storage: views share their input's storage,
// and each storage is released after the last step that reads it (never parameters, constants or outputs).
func newExecutable(b *Builder, outs []*Node) (*Executable, error) {
	e := &Executable{backend: b.backend, name: b.name, params: b.params, outputs: outs, numIDs: len(b.nodes)}
	nodes := reachable(b, outs)
	e.storage = make([]int, len(b.nodes))
	for i := range e.storage {
		e.storage[i] = i
	}
	outIdx := map[int]int{}
	for i, o := range outs {
		if _, dup := outIdx[o.id]; dup {
			return nil, fmt.Errorf("fastgo: graph %q lists node %d twice as output", b.name, o.id)
		}
		outIdx[o.id] = i
	}
	external := map[int]bool{} // storages the executor must not release
	fusion := fusionPlan{}
	if !b.backend.noFusion {
		fusion = planFusion(nodes, outs)
	}
	for _, n := range nodes {
		if fusion.internal[n.id] {
			continue // computed inside its consumer's fused kernel
		}
		switch n.op {
		case backends.OpTypeParameter:
			external[n.id] = true
			continue
		case backends.OpTypeConstant:
			external[n.id] = true
			e.constants = append(e.constants, n)
			continue
		}
		if n.multiOf != nil {
			if _, ok := outIdx[n.id]; ok {
				external[n.id] = true
			}
			continue // computed by its parent's step
		}
		s := step{node: n, outIdx: -1}
		var err error
		inputs := n.inputs
		switch {
		case !n.shape.Ok():
			s.multi, s.outs, err = lowerMulti(n, b.nodes)
		case fusion.special[n.id] != nil:
			s.run = fusion.special[n.id].run
			specialKernels.Add(1)
			inputs = fusion.special[n.id].leaves
		case fusion.program[n.id] != nil:
			s.run = fusedKernel(fusion.program[n.id], fusion.leaves[n.id], fusion.inners[n.id])
			fusedChains.Add(1)
			inputs = fusion.leaves[n.id]
		default:
			s.run, s.view, err = lower(n)
		}
		if err != nil {
			return nil, fmt.Errorf("%s (%s): %w", n.op, n.shape, err)
		}
		for _, in := range inputs {
			s.ins = append(s.ins, in.id)
		}
		if s.view {
			e.storage[n.id] = e.storage[n.inputs[0].id]
		} else if i, ok := outIdx[n.id]; ok && s.multi == nil {
			s.outIdx = i
			external[n.id] = true
		}
		e.steps = append(e.steps, s)
	}
	// An output that is a view (a reshape) of a step's result: that step writes straight into the
	// output's buffer, unless another output shares the storage.
	stepOf := map[int]int{}
	for i, s := range e.steps {
		stepOf[s.node.id] = i
	}
	roots := map[int]int{}
	for _, o := range outs {
		external[e.storage[o.id]] = true
		roots[e.storage[o.id]]++
	}
	for i, o := range outs {
		root := e.storage[o.id]
		si, ok := stepOf[root]
		if root == o.id || !ok || roots[root] > 1 || e.steps[si].view || e.steps[si].multi != nil || e.steps[si].outIdx >= 0 {
			continue
		}
		e.steps[si].outIdx = i
	}
	lastUse := map[int]int{} // storage -> step index
	for i, s := range e.steps {
		for _, in := range s.ins {
			lastUse[e.storage[in]] = i
		}
		for _, c := range s.outs {
			lastUse[c.id] = max(lastUse[c.id], i)
		}
		if s.multi == nil {
			lastUse[e.storage[s.node.id]] = max(lastUse[e.storage[s.node.id]], i)
		}
	}
	for st, i := range lastUse {
		if !external[st] {
			e.steps[i].free = append(e.steps[i].free, st)
		}
	}
	return e, nil
}

func (e *Executable) takeArena() *arena {
	e.arenaMu.Lock()
	defer e.arenaMu.Unlock()
	if n := len(e.arenas); n > 0 {
		ar := e.arenas[n-1]
		e.arenas = e.arenas[:n-1]
		return ar
	}
	return &arena{}
}

func (e *Executable) putArena(ar *arena) {
	e.arenaMu.Lock()
	defer e.arenaMu.Unlock()
	if e.steps != nil { // not finalized
		e.arenas = append(e.arenas, ar)
	}
}

// outputIndex says whether n is a graph output, and which.
func (e *Executable) outputIndex(n *Node) (int, bool) {
	for i, o := range e.outputs {
		if o == n {
			return i, true
		}
	}
	return -1, false
}

// Finalize implements backends.Executable: it drops the plan and the buffers kept for reuse.
func (e *Executable) Finalize() {
	e.arenaMu.Lock()
	defer e.arenaMu.Unlock()
	e.steps, e.arenas = nil, nil
}

// Inputs implements backends.Executable.
func (e *Executable) Inputs() (names []string, inputShapes []shapes.Shape) {
	for _, p := range e.params {
		names = append(names, p.name)
		inputShapes = append(inputShapes, p.shape)
	}
	return
}

// Outputs implements backends.Executable.
func (e *Executable) Outputs() (outputShapes []shapes.Shape) {
	for _, o := range e.outputs {
		outputShapes = append(outputShapes, o.shape)
	}
	return
}

// Execute implements backends.Executable.
func (e *Executable) Execute(inputs []backends.Buffer, donate []bool, _ backends.DeviceNum) (results []backends.Buffer, err error) {
	if e.steps == nil && len(e.outputs) > 0 {
		return nil, fmt.Errorf("fastgo: executable %q was finalized", e.name)
	}
	if len(inputs) != len(e.params) {
		return nil, fmt.Errorf("fastgo: executable %q takes %d inputs, got %d", e.name, len(e.params), len(inputs))
	}
	current := -1
	defer func() {
		if r := recover(); r != nil {
			where := ""
			if current >= 0 {
				n := e.steps[current].node
				where = fmt.Sprintf(" at %s -> %s", n.op, n.shape)
			}
			err = fmt.Errorf("fastgo: executing %q%s: %v", e.name, where, r)
			if os.Getenv("GONOMALY_FASTGO_DEBUG") != "" {
				err = fmt.Errorf("%w\n%s", err, debug.Stack())
			}
		}
	}()
	vals := make([]tensor, e.numIDs)
	for i, p := range e.params {
		shape, err := e.backend.BufferShape(inputs[i])
		if err != nil {
			return nil, err
		}
		if !shape.Equal(p.shape) {
			return nil, fmt.Errorf("fastgo: executable %q input %d (%q) wants %s, got %s", e.name, i, p.name, p.shape, shape)
		}
		data, err := e.backend.BufferData(inputs[i])
		if err != nil {
			return nil, err
		}
		vals[p.id] = tensor{shape: p.shape, data: data}
	}
	for _, c := range e.constants {
		vals[c.id] = tensor{shape: c.shape, data: c.constant}
	}
	results = make([]backends.Buffer, len(e.outputs))
	ar := e.takeArena()
	defer e.putArena(ar)
	insBuf := make([]tensor, 0, 8)
	for si := range e.steps {
		s := &e.steps[si]
		n := s.node
		current = si
		ins := insBuf[:0]
		for _, id := range s.ins {
			ins = append(ins, vals[id])
		}
		var t0 time.Time
		if profiling {
			t0 = time.Now()
		}
		switch {
		case s.multi != nil:
			outs := make([]tensor, len(s.outs))
			for i, c := range s.outs {
				if oi, ok := e.outputIndex(c); ok {
					buf, flat, err := e.backend.NewSharedBuffer(0, c.shape)
					if err != nil {
						return nil, err
					}
					results[oi] = buf
					outs[i] = tensor{shape: c.shape, data: flat}
				} else {
					outs[i] = tensor{shape: c.shape, data: ar.get(c.shape.DType, c.shape.Size())}
				}
				vals[c.id] = outs[i]
			}
			s.multi(ins, outs)
		case s.view:
			vals[n.id] = tensor{shape: n.shape, data: ins[0].data}
		case s.outIdx >= 0:
			buf, flat, err := e.backend.NewSharedBuffer(0, e.outputs[s.outIdx].shape)
			if err != nil {
				return nil, err
			}
			results[s.outIdx] = buf
			vals[n.id] = tensor{shape: n.shape, data: flat}
			if profiling {
				profileAlloc(n, time.Since(t0))
			}
			s.run(ins, vals[n.id])
		default:
			vals[n.id] = tensor{shape: n.shape, data: ar.get(n.shape.DType, n.shape.Size())}
			s.run(ins, vals[n.id])
		}
		if profiling {
			profileStep(n, time.Since(t0))
		}
		for _, st := range s.free {
			ar.put(vals[st].data)
		}
	}
	for i, o := range e.outputs {
		if results[i] != nil {
			continue
		}
		// Outputs that are parameters, constants or views: copied into a buffer of their own.
		v := vals[o.id]
		buf, flat, err := e.backend.NewSharedBuffer(0, o.shape)
		if err != nil {
			return nil, err
		}
		reflect.Copy(reflect.ValueOf(flat), reflect.ValueOf(v.data))
		results[i] = buf
	}
	if profiling {
		maybeSaveProfile()
	}
	for i, d := range donate {
		if d && i < len(inputs) {
			_ = e.backend.BufferFinalize(inputs[i])
		}
	}
	return results, nil
}

// arena keeps released buffers by dtype and length for reuse within and across executions.
type arena struct {
	free map[arenaKey][]any
}

type arenaKey struct {
	dtype dtypes.DType
	size  int
}

func (a *arena) get(dt dtypes.DType, size int) any {
	k := arenaKey{dt, size}
	if l := a.free[k]; len(l) > 0 {
		d := l[len(l)-1]
		a.free[k] = l[:len(l)-1]
		return d
	}
	return reflect.MakeSlice(reflect.SliceOf(dt.GoType()), size, size).Interface()
}

func (a *arena) put(data any) {
	if data == nil {
		return
	}
	v := reflect.ValueOf(data)
	dt := dtypes.FromGoType(v.Type().Elem())
	if a.free == nil {
		a.free = map[arenaKey][]any{}
	}
	k := arenaKey{dt, v.Len()}
	a.free[k] = append(a.free[k], data)
}
