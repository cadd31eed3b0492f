package datasets

import (
	"errors"
	"fmt"
	"sync"
)

// Check reads the header of every image and mask of the dataset (no pixel decoding, so it is fast) and
// verifies that each is a readable image within the size limits and that each mask has its image's
// size. It returns every problem found, joined (errors.Join), each naming the file; nil when all is
// well. Truncated pixel data is only found by CheckPixels.
func (d *Dataset) Check() error {
	lim := Limits{}
	if ds, ok := d.sourceOf().(*DiskSource); ok {
		lim = ds.Options.Limits
	}
	var items []Item
	for _, sp := range d.splits() {
		items = append(items, sp.Items...)
	}
	errs := make([]error, len(items))
	var wg sync.WaitGroup
	jobs := make(chan int)
	for range workersOrDefault(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				errs[i] = checkItem(items[i], lim)
			}
		}()
	}
	for i := range items {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return errors.Join(errs...)
}

// checkItem verifies one item's headers.
func checkItem(it Item, lim Limits) error {
	if it.ImagePath == "" {
		return nil // generated item: nothing on disk
	}
	im, err := DecodeConfigFile(it.ImagePath, lim)
	if err != nil {
		return err
	}
	if it.MaskPath == "" {
		return nil
	}
	m, err := DecodeConfigFile(it.MaskPath, lim)
	if err != nil {
		return err
	}
	if m.Width != im.Width || m.Height != im.Height {
		return fmt.Errorf("%s: mask is %dx%d but image %s is %dx%d", it.MaskPath, m.Width, m.Height, it.ImagePath, im.Width, im.Height)
	}
	return nil
}

// CheckPixels fully loads every sample of every split with a pool of workers (<= 0: GOMAXPROCS), and
// returns every failure joined, each naming the file. It finds what Check cannot (truncated or corrupt
// pixel data) at the cost of decoding everything.
func (d *Dataset) CheckPixels(workers int) error {
	var errs []error
	for _, sp := range d.splits() {
		var mu sync.Mutex
		jobs := make(chan int)
		var wg sync.WaitGroup
		for range workersOrDefault(workers) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range jobs {
					if _, err := sp.Source.Load(sp.Items[i]); err != nil {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
					}
				}
			}()
		}
		for i := range sp.Items {
			jobs <- i
		}
		close(jobs)
		wg.Wait()
	}
	return errors.Join(errs...)
}

// splits returns the dataset's non-nil splits.
func (d *Dataset) splits() []*Split {
	var out []*Split
	for _, sp := range []*Split{d.Train, d.Val, d.Test} {
		if sp != nil {
			out = append(out, sp)
		}
	}
	return out
}

// sourceOf returns the source of the first split that has one.
func (d *Dataset) sourceOf() Source {
	for _, sp := range d.splits() {
		if sp.Source != nil {
			return sp.Source
		}
	}
	return nil
}
