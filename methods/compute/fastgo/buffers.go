package fastgo

import (
	"sync"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// Finalized buffers are kept for the next buffer of the same shape (a training loop asks for the
// same shapes every step) instead of going back to the pure-Go backend's sync.Pool, which the garbage
// collector empties: fresh memory must be faulted in and zeroed by the OS, which on the virtual
// machines measured here costs more than the arithmetic of an element-wise step on it.

// keptBufferBytes bounds the memory held by finalized buffers waiting for reuse.
const keptBufferBytes = 1 << 30

type bufferCache struct {
	mu    sync.Mutex
	free  map[string][]backends.Buffer
	bytes int
}

// BufferFinalize implements backends.DataInterface: the buffer is kept for reuse (up to a bound).
func (b *Backend) BufferFinalize(buffer backends.Buffer) error {
	shape, err := b.Backend.BufferShape(buffer)
	if err != nil || !shape.Ok() || b.IsFinalized() {
		return b.Backend.BufferFinalize(buffer)
	}
	c := &b.buffers
	c.mu.Lock()
	if c.bytes+int(shape.Memory()) > keptBufferBytes {
		c.mu.Unlock()
		return b.Backend.BufferFinalize(buffer)
	}
	if c.free == nil {
		c.free = map[string][]backends.Buffer{}
	}
	key := shape.String()
	for _, kept := range c.free[key] {
		if kept == buffer {
			c.mu.Unlock()
			return b.Backend.BufferFinalize(buffer) // finalized twice: let the pure-Go backend report it
		}
	}
	c.free[key] = append(c.free[key], buffer)
	c.bytes += int(shape.Memory())
	c.mu.Unlock()
	return nil
}

// NewSharedBuffer implements backends.DataInterface, reusing a kept buffer of the same shape.
func (b *Backend) NewSharedBuffer(device backends.DeviceNum, shape shapes.Shape) (backends.Buffer, any, error) {
	if buf := b.reuse(shape); buf != nil {
		flat, err := b.Backend.BufferData(buf)
		if err == nil {
			return buf, flat, nil
		}
	}
	return b.Backend.NewSharedBuffer(device, shape)
}

func (b *Backend) reuse(shape shapes.Shape) backends.Buffer {
	c := &b.buffers
	c.mu.Lock()
	defer c.mu.Unlock()
	key := shape.String()
	l := c.free[key]
	if len(l) == 0 {
		return nil
	}
	buf := l[len(l)-1]
	c.free[key] = l[:len(l)-1]
	c.bytes -= int(shape.Memory())
	return buf
}

// Finalize implements backends.Backend: kept buffers are released with the backend.
func (b *Backend) Finalize() {
	b.buffers.mu.Lock()
	b.buffers.free, b.buffers.bytes = nil, 0
	b.buffers.mu.Unlock()
	b.Backend.Finalize()
}
