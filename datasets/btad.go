package datasets

import (
	"fmt"
	"path/filepath"
)

// BTADDefect is the defect type of BTAD's anomalous images (its folder name "ko").
const BTADDefect = "ko"

// LoadBTAD reads one category of BTAD (Mishra et al., "VT-ADL: A Vision Transformer Network for Image
// Anomaly Detection and Localization", ISIE 2021) laid out as
//
//	<root>/<category>/train/ok/*
//	<root>/<category>/test/ok/*, <root>/<category>/test/ko/*
//	<root>/<category>/ground_truth/ko/*
//
// Images and masks are BMP or PNG. A mask is found by the image's stem with any image extension, or the
// stem followed by "_mask". Normal items have defect "good", anomalous ones "ko".
func LoadBTAD(root, category string, opts Options) (*Dataset, error) {
	src, err := NewDiskSource(opts)
	if err != nil {
		return nil, err
	}
	catDir := filepath.Join(root, category)
	if err := requireDir(catDir, "category"); err != nil {
		return nil, err
	}
	var l listing
	trainDir := filepath.Join(catDir, "train", "ok")
	if err := requireDir(trainDir, "train/ok"); err != nil {
		return nil, err
	}
	files, err := l.images(trainDir)
	if err != nil {
		return nil, err
	}
	var train, test []Item
	for _, f := range files {
		train = append(train, fileItem(catDir, f, "", Normal, GoodDefect))
	}
	okDir, koDir := filepath.Join(catDir, "test", "ok"), filepath.Join(catDir, "test", "ko")
	for _, d := range []struct{ dir, what string }{{okDir, "test/ok"}, {koDir, "test/ko"}} {
		if err := requireDir(d.dir, d.what); err != nil {
			return nil, err
		}
	}
	if files, err = l.images(okDir); err != nil {
		return nil, err
	}
	for _, f := range files {
		test = append(test, fileItem(catDir, f, "", Normal, GoodDefect))
	}
	if files, err = l.images(koDir); err != nil {
		return nil, err
	}
	gtDir := filepath.Join(catDir, "ground_truth", "ko")
	if len(files) > 0 {
		if err := requireDir(gtDir, "ground_truth/ko"); err != nil {
			return nil, err
		}
	}
	for _, f := range files {
		s := stem(f)
		mask := findWithStem(gtDir, s, s+"_mask")
		if mask == "" {
			return nil, fmt.Errorf("%s: missing mask for test image %s (looked for %s.png/.bmp)", gtDir, f, s)
		}
		test = append(test, fileItem(catDir, f, mask, Anomalous, BTADDefect))
	}
	return assemble("btad", category, trainDir, train, test, src, &l)
}

// BTADCategories lists the categories under root in BTAD layout (folders with train/ok), sorted.
func BTADCategories(root string) ([]string, error) {
	return categoriesWith(root, filepath.Join("train", "ok"))
}
