package backbone

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/compute"
)

// extractCache keeps one compiled executable per tap list, so repeated Extract calls (train, then test
// images) compile once per input size.
type extractCache struct {
	mu    sync.Mutex
	execs map[string]*mlctx.Exec
}

// exec returns the executable computing taps, building it on first use.
func (b *Backbone) exec(taps []string) (*mlctx.Exec, error) {
	key := strings.Join(taps, ",")
	b.extract.mu.Lock()
	defer b.extract.mu.Unlock()
	if e, ok := b.extract.execs[key]; ok {
		return e, nil
	}
	backend, err := compute.Backend()
	if err != nil {
		return nil, err
	}
	e, err := mlctx.NewExec(backend, mlctx.New(), func(ctx *mlctx.Context, x *graph.Node) []*graph.Node {
		return b.Forward(ctx, x, taps...)
	})
	if err != nil {
		return nil, fmt.Errorf("backbone %s: %w", b.arch, err)
	}
	if b.extract.execs == nil {
		b.extract.execs = map[string]*mlctx.Exec{}
	}
	b.extract.execs[key] = e
	return e, nil
}

// Extract runs the backbone over images (RGB, or grayscale repeated to RGB; all the same size) in
// batches of batchSize (default 8 when <= 0) and returns one tensor [N,h,w,Channels(tap)] per tap, in
// the order asked. It compiles once per image size and batch size (a smaller last batch compiles once
// more: cheaper than computing padding images on the pure-Go backend), reports progress through
// methods.ReportProgress, and stops with ctx.Err() when ctx is cancelled.
func (b *Backbone) Extract(ctx context.Context, images methods.Images, batchSize int, taps ...string) (out []*tensors.Tensor, err error) {
	if len(taps) == 0 {
		return nil, fmt.Errorf("backbone %s: Extract needs at least one tap (%s)", b.arch, strings.Join(Taps, ", "))
	}
	for _, t := range taps {
		if !isTap(t) {
			return nil, fmt.Errorf("backbone %s: unknown tap %q (have %s)", b.arch, t, strings.Join(Taps, ", "))
		}
	}
	n := images.Len()
	if n == 0 {
		return nil, fmt.Errorf("backbone %s: Extract got no images", b.arch)
	}
	if batchSize <= 0 {
		batchSize = 8
	}
	batchSize = min(batchSize, n)
	first, err := images.Image(0)
	if err != nil {
		return nil, fmt.Errorf("backbone %s: %w", b.arch, err)
	}
	h, w := first.H, first.W
	if b.OutputSize("layer4", min(h, w)) < 1 || h < 1 || w < 1 {
		return nil, fmt.Errorf("backbone %s: image size %dx%d (W x H) is too small", b.arch, w, h)
	}
	e, err := b.exec(taps)
	if err != nil {
		return nil, err
	}
	defer func() { // graph-building panics become errors
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("backbone %s: %v", b.arch, r)
		}
	}()

	task := fmt.Sprintf("%s: extracting %s", b.arch, strings.Join(taps, ", "))
	start := time.Now()
	out = make([]*tensors.Tensor, len(taps))
	batch := make([]float32, batchSize*h*w*3)
	for lo := 0; lo < n; lo += batchSize {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hi := min(lo+batchSize, n)
		for i := lo; i < hi; i++ {
			im := first
			if i > 0 {
				if im, err = images.Image(i); err != nil {
					return nil, fmt.Errorf("backbone %s: %w", b.arch, err) // the images' error names the image
				}
			}
			if err := putRGB(batch[(i-lo)*h*w*3:(i-lo+1)*h*w*3], im, h, w); err != nil {
				return nil, fmt.Errorf("backbone %s: %s: %w", b.arch, methods.ImageName(images, i), err)
			}
		}
		outs, err := e.Exec(tensors.FromFlatDataAndDimensions(batch[:(hi-lo)*h*w*3], hi-lo, h, w, 3))
		if err != nil {
			return nil, fmt.Errorf("backbone %s: %w", b.arch, err)
		}
		for k, o := range outs {
			d := o.Shape().Dimensions
			per := d[1] * d[2] * d[3]
			if out[k] == nil {
				out[k] = tensors.FromShape(shapes.Make(dtypes.Float32, n, d[1], d[2], d[3]))
			}
			tensors.MustConstFlatData(o, func(flat []float32) {
				tensors.MustMutableFlatData(out[k], func(dst []float32) {
					copy(dst[lo*per:hi*per], flat)
				})
			})
			o.FinalizeAll()
		}
		methods.ReportProgress(ctx, methods.Event{Task: task, Done: hi, Total: n, Elapsed: time.Since(start), Finished: hi == n})
	}
	return out, nil
}

func isTap(t string) bool {
	for _, x := range Taps {
		if x == t {
			return true
		}
	}
	return false
}

// putRGB copies im into dst (HWC, 3 channels), repeating a single channel to RGB.
func putRGB(dst []float32, im datasets.Image, h, w int) error {
	if err := im.Validate(); err != nil {
		return err
	}
	if im.H != h || im.W != w {
		return fmt.Errorf("is %dx%d (W x H) but the first image is %dx%d (resize images to one size first)", im.W, im.H, w, h)
	}
	switch im.C {
	case 3:
		copy(dst, im.Pix)
	case 1:
		for i, v := range im.Pix {
			dst[3*i], dst[3*i+1], dst[3*i+2] = v, v, v
		}
	default:
		return fmt.Errorf("has %d channels, want 3 (RGB) or 1 (grayscale)", im.C)
	}
	return nil
}
