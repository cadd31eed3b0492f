package datasets

import "sync"

// ReadAhead returns a split with the same items whose Image(i) and Sample(i) also start loading items
// i+1 ... i+ahead in the background, with at most workers loads at a time (<= 0: GOMAXPROCS). A method
// that reads images one by one, in order, through the methods.Images interface then decodes on all
// cores without knowing it. Random access still works; it just gains nothing.
func (s *Split) ReadAhead(ahead, workers int) *Split {
	ra := &readAheadSource{
		inner:   s.Source,
		items:   append([]Item(nil), s.Items...),
		pos:     make(map[Item]int, len(s.Items)),
		ahead:   max(ahead, 0),
		futures: map[int]*futureSample{},
		sem:     make(chan struct{}, workersOrDefault(workers)),
	}
	for i, it := range ra.items {
		ra.pos[it] = i
	}
	return &Split{Name: s.Name, Category: s.Category, Items: append([]Item(nil), s.Items...), Source: ra}
}

// readAheadSource wraps a source, loading the items after the requested one in the background.
type readAheadSource struct {
	inner Source
	items []Item
	pos   map[Item]int
	ahead int
	sem   chan struct{}

	mu      sync.Mutex
	futures map[int]*futureSample
}

// futureSample is a load in progress; done closes when s and err are set.
type futureSample struct {
	done chan struct{}
	s    Sample
	err  error
}

// startLocked starts loading item i unless it is already on its way; r.mu must be held.
func (r *readAheadSource) startLocked(i int) *futureSample {
	if f, ok := r.futures[i]; ok {
		return f
	}
	f := &futureSample{done: make(chan struct{})}
	r.futures[i] = f
	go func() {
		r.sem <- struct{}{}
		f.s, f.err = r.inner.Load(r.items[i])
		<-r.sem
		close(f.done)
	}()
	return f
}

// Load implements Source.
func (r *readAheadSource) Load(it Item) (Sample, error) {
	i, ok := r.pos[it]
	if !ok {
		return r.inner.Load(it)
	}
	r.mu.Lock()
	f := r.startLocked(i)
	delete(r.futures, i) // each result is handed out once
	for j := i + 1; j <= i+r.ahead && j < len(r.items); j++ {
		r.startLocked(j)
	}
	// Forget loads outside the window (the reader jumped): they finish but nobody waits for them.
	for k := range r.futures {
		if k < i || k > i+r.ahead {
			delete(r.futures, k)
		}
	}
	r.mu.Unlock()
	<-f.done
	return f.s, f.err
}
