package methods

import (
	"context"
	"time"
)

// Event is one progress report from long work (feature extraction, training, scoring).
type Event struct {
	// Task names the work, e.g. "patchcore: extracting features".
	Task string
	// Done and Total count steps (images, batches, epochs); Total is 0 when unknown.
	Done, Total int
	// Metrics holds named running values, e.g. {"loss": 0.12}; may be nil.
	Metrics map[string]float64
	// Elapsed is the time since the task started.
	Elapsed time.Duration
	// Finished is true on the last report of a task.
	Finished bool
}

// ProgressFunc receives progress events. It must be cheap and safe to call from one goroutine at a time.
type ProgressFunc func(Event)

type progressKey struct{}

// WithProgress returns a context whose long-running work reports to fn. The kernel package provides
// functions that draw an updating bar in a notebook or a terminal.
func WithProgress(ctx context.Context, fn ProgressFunc) context.Context {
	return context.WithValue(ctx, progressKey{}, fn)
}

// ReportProgress sends ev to the context's ProgressFunc, if any.
func ReportProgress(ctx context.Context, ev Event) {
	if fn, ok := ctx.Value(progressKey{}).(ProgressFunc); ok && fn != nil {
		fn(ev)
	}
}
