package fastgo

import (
	"encoding/binary"
	"math/rand/v2"
	"unsafe"

	"github.com/gomlx/gomlx/backends"
)

// lowerMulti returns the kernel of a multi-output operation and its output nodes, in order.
func lowerMulti(parent *Node, all []*Node) (multiKernel, []*Node, error) {
	var outs []*Node
	for _, n := range all[parent.id+1:] {
		if n.multiOf != parent {
			break
		}
		outs = append(outs, n)
	}
	switch parent.op {
	case backends.OpTypeRNGBitGenerator:
		return rngBitGenerator, outs, nil
	}
	return nil, nil, unsupportedf("multi-output operation %s", parent.op)
}

// rngBitGenerator fills the values with PCG bits seeded by the state's two words and returns the
// generator's next state: the pure-Go backend's algorithm, so seeded graphs draw the same numbers on
// both backends.
func rngBitGenerator(ins []tensor, outs []tensor) {
	state := ins[0].data.([]uint64)
	rng := rand.NewPCG(state[0], state[1])
	values := outs[1]
	bytes := unsafe.Slice((*byte)(unsafePointer(values.data)), values.shape.Memory())
	var bits uint64
	for i := range bytes {
		if i%8 == 0 {
			bits = rng.Uint64()
		}
		bytes[i] = byte(bits)
		bits >>= 8
	}
	next := outs[0].data.([]uint64)
	copy(next, state)
	if enc, err := rng.MarshalBinary(); err == nil && len(enc) == 20 {
		next[0] = binary.LittleEndian.Uint64(enc[4:12])
		next[1] = binary.LittleEndian.Uint64(enc[12:20])
	} else {
		panic("fastgo: math/rand/v2 PCG state format changed")
	}
}

func unsafePointer(data any) unsafe.Pointer {
	return unsafe.Pointer(unsafe.SliceData(words[byte](data)))
}
