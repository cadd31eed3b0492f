package pipeline

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gonomaly/gonomaly/datasets"
)

// Layout is how a data folder is organised.
type Layout string

// The folder layouts Open recognises.
const (
	// MVTecLayout is one category of MVTec AD's layout: train/good, test/<defect>, ground_truth/<defect>
	// (what synth.WriteMVTec writes).
	MVTecLayout Layout = "mvtec"
	// PlainLayout is a folder of normal images only (no test split, no defects).
	PlainLayout Layout = "folder"
)

// DetectLayout says how dir is organised: an MVTec category when it holds train/good, else a plain
// folder of images when it holds image files directly. Anything else is an error that says what was
// expected.
func DetectLayout(dir string) (Layout, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("data folder: %w", err)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("data folder %s is a file, not a folder", dir)
	}
	if st, err := os.Stat(filepath.Join(dir, "train", datasets.GoodDefect)); err == nil && st.IsDir() {
		return MVTecLayout, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("data folder: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() && datasets.IsImageFile(e.Name()) && !strings.HasPrefix(e.Name(), ".") {
			return PlainLayout, nil
		}
	}
	return "", fmt.Errorf("data folder %s is neither an MVTec category (no train/good folder) nor a folder of images (no .png, .jpg, .bmp or .tif file in it); "+
		"for a benchmark root holding several categories, point at one category, e.g. %s", dir, filepath.Join(dir, "<category>"))
}

// Open loads the data folder dir at imageSize x imageSize, with valFraction of the normal training
// images (seeded) held out as the validation split that thresholds come from. It checks every file's
// header (Dataset.Check), so a bad file is reported, by name, before any work starts.
func Open(dir string, imageSize int, valFraction float64, seed uint64) (*datasets.Dataset, Layout, error) {
	layout, err := DetectLayout(dir)
	if err != nil {
		return nil, "", err
	}
	opts := datasets.Options{ImageSize: imageSize, ValFraction: valFraction, Seed: seed}
	clean := filepath.Clean(dir)
	var ds *datasets.Dataset
	switch layout {
	case MVTecLayout:
		ds, err = datasets.LoadMVTec(filepath.Dir(clean), filepath.Base(clean), opts)
	default:
		ds, err = datasets.LoadFolder(datasets.Folder{Category: filepath.Base(clean), NormalDir: clean, NormalTestFraction: -1}, opts)
	}
	if err != nil {
		return nil, "", err
	}
	if err := ds.Check(); err != nil {
		return nil, "", fmt.Errorf("bad files in %s:\n%w", dir, err)
	}
	return ds, layout, nil
}

// ImageFiles lists the images named by args: each a file (taken as is) or a folder (walked recursively
// for image files, hidden files and folders skipped, and so are the folders in skip: an output folder
// inside the input one), sorted, without duplicates.
func ImageFiles(args []string, skip ...string) ([]string, error) {
	skipped := map[string]bool{}
	for _, s := range skip {
		if abs, err := filepath.Abs(s); err == nil {
			skipped[abs] = true
		}
	}
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("images: %w", err)
		}
		if !st.IsDir() {
			add(filepath.Clean(a))
			continue
		}
		var found []string
		err = filepath.WalkDir(a, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if strings.HasPrefix(e.Name(), ".") && p != a {
				if e.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if e.IsDir() && len(skipped) > 0 {
				if abs, err := filepath.Abs(p); err == nil && skipped[abs] {
					return filepath.SkipDir
				}
			}
			if e.Type().IsRegular() && datasets.IsImageFile(e.Name()) {
				found = append(found, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("images: %w", err)
		}
		sort.Strings(found)
		for _, p := range found {
			add(p)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("images: no image files (.png, .jpg, .bmp, .tif) found in " + strings.Join(args, ", "))
	}
	return out, nil
}

// FileSplit is a split over image files, loaded lazily at imageSize (it implements methods.Images), and
// its header check (Dataset.Check) is run first so a bad file is named before anything is written.
func FileSplit(files []string, imageSize int) (*datasets.Split, error) {
	src, err := datasets.NewDiskSource(datasets.Options{ImageSize: imageSize})
	if err != nil {
		return nil, err
	}
	items := make([]datasets.Item, len(files))
	for i, f := range files {
		items[i] = datasets.Item{ID: f, ImagePath: f, Label: datasets.Normal, Defect: datasets.GoodDefect}
	}
	sp := &datasets.Split{Name: "predict", Category: "files", Items: items, Source: src}
	ds := &datasets.Dataset{Benchmark: "files", Category: "files", Test: sp}
	if err := ds.Check(); err != nil {
		return nil, fmt.Errorf("bad image files:\n%w", err)
	}
	return sp, nil
}
