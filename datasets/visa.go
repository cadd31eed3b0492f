package datasets

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// VisADefect is the defect type of VisA's anomalous images: the 1-class split has no finer types.
const VisADefect = "anomaly"

// VisASplitCSV is where the VisA split file lives, relative to the dataset root.
var VisASplitCSV = filepath.Join("split_csv", "1cls.csv")

// visaRow is one line of the VisA split file.
type visaRow struct {
	object, split, label, image, mask string
	line                              int
}

// readVisACSV reads <root>/split_csv/1cls.csv with columns object,split,label,image,mask (any order,
// found by header name); image and mask paths are relative to root.
func readVisACSV(root string) ([]visaRow, string, error) {
	path := filepath.Join(root, VisASplitCSV)
	f, err := os.Open(path)
	if err != nil {
		return nil, path, fmt.Errorf("VisA split file: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return nil, path, fmt.Errorf("%s: reading header: %w", path, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	for _, need := range []string{"object", "split", "label", "image", "mask"} {
		if _, ok := col[need]; !ok {
			return nil, path, fmt.Errorf("%s: header %q lacks column %q (want object,split,label,image,mask)", path, strings.Join(header, ","), need)
		}
	}
	var rows []visaRow
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, path, fmt.Errorf("%s: %w", path, err)
		}
		get := func(name string) string {
			if i := col[name]; i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		rows = append(rows, visaRow{object: get("object"), split: strings.ToLower(get("split")),
			label: strings.ToLower(get("label")), image: get("image"), mask: get("mask"), line: line})
	}
	return rows, path, nil
}

// LoadVisA reads one category of VisA (Zou et al., "SPot-the-Difference Self-Supervised Pre-training
// for Anomaly Detection and Segmentation", ECCV 2022) in its raw layout, driven by
// <root>/split_csv/1cls.csv (columns object, split, label, image, mask; paths relative to root).
// Labels are "normal" or "anomaly"; VisA masks hold class indices and are binarised (non-zero is defect).
// Every listed file must exist; anomalous test images must have a mask.
func LoadVisA(root, category string, opts Options) (*Dataset, error) {
	src, err := NewDiskSource(opts)
	if err != nil {
		return nil, err
	}
	rows, csvPath, err := readVisACSV(root)
	if err != nil {
		return nil, err
	}
	var l listing
	var train, test []Item
	found := false
	for _, row := range rows {
		if row.object != category {
			continue
		}
		found = true
		where := fmt.Sprintf("%s:%d", csvPath, row.line)
		img := filepath.Join(root, filepath.FromSlash(row.image))
		if row.image == "" {
			return nil, fmt.Errorf("%s: empty image path", where)
		}
		if !IsImageFile(img) {
			l.skipped = append(l.skipped, img)
			continue
		}
		if _, err := os.Stat(img); err != nil {
			return nil, fmt.Errorf("%s: listed image is missing: %w", where, err)
		}
		var label Label
		defect := GoodDefect
		switch row.label {
		case "normal", "good", "0":
			label = Normal
		case "anomaly", "anomalous", "bad", "1":
			label, defect = Anomalous, VisADefect
		default:
			return nil, fmt.Errorf("%s: unknown label %q (want normal or anomaly)", where, row.label)
		}
		mask := ""
		if label == Anomalous {
			if row.mask == "" {
				return nil, fmt.Errorf("%s: anomalous image %s has no mask", where, img)
			}
			mask = filepath.Join(root, filepath.FromSlash(row.mask))
			if _, err := os.Stat(mask); err != nil {
				return nil, fmt.Errorf("%s: missing mask for test image %s: %w", where, img, err)
			}
		}
		it := fileItem(root, img, mask, label, defect)
		switch row.split {
		case "train":
			if label != Normal {
				return nil, fmt.Errorf("%s: train split holds an anomalous image %s", where, img)
			}
			train = append(train, it)
		case "test":
			test = append(test, it)
		default:
			return nil, fmt.Errorf("%s: unknown split %q (want train or test)", where, row.split)
		}
	}
	if !found {
		cats, _ := VisACategories(root)
		return nil, fmt.Errorf("%s: no rows for category %q (categories: %s)", csvPath, category, strings.Join(cats, ", "))
	}
	return assemble("visa", category, csvPath, train, test, src, &l)
}

// VisACategories lists the objects named in <root>/split_csv/1cls.csv, sorted.
func VisACategories(root string) ([]string, error) {
	rows, path, err := readVisACSV(root)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, r := range rows {
		if r.object != "" && !seen[r.object] {
			seen[r.object] = true
			out = append(out, r.object)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no categories listed", path)
	}
	sort.Strings(out)
	return out, nil
}
