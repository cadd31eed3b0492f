// Package trainloop holds what the methods that train a network on raw images share (the
// reconstruction family: methods/ae, methods/draem): reading and checking the training images, batching
// them into tensors, the epoch loop with progress, periodic checkpoints and cancellation, streaming
// prediction in batches, and writing and restoring a context's variables.
package trainloop

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/safetensors"
)

// LoadImages reads every training image and checks it (size, finiteness, channels equal to the first
// image's); errors name the image and start with method. It returns the images and their channels.
func LoadImages(method string, s methods.Settings, train methods.Images) (methods.ImageList, int, error) {
	n := train.Len()
	if n == 0 {
		return nil, 0, fmt.Errorf("%s: no training images", method)
	}
	imgs := make(methods.ImageList, n)
	c := 0
	for i := range imgs {
		im, err := train.Image(i)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: training: %w", method, err)
		}
		if err := s.CheckInput(train, i, im, c); err != nil {
			return nil, 0, fmt.Errorf("%s: training: %w", method, err)
		}
		if c == 0 {
			c = im.C
		}
		imgs[i] = im
	}
	return imgs, c, nil
}

// Batch stacks images of one size into a float32 tensor [N,H,W,C].
func Batch(imgs []datasets.Image) *tensors.Tensor {
	h, w, c := imgs[0].H, imgs[0].W, imgs[0].C
	per := h * w * c
	buf := make([]float32, len(imgs)*per)
	for i, im := range imgs {
		copy(buf[i*per:(i+1)*per], im.Pix)
	}
	return tensors.FromFlatDataAndDimensions(buf, len(imgs), h, w, c)
}

// Unbatch splits a float32 tensor [N,H,W,C] (or [N,H,W], read as C == 1) into images.
func Unbatch(t *tensors.Tensor) []datasets.Image {
	d := t.Shape().Dimensions
	c := 1
	if len(d) == 4 {
		c = d[3]
	}
	flat := tensors.MustCopyFlatData[float32](t)
	per := d[1] * d[2] * c
	out := make([]datasets.Image, d[0])
	for i := range out {
		out[i] = datasets.Image{H: d[1], W: d[2], C: c, Pix: flat[i*per : (i+1)*per]}
	}
	return out
}

// Loop is an epoch loop over a fixed number of steps per epoch, with progress, periodic checkpoints,
// resumption (it starts at *EpochsDone) and cancellation (ctx's error, checked before every step).
type Loop struct {
	// Task names the work in progress events, e.g. "draem: training".
	Task          string
	Epochs, Steps int // epochs, and steps per epoch
	// Seed makes the per-epoch generators handed to Step: epoch e draws from PCG(Seed, e+1), so a resumed
	// run sees the same samples as an uninterrupted one.
	Seed uint64
	// Step runs one optimisation step and returns its loss and any other metrics to report.
	Step func(epoch, step int, rng *rand.Rand) (loss float64, metrics map[string]float64, err error)
	// EpochStart, when set, is called with each epoch's generator before its steps (e.g. to shuffle).
	EpochStart func(epoch int, rng *rand.Rand)
	// Checkpoint, when set, is called every CheckpointEvery steps (at an epoch's end) and after the last
	// epoch, with EpochsDone and History already updated.
	Checkpoint      func() error
	CheckpointEvery int
	// EpochsDone and History are updated after every epoch: finished epochs and mean losses. History
	// may be nil, for methods that record their own (per step).
	EpochsDone *int
	History    *[]float64
	// EpochEnd, when set, is called after each epoch (and its checkpoint) with the number of epochs
	// done; its error stops the loop.
	EpochEnd func(epochsDone int) error
}

