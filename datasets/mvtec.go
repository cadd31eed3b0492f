package datasets

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// LoadMVTec reads one category of MVTec AD (Bergmann et al., "MVTec AD — A Comprehensive Real-World
// Dataset for Unsupervised Anomaly Detection", CVPR 2019) laid out as
//
//	<root>/<category>/train/good/*.png
//	<root>/<category>/test/<defect>/*.png            (defect "good" holds normal test images)
//	<root>/<category>/ground_truth/<defect>/<id>_mask.png
//
// Train holds normal images only; every anomalous test image must have a mask (an error names the
// missing file). See also MVTecCategories, LoadMPDD.
func LoadMVTec(root, category string, opts Options) (*Dataset, error) {
	return loadMVTecLayout("mvtec", root, category, opts)
}

// LoadMPDD reads one category of MPDD (Jezek et al., "Deep learning-based defect detection of metal
// parts: evaluating current methods in complex conditions", ICUMT 2021), which uses the MVTec AD layout.
func LoadMPDD(root, category string, opts Options) (*Dataset, error) {
	return loadMVTecLayout("mpdd", root, category, opts)
}

// MVTecCategories lists the categories under root in MVTec AD layout (folders with train/good), sorted.
// It also serves MPDD.
func MVTecCategories(root string) ([]string, error) {
	return categoriesWith(root, filepath.Join("train", GoodDefect))
}

// categoriesWith lists the sub-folders of root that contain the folder rel.
func categoriesWith(root, rel string) ([]string, error) {
	if err := requireDir(root, "dataset root"); err != nil {
		return nil, err
	}
	dirs, err := subdirs(root)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range dirs {
		if st, err := os.Stat(filepath.Join(root, d, rel)); err == nil && st.IsDir() {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no categories found (no <category>/%s folders)", root, filepath.ToSlash(rel))
	}
	return out, nil
}

func loadMVTecLayout(benchmark, root, category string, opts Options) (*Dataset, error) {
	src, err := NewDiskSource(opts)
	if err != nil {
		return nil, err
	}
	catDir := filepath.Join(root, category)
	if err := requireDir(catDir, "category"); err != nil {
		return nil, err
	}
	var l listing
	trainDir := filepath.Join(catDir, "train", GoodDefect)
	if err := requireDir(trainDir, "train/good"); err != nil {
		return nil, err
	}
	files, err := l.images(trainDir)
	if err != nil {
		return nil, err
	}
	var train []Item
	for _, f := range files {
		train = append(train, fileItem(catDir, f, "", Normal, GoodDefect))
	}
	testDir := filepath.Join(catDir, "test")
	if err := requireDir(testDir, "test"); err != nil {
		return nil, err
	}
	defects, err := subdirs(testDir)
	if err != nil {
		return nil, err
	}
	// Files lying in test/ itself belong to no defect type: skip and count them.
	loose, err := l.images(testDir)
	if err != nil {
		return nil, err
	}
	l.skipped = append(l.skipped, loose...)
	var test []Item
	for _, defect := range defects {
		files, err := l.images(filepath.Join(testDir, defect))
		if err != nil {
			return nil, err
		}
		if defect == GoodDefect {
			for _, f := range files {
				test = append(test, fileItem(catDir, f, "", Normal, GoodDefect))
			}
			continue
		}
		gtDir := filepath.Join(catDir, "ground_truth", defect)
		if len(files) > 0 {
			if err := requireDir(gtDir, "ground-truth"); err != nil {
				return nil, err
			}
		}
		for _, f := range files {
			s := stem(f)
			mask := findWithStem(gtDir, s+"_mask", s)
			if mask == "" {
				return nil, fmt.Errorf("%s: missing mask for test image %s", filepath.Join(gtDir, s+"_mask.png"), f)
			}
			test = append(test, fileItem(catDir, f, mask, Anomalous, defect))
		}
	}
	return assemble(benchmark, category, trainDir, train, test, src, &l)
}

// fileItem makes an Item whose ID is the image path relative to base, with forward slashes.
func fileItem(base, path, mask string, label Label, defect string) Item {
	id, err := filepath.Rel(base, path)
	if err != nil || strings.HasPrefix(id, "..") {
		id = path
	}
	return Item{ID: filepath.ToSlash(id), ImagePath: path, MaskPath: mask, Label: label, Defect: defect}
}
