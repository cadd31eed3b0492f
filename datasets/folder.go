package datasets

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sort"
)

// Folder describes a plain folder dataset: normal images in one folder, anomalous ones in another,
// masks optionally in a third, matched to images by file-name stem ("003.png" matches "003.bmp" or
// "003_mask.png").
type Folder struct {
	// Category names the dataset in splits and summaries. Default: the base name of NormalDir's parent.
	Category string
	// NormalDir holds normal images (required).
	NormalDir string
	// AbnormalDir holds anomalous test images (optional). Its files have the defect type of the folder's
	// base name; each of its sub-folders is a defect type of its own.
	AbnormalDir string
	// MaskDir holds masks of the anomalous images (optional), either directly or in sub-folders named
	// like AbnormalDir's. Without it anomalous samples have an empty mask (see Split.HasMasks).
	MaskDir string
	// NormalTestDir holds normal test images (optional). Without it, NormalTestFraction of NormalDir
	// (chosen with Options.Seed) goes to test.
	NormalTestDir string
	// NormalTestFraction is the fraction of NormalDir moved to test when NormalTestDir is empty.
	// Default (0): 0.2, as anomalib's Folder; a negative value keeps all normal images in train.
	NormalTestFraction float64
}

// LoadFolder reads a Folder dataset with the given options.
func LoadFolder(f Folder, opts Options) (*Dataset, error) {
	src, err := NewDiskSource(opts)
	if err != nil {
		return nil, err
	}
	if f.NormalDir == "" {
		return nil, fmt.Errorf("Folder.NormalDir is required")
	}
	if err := requireDir(f.NormalDir, "normal"); err != nil {
		return nil, err
	}
	category := f.Category
	if category == "" {
		category = filepath.Base(filepath.Dir(filepath.Clean(f.NormalDir)))
	}
	base := filepath.Dir(filepath.Clean(f.NormalDir))
	var l listing
	normals, err := l.images(f.NormalDir)
	if err != nil {
		return nil, err
	}
	var train, test []Item
	for _, p := range normals {
		train = append(train, fileItem(base, p, "", Normal, GoodDefect))
	}
	switch {
	case f.NormalTestDir != "":
		if err := requireDir(f.NormalTestDir, "normal test"); err != nil {
			return nil, err
		}
		files, err := l.images(f.NormalTestDir)
		if err != nil {
			return nil, err
		}
		for _, p := range files {
			test = append(test, fileItem(base, p, "", Normal, GoodDefect))
		}
	case f.NormalTestFraction >= 0:
		frac := f.NormalTestFraction
		if frac == 0 {
			frac = 0.2
		}
		if frac >= 1 {
			return nil, fmt.Errorf("Folder.NormalTestFraction must be below 1, got %g", frac)
		}
		n := int(float64(len(train))*frac + 0.5)
		if n > 0 && n < len(train) {
			seed := opts.Seed ^ 0x243f6a8885a308d3
			idx := rand.New(rand.NewPCG(seed, seed>>1|1)).Perm(len(train))[:n]
			sort.Ints(idx)
			moved := map[int]bool{}
			for _, i := range idx {
				test = append(test, train[i])
				moved[i] = true
			}
			var kept []Item
			for i, it := range train {
				if !moved[i] {
					kept = append(kept, it)
				}
			}
			train = kept
		}
	}
	if f.AbnormalDir != "" {
		if err := requireDir(f.AbnormalDir, "abnormal"); err != nil {
			return nil, err
		}
		if f.MaskDir != "" {
			if err := requireDir(f.MaskDir, "mask"); err != nil {
				return nil, err
			}
		}
		add := func(dir, defect, maskDir string) error {
			files, err := l.images(dir)
			if err != nil {
				return err
			}
			for _, p := range files {
				mask := ""
				if f.MaskDir != "" {
					s := stem(p)
					if mask = findWithStem(maskDir, s, s+"_mask"); mask == "" && maskDir != f.MaskDir {
						mask = findWithStem(f.MaskDir, s, s+"_mask")
					}
					if mask == "" {
						return fmt.Errorf("%s: missing mask for test image %s (looked for %s.* and %s_mask.*)", maskDir, p, s, s)
					}
				}
				test = append(test, fileItem(base, p, mask, Anomalous, defect))
			}
			return nil
		}
		if err := add(f.AbnormalDir, filepath.Base(filepath.Clean(f.AbnormalDir)), f.MaskDir); err != nil {
			return nil, err
		}
		subs, err := subdirs(f.AbnormalDir)
		if err != nil {
			return nil, err
		}
		for _, sub := range subs {
			if err := add(filepath.Join(f.AbnormalDir, sub), sub, filepath.Join(f.MaskDir, sub)); err != nil {
				return nil, err
			}
		}
	}
	return assemble("folder", category, f.NormalDir, train, test, src, &l)
}