// Run trains from *EpochsDone to Epochs.
func (l Loop) Run(ctx context.Context) error {
	start := time.Now()
	total := l.Epochs * l.Steps
	first := *l.EpochsDone
	since := 0
	for epoch := first; epoch < l.Epochs; epoch++ {
		rng := rand.New(rand.NewPCG(l.Seed, uint64(epoch)+1))
		if l.EpochStart != nil {
			l.EpochStart(epoch, rng)
		}
		var sum float64
		for s := 0; s < l.Steps; s++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			loss, extra, err := l.Step(epoch, s, rng)
			if err != nil {
				return err
			}
			sum += loss
			done := epoch*l.Steps + s + 1
			m := map[string]float64{"loss": loss, "epoch": float64(epoch + 1)}
			for k, v := range extra {
				m[k] = v
			}
			if el := time.Since(start).Seconds(); el > 0 {
				m["step/s"] = float64(done-first*l.Steps) / el
			}
			methods.ReportProgress(ctx, methods.Event{Task: l.Task, Done: done, Total: total, Metrics: m, Elapsed: time.Since(start)})
			since++
		}
		if l.History != nil {
			*l.History = append(*l.History, sum/float64(l.Steps))
		}
		*l.EpochsDone = epoch + 1
		if l.Checkpoint != nil && (since >= max(l.CheckpointEvery, 1) || epoch+1 == l.Epochs) {
			if err := l.Checkpoint(); err != nil {
				return err
			}
			since = 0
		}
		if l.EpochEnd != nil {
			if err := l.EpochEnd(epoch + 1); err != nil {
				return err
			}
		}
	}
	methods.ReportProgress(ctx, methods.Event{Task: l.Task, Done: total, Total: total, Finished: true, Elapsed: time.Since(start)})
	return nil
}

// EachBatch reads images batch at a time through s.Checked (so a wrong size or a non-finite pixel is an
// error naming the image; c channels when c > 0) and hands each batch to fn with its first index,
// reporting progress as task.
func EachBatch(ctx context.Context, task string, s methods.Settings, c int, images methods.Images, fn func(lo int, batch []datasets.Image) error) error {
	checked := s.Checked(images, c)
	n, b := images.Len(), max(s.FeatureBatch, 1)
	for lo := 0; lo < n; lo += b {
		if err := ctx.Err(); err != nil {
			return err
		}
		hi := min(lo+b, n)
		batch := make([]datasets.Image, 0, hi-lo)
		for i := lo; i < hi; i++ {
			im, err := checked.Image(i)
			if err != nil {
				return err
			}
			batch = append(batch, im)
		}
		if err := fn(lo, batch); err != nil {
			return err
		}
		methods.ReportProgress(ctx, methods.Event{Task: task, Done: hi, Total: n, Finished: hi == n})
	}
	return nil
}

// Tensors returns the float32 variables of vars as checkpoint tensors, leaving out the scopes starting with any
// of skip (e.g. nn.AdamScope for an inference checkpoint, a frozen backbone rebuilt at load).
func Tensors(vars *mlctx.Context, skip ...string) map[string]safetensors.Tensor {
	ts := map[string]safetensors.Tensor{}
	for v := range vars.IterVariables() {
		name := v.ScopeAndName()
		if hasAnyPrefix(name, skip) {
			continue
		}
		t := v.MustValue()
		if t.DType() != dtypes.Float32 {
			continue // the context's random-number state: only initialisation uses it
		}
		ts[name] = safetensors.Tensor{DType: "F32", Shape: t.Shape().Dimensions, Data: tensors.MustCopyFlatData[float32](t)}
	}
	return ts
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// Restore creates in vars every tensor of a checkpoint read from dir.
func Restore(dir string, vars *mlctx.Context, ts map[string]safetensors.Tensor) error {
	names := make([]string, 0, len(ts))
	for name := range ts {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t := ts[name]
		scope, vname := mlctx.SplitScope(name)
		if scope == "" || vname == "" {
			return fmt.Errorf("%s: bad tensor name %q", dir, name)
		}
		size := 1
		for _, d := range t.Shape {
			size *= d
		}
		if size != len(t.Data) {
			return fmt.Errorf("%s: tensor %s has %d values for shape %v", dir, name, len(t.Data), t.Shape)
		}
		vars.InAbsPath(scope).VariableWithValue(vname, tensors.FromFlatDataAndDimensions(t.Data, t.Shape...))
	}
	return nil
}

// CountVariables returns how many variables vars holds outside the scopes starting with any of skip:
// a loaded model whose inference graph creates variables was missing tensors.
func CountVariables(vars *mlctx.Context, skip ...string) int {
	n := 0
	for v := range vars.IterVariables() {
		if !hasAnyPrefix(v.ScopeAndName(), skip) {
			n++
		}
	}
	return n
}
