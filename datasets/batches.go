package datasets

import (
	"fmt"
	"iter"
	"runtime"
	"sync"
	"sync/atomic"
)

// workersOrDefault returns workers, or GOMAXPROCS when workers <= 0.
func workersOrDefault(workers int) int {
	if workers <= 0 {
		return runtime.GOMAXPROCS(0)
	}
	return workers
}

// loadRange loads items [start, end) with a pool of workers, in order. It returns the error of the
// lowest failing index, so failures are reported deterministically. It gives up early when stop closes.
func (s *Split) loadRange(start, end, workers int, stop <-chan struct{}) ([]Sample, error) {
	n := end - start
	out := make([]Sample, n)
	errs := make([]error, n)
	var next atomic.Int64
	var failed atomic.Bool
	var wg sync.WaitGroup
	for range min(workersOrDefault(workers), n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || failed.Load() {
					return
				}
				select {
				case <-stop:
					return
				default:
				}
				out[i], errs[i] = s.Source.Load(s.Items[start+i])
				if errs[i] != nil {
					failed.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("%s/%s item %d (%s): %w", s.Category, s.Name, start+i, s.Items[start+i].ID, err)
		}
	}
	select {
	case <-stop:
		return nil, fmt.Errorf("%s/%s: loading stopped", s.Category, s.Name)
	default:
	}
	return out, nil
}

// Batches streams the split from disk in order, in batches of size samples (the last may be shorter),
// decoding and resizing each batch with a pool of workers goroutines (<= 0: GOMAXPROCS). The next
// batch is loaded while the caller works on the current one. On the first error it yields (nil, err)
// and stops; breaking out of the loop stops the loading.
//
//	for batch, err := range split.Batches(32, 0) { ... }
func (s *Split) Batches(size, workers int) iter.Seq2[[]Sample, error] {
	return func(yield func([]Sample, error) bool) {
		if size <= 0 {
			yield(nil, fmt.Errorf("%s/%s: batch size must be positive, got %d", s.Category, s.Name, size))
			return
		}
		n := len(s.Items)
		if n == 0 {
			return
		}
		type result struct {
			samples []Sample
			err     error
		}
		stop := make(chan struct{})
		defer close(stop)
		results := make(chan result, 1) // one batch of look-ahead
		go func() {
			defer close(results)
			for start := 0; start < n; start += size {
				samples, err := s.loadRange(start, min(start+size, n), workers, stop)
				select {
				case results <- result{samples, err}:
				case <-stop:
					return
				}
				if err != nil {
					return
				}
			}
		}()
		for r := range results {
			if !yield(r.samples, r.err) || r.err != nil {
				return
			}
		}
	}
}

// LoadAll loads every sample of the split with a pool of workers (<= 0: GOMAXPROCS), in order.
func (s *Split) LoadAll(workers int) ([]Sample, error) {
	if len(s.Items) == 0 {
		return nil, nil
	}
	return s.loadRange(0, len(s.Items), workers, nil)
}

// Cached loads the whole split once (in parallel) and returns a split with the same items whose
// source serves them from memory: use it when a method reads the images several times and they fit
// in RAM (256x256x3 float32 is 768 KiB per image). Samples are shared between calls: do not modify them.
func (s *Split) Cached(workers int) (*Split, error) {
	samples, err := s.LoadAll(workers)
	if err != nil {
		return nil, err
	}
	mem := &memorySource{byItem: make(map[Item]Sample, len(samples)), fallback: s.Source}
	for _, smp := range samples {
		mem.byItem[smp.Item] = smp
	}
	return &Split{Name: s.Name, Category: s.Category, Items: append([]Item(nil), s.Items...), Source: mem}, nil
}

// memorySource serves preloaded samples, falling back to the original source for unknown items.
type memorySource struct {
	byItem   map[Item]Sample
	fallback Source
}

// Load implements Source.
func (m *memorySource) Load(it Item) (Sample, error) {
	if smp, ok := m.byItem[it]; ok {
		return smp, nil
	}
	return m.fallback.Load(it)
}

// HasMasks reports whether every anomalous item of the split has a ground-truth mask (items of a
// folder dataset without mask folder have none; generated items always do).
func (s *Split) HasMasks() bool {
	for _, it := range s.Items {
		if it.Label == Anomalous && it.MaskPath == "" && it.ImagePath != "" {
			return false
		}
	}
	return true
}
