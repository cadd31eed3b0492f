package synth

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/gonomaly/gonomaly/datasets"
)

// WriteMVTec writes a dataset (any, not only a synthetic one) to disk in MVTec AD's layout:
//
//	<root>/<category>/train/good/<name>.png           train and val images
//	<root>/<category>/test/<defect>/<name>.png        test images, "good" for normal ones
//	<root>/<category>/ground_truth/<defect>/<name>_mask.png   masks of anomalous test images (0 or 255)
//
// <name> is the base name of the item ID without extension (numbered 000, 001, ... instead when two
// items of a folder share a name). Images are 8-bit PNG written atomically by datasets.WritePNG;
// samples are loaded and encoded on all cores.
func WriteMVTec(root string, ds *datasets.Dataset) error {
	if ds == nil || ds.Train == nil || ds.Test == nil {
		return fmt.Errorf("synth: WriteMVTec %s: dataset needs Train and Test splits", root)
	}
	if ds.Category == "" || strings.ContainsAny(ds.Category, `/\`) || ds.Category == "." || ds.Category == ".." {
		return fmt.Errorf("synth: WriteMVTec %s: invalid category name %q", root, ds.Category)
	}
	base := filepath.Join(root, ds.Category)
	type job struct {
		split *datasets.Split
		i     int
		img   string // image path
		mask  string // mask path, "" for normal images
	}
	var jobs []job
	used := map[string]bool{}
	counter := map[string]int{}
	name := func(folder, id string) string {
		stem := strings.TrimSuffix(path.Base(filepath.ToSlash(id)), path.Ext(id))
		if stem == "" || stem == "." || stem == "/" || used[folder+"/"+stem] {
			for {
				stem = fmt.Sprintf("%03d", counter[folder])
				counter[folder]++
				if !used[folder+"/"+stem] {
					break
				}
			}
		}
		used[folder+"/"+stem] = true
		return stem
	}
	for _, sp := range []*datasets.Split{ds.Train, ds.Val} {
		if sp == nil {
			continue
		}
		for i, it := range sp.Items {
			if it.Label != datasets.Normal {
				return fmt.Errorf("synth: WriteMVTec %s: %s split item %s is not normal", root, sp.Name, it.ID)
			}
			stem := name("train/good", it.ID)
			jobs = append(jobs, job{split: sp, i: i, img: filepath.Join(base, "train", "good", stem+".png")})
		}
	}
	for i, it := range ds.Test.Items {
		d := it.Defect
		if d == "" {
			d = datasets.GoodDefect
			if it.Label == datasets.Anomalous {
				d = "defect"
			}
		}
		if strings.ContainsAny(d, `/\`) || d == "." || d == ".." {
			return fmt.Errorf("synth: WriteMVTec %s: test item %s has invalid defect type %q", root, it.ID, d)
		}
		stem := name("test/"+d, it.ID)
		j := job{split: ds.Test, i: i, img: filepath.Join(base, "test", d, stem+".png")}
		if it.Label == datasets.Anomalous {
			j.mask = filepath.Join(base, "ground_truth", d, stem+"_mask.png")
		}
		jobs = append(jobs, j)
	}
	dirs := map[string]bool{}
	for _, j := range jobs {
		dirs[filepath.Dir(j.img)] = true
		if j.mask != "" {
			dirs[filepath.Dir(j.mask)] = true
		}
	}
	for d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("synth: WriteMVTec: %w", err)
		}
	}
	errs := make([]error, len(jobs))
	var next int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range max(1, min(runtime.GOMAXPROCS(0), len(jobs))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				k := next
				next++
				mu.Unlock()
				if k >= len(jobs) {
					return
				}
				j := jobs[k]
				s, err := j.split.Sample(j.i)
				if err == nil {
					err = datasets.WritePNG(j.img, s.Image)
				}
				if err == nil && j.mask != "" {
					if s.Mask.H != s.Image.H || s.Mask.W != s.Image.W || s.Mask.C != 1 {
						err = fmt.Errorf("mask of %s is %dx%dx%d, image is %dx%d", s.ID, s.Mask.H, s.Mask.W, s.Mask.C, s.Image.H, s.Image.W)
					} else {
						err = datasets.WritePNG(j.mask, datasets.Binarize(s.Mask))
					}
				}
				if err != nil {
					errs[k] = fmt.Errorf("synth: WriteMVTec %s: %w", j.img, err)
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
