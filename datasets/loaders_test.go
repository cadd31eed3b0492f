package datasets

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const fixW, fixH = 12, 10

// mvtecFixture writes a small MVTec-layout tree: category "bottle" with 5 train images, 2 good, 2
// crack and 1 scratch test images with masks, a README.txt to skip; category "cable" with one train
// image; and a folder "docs" that is not a category. It returns the root.
func mvtecFixture(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	cat := filepath.Join(root, "bottle")
	for i := 0; i < 5; i++ {
		writeImage(t, filepath.Join(cat, "train", "good", fmt.Sprintf("%03d.png", i)), rgbPattern(fixW, fixH))
	}
	writeFile(t, filepath.Join(cat, "train", "good", "README.txt"), []byte("not an image"))
	for i := 0; i < 2; i++ {
		writeImage(t, filepath.Join(cat, "test", "good", fmt.Sprintf("%03d.png", i)), rgbPattern(fixW, fixH))
		writeImage(t, filepath.Join(cat, "test", "crack", fmt.Sprintf("%03d.png", i)), rgbPattern(fixW, fixH))
		writeImage(t, filepath.Join(cat, "ground_truth", "crack", fmt.Sprintf("%03d_mask.png", i)), maskImage(fixW, fixH, 2, 2, 6, 5, 255))
	}
	writeImage(t, filepath.Join(cat, "test", "scratch", "000.png"), grayPattern(fixW, fixH))
	writeImage(t, filepath.Join(cat, "ground_truth", "scratch", "000_mask.png"), maskImage(fixW, fixH, 0, 0, 1, 10, 255))
	writeImage(t, filepath.Join(root, "cable", "train", "good", "000.png"), rgbPattern(fixW, fixH))
	writeFile(t, filepath.Join(root, "docs", "license.txt"), []byte("CC BY-NC-SA"))
	return root
}

func ids(s *Split) []string {
	var out []string
	for _, it := range s.Items {
		out = append(out, it.ID)
	}
	return out
}

func TestLoadMVTec(t *testing.T) {
	root := mvtecFixture(t)
	cats, err := MVTecCategories(root)
	if err != nil || !slices.Equal(cats, []string{"bottle", "cable"}) {
		t.Fatalf("MVTecCategories = %v, %v; want [bottle cable]", cats, err)
	}
	d, err := LoadMVTec(root, "bottle", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Benchmark != "mvtec" || d.Category != "bottle" || d.Train.Len() != 5 || d.Val.Len() != 0 || d.Test.Len() != 5 {
		t.Fatalf("got %s/%s with %d/%d/%d items", d.Benchmark, d.Category, d.Train.Len(), d.Val.Len(), d.Test.Len())
	}
	wantTest := []string{"test/crack/000.png", "test/crack/001.png", "test/good/000.png", "test/good/001.png", "test/scratch/000.png"}
	if got := ids(d.Test); !slices.Equal(got, wantTest) {
		t.Errorf("test IDs = %v, want %v", got, wantTest)
	}
	wantLabels := []Label{Anomalous, Anomalous, Normal, Normal, Anomalous}
	if got := d.Test.Labels(); !slices.Equal(got, wantLabels) {
		t.Errorf("labels = %v, want %v", got, wantLabels)
	}
	if got := d.Test.Defects(); !slices.Equal(got, []string{"crack", "crack", "good", "good", "scratch"}) {
		t.Errorf("defects = %v", got)
	}
	for _, it := range d.Train.Items {
		if it.Label != Normal || it.MaskPath != "" {
			t.Errorf("train item %+v is not a plain normal item", it)
		}
	}
	// Native size, RGB; masks are binary, all zero for good images.
	for i := 0; i < d.Test.Len(); i++ {
		s, err := d.Test.Sample(i)
		if err != nil {
			t.Fatal(err)
		}
		if s.Image.H != fixH || s.Image.W != fixW || s.Image.C != 3 || s.Mask.H != fixH || s.Mask.W != fixW || s.Mask.C != 1 {
			t.Fatalf("%s: image %dx%dx%d mask %dx%dx%d", s.ID, s.Image.H, s.Image.W, s.Image.C, s.Mask.H, s.Mask.W, s.Mask.C)
		}
		ones := 0
		for _, v := range s.Mask.Pix {
			ones += int(v)
		}
		want := map[string]int{"crack": 12, "good": 0, "scratch": 10}[s.Defect]
		if ones != want {
			t.Errorf("%s: %d defect pixels, want %d", s.ID, ones, want)
		}
	}
	sum := d.Summary()
	if sum.Counts["train"]["good"] != 5 || sum.Counts["test"]["crack"] != 2 || sum.Total("test") != 5 || len(sum.Skipped) != 1 {
		t.Errorf("summary = %+v", sum)
	}
	str := d.String()
	for _, want := range []string{"mvtec/bottle", "crack", "scratch", "skipped 1 non-image file", "README.txt"} {
		if !strings.Contains(str, want) {
			t.Errorf("summary table lacks %q:\n%s", want, str)
		}
	}
	if !slices.Equal(sum.Defects, []string{"good", "crack", "scratch"}) {
		t.Errorf("summary defects = %v", sum.Defects)
	}
	if err := d.Check(); err != nil {
		t.Errorf("Check on a clean tree: %v", err)
	}
	if err := d.CheckPixels(2); err != nil {
		t.Errorf("CheckPixels on a clean tree: %v", err)
	}
	// The same layout is MPDD's.
	m, err := Load("MPDD", root, "bottle", Options{})
	if err != nil || m.Benchmark != "mpdd" || m.Test.Len() != 5 {
		t.Errorf("Load(mpdd) = %v, %v", m, err)
	}
}

func TestOptionsTransforms(t *testing.T) {
	root := mvtecFixture(t)
	d, err := LoadMVTec(root, "bottle", Options{ImageSize: 8, CropSize: 6, Channels: 1, Mean: []float32{0.5}, Std: []float32{0.25}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := d.Test.Sample(0)
	if err != nil {
		t.Fatal(err)
	}
	if s.Image.H != 6 || s.Image.W != 6 || s.Image.C != 1 || s.Mask.H != 6 || s.Mask.W != 6 {
		t.Fatalf("image %dx%dx%d, mask %dx%d; want 6x6x1", s.Image.H, s.Image.W, s.Image.C, s.Mask.H, s.Mask.W)
	}
	// The pipeline equals the transforms applied by hand.
	raw, _ := DecodeFile(s.ImagePath, 1, Limits{})
	want, _ := CenterCrop(Resize(raw, 8, 8), 6, 6)
	want, _ = Normalize(want, []float32{0.5}, []float32{0.25})
	if !slices.Equal(s.Image.Pix, want.Pix) {
		t.Errorf("pipeline image differs from Resize+CenterCrop+Normalize")
	}
	rawMask, _ := DecodeMaskFile(s.MaskPath, Limits{})
	wantMask, _ := CenterCrop(ResizeNearest(rawMask, 8, 8), 6, 6)
	if !slices.Equal(s.Mask.Pix, wantMask.Pix) {
		t.Errorf("pipeline mask differs from ResizeNearest+CenterCrop")
	}
	for _, bad := range []Options{{Channels: 2}, {ImageSize: 4, CropSize: 5}, {ValFraction: 1}, {Mean: []float32{0}}, {Channels: 3, Mean: []float32{0, 0}, Std: []float32{1, 1}}} {
		if _, err := LoadMVTec(root, "bottle", bad); err == nil {
			t.Errorf("options %+v: want error", bad)
		}
	}
}

func TestValidationSplitAndShuffle(t *testing.T) {
	root := mvtecFixture(t)
	load := func(o Options) *Dataset {
		d, err := LoadMVTec(root, "bottle", o)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	a := load(Options{ValFraction: 0.4, Seed: 1})
	b := load(Options{ValFraction: 0.4, Seed: 1})
	if a.Val.Len() != 2 || a.Train.Len() != 3 {
		t.Fatalf("val/train = %d/%d, want 2/3", a.Val.Len(), a.Train.Len())
	}
	if !slices.Equal(ids(a.Val), ids(b.Val)) {
		t.Error("same seed gave different validation splits")
	}
	all := append(ids(a.Train), ids(a.Val)...)
	slices.Sort(all)
	if want := ids(load(Options{}).Train); !slices.Equal(all, want) {
		t.Errorf("train+val = %v, want %v", all, want)
	}
	differs := false
	for seed := uint64(2); seed < 12 && !differs; seed++ {
		differs = !slices.Equal(ids(load(Options{ValFraction: 0.4, Seed: seed}).Val), ids(a.Val))
	}
	if !differs {
		t.Error("ten seeds all gave the same validation split")
	}
	s1 := load(Options{Shuffle: true, Seed: 3})
	s2 := load(Options{Shuffle: true, Seed: 3})
	if !slices.Equal(ids(s1.Train), ids(s2.Train)) {
		t.Error("shuffle with the same seed differs")
	}
	sorted := ids(s1.Train)
	slices.Sort(sorted)
	if !slices.Equal(sorted, ids(load(Options{}).Train)) {
		t.Error("shuffled train lost or duplicated items")
	}
	if sum := a.Summary(); sum.Counts["val"]["good"] != 2 || !strings.Contains(sum.String(), "val") {
		t.Errorf("summary does not count val: %s", sum)
	}
}

func TestBatches(t *testing.T) {
	root := mvtecFixture(t)
	d, err := LoadMVTec(root, "bottle", Options{ImageSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	var sizes []int
	for batch, err := range d.Test.Batches(2, 2) {
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(batch))
		for _, s := range batch {
			if s.Image.H != 4 || s.Mask.H != 4 {
				t.Fatalf("%s not resized", s.ID)
			}
			got = append(got, s.ID)
		}
	}
	if !slices.Equal(got, ids(d.Test)) || !slices.Equal(sizes, []int{2, 2, 1}) {
		t.Errorf("batches gave %v in sizes %v, want %v", got, sizes, ids(d.Test))
	}
	// Breaking early stops cleanly.
	n := 0
	for range d.Test.Batches(1, 2) {
		n++
		if n == 2 {
			break
		}
	}
	if n != 2 {
		t.Errorf("break: saw %d batches", n)
	}
	// A corrupt file stops the stream with an error naming it.
	bad := d.Test.Items[3].ImagePath
	writeFile(t, bad, []byte("garbage"))
	var lastErr error
	seen := 0
	for batch, err := range d.Test.Batches(2, 2) {
		seen += len(batch)
		lastErr = err
	}
	if lastErr == nil || !strings.Contains(lastErr.Error(), bad) || seen != 2 {
		t.Errorf("corrupt file: saw %d samples, last error %v", seen, lastErr)
	}
	if _, err := d.Test.LoadAll(2); err == nil {
		t.Error("LoadAll with a corrupt file: want error")
	}
	// Cached serves the same samples from memory.
	c, err := d.Train.Cached(2)
	if err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(root, "bottle", "train"))
	if im, err := c.Image(1); err != nil || im.H != 4 {
		t.Errorf("cached split after deleting files: %v", err)
	}
	if _, err := d.Train.Image(1); err == nil {
		t.Error("uncached split after deleting files: want error")
	}
	for _, err := range d.Test.Batches(0, 1) {
		if err == nil {
			t.Error("batch size 0: want error")
		}
	}
}

func TestMVTecErrors(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(t *testing.T, root string) string // returns the path the error must name
	}{
		{"missing category", func(t *testing.T, root string) string {
			os.RemoveAll(filepath.Join(root, "bottle"))
			return filepath.Join(root, "bottle")
		}},
		{"missing test folder", func(t *testing.T, root string) string {
			os.RemoveAll(filepath.Join(root, "bottle", "test"))
			return filepath.Join(root, "bottle", "test")
		}},
		{"missing mask", func(t *testing.T, root string) string {
			p := filepath.Join(root, "bottle", "ground_truth", "crack", "001_mask.png")
			os.Remove(p)
			return p
		}},
		{"missing ground_truth folder", func(t *testing.T, root string) string {
			os.RemoveAll(filepath.Join(root, "bottle", "ground_truth", "scratch"))
			return filepath.Join(root, "bottle", "ground_truth", "scratch")
		}},
		{"empty train", func(t *testing.T, root string) string {
			dir := filepath.Join(root, "bottle", "train", "good")
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				if strings.HasSuffix(e.Name(), ".png") {
					os.Remove(filepath.Join(dir, e.Name()))
				}
			}
			return dir
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := mvtecFixture(t)
			path := tc.break_(t, root)
			_, err := LoadMVTec(root, "bottle", Options{})
			if err == nil || !strings.Contains(err.Error(), path) {
				t.Errorf("error %v does not name %s", err, path)
			}
		})
	}
	if _, err := MVTecCategories(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Error("categories of a missing root: want error")
	}
}

func TestMaskSizeMismatchAndBadFiles(t *testing.T) {
	root := mvtecFixture(t)
	badMask := filepath.Join(root, "bottle", "ground_truth", "crack", "001_mask.png")
	writeImage(t, badMask, maskImage(fixW+1, fixH, 0, 0, 2, 2, 255))
	notImage := filepath.Join(root, "bottle", "train", "good", "004.png")
	writeFile(t, notImage, []byte("I am text, not a PNG"))
	truncated := filepath.Join(root, "bottle", "test", "good", "001.png")
	data, _ := os.ReadFile(truncated)
	writeFile(t, truncated, data[:len(data)-20])

	d, err := LoadMVTec(root, "bottle", Options{})
	if err != nil {
		t.Fatal(err) // listing only: problems show at load or in Check
	}
	i := slices.Index(ids(d.Test), "test/crack/001.png")
	if _, err := d.Test.Sample(i); err == nil || !strings.Contains(err.Error(), badMask) || !strings.Contains(err.Error(), "13x10") {
		t.Errorf("mask size mismatch: error %v", err)
	}
	err = d.Check()
	if err == nil {
		t.Fatal("Check found nothing")
	}
	for _, want := range []string{badMask, notImage} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Check error lacks %s:\n%v", want, err)
		}
	}
	err = d.CheckPixels(2)
	if err == nil || !strings.Contains(err.Error(), truncated) || !strings.Contains(err.Error(), notImage) || !strings.Contains(err.Error(), badMask) {
		t.Errorf("CheckPixels error: %v", err)
	}
	if n := len(err.(interface{ Unwrap() []error }).Unwrap()); n != 3 {
		t.Errorf("CheckPixels joined %d errors, want 3 (mask size, text file, truncated):\n%v", n, err)
	}
}

func TestLoadBTAD(t *testing.T) {
	root := t.TempDir()
	cat := filepath.Join(root, "01")
	for i := 0; i < 3; i++ {
		writeImage(t, filepath.Join(cat, "train", "ok", fmt.Sprintf("%04d.bmp", i)), rgbPattern(fixW, fixH))
	}
	writeImage(t, filepath.Join(cat, "test", "ok", "0000.bmp"), rgbPattern(fixW, fixH))
	writeImage(t, filepath.Join(cat, "test", "ko", "0000.bmp"), rgbPattern(fixW, fixH))
	writeImage(t, filepath.Join(cat, "test", "ko", "0001.bmp"), rgbPattern(fixW, fixH))
	writeImage(t, filepath.Join(cat, "ground_truth", "ko", "0000.png"), maskImage(fixW, fixH, 0, 0, 3, 3, 255)) // same name, other extension
	writeImage(t, filepath.Join(cat, "ground_truth", "ko", "0001.bmp"), maskImage(fixW, fixH, 0, 0, 2, 2, 255))
	writeImage(t, filepath.Join(root, "03", "train", "ok", "0000.png"), rgbPattern(fixW, fixH))
	if cats, err := Categories("btad", root); err != nil || !slices.Equal(cats, []string{"01", "03"}) {
		t.Errorf("BTAD categories = %v, %v", cats, err)
	}
	d, err := LoadBTAD(root, "01", Options{ImageSize: 6})
	if err != nil {
		t.Fatal(err)
	}
	if d.Train.Len() != 3 || d.Test.Len() != 3 || !slices.Equal(d.Test.Defects(), []string{"good", "ko", "ko"}) {
		t.Fatalf("BTAD: %d train, test defects %v", d.Train.Len(), d.Test.Defects())
	}
	for i, wantOnes := range []int{0, 9 * 36 / 120, 4 * 36 / 120} {
		s, err := d.Test.Sample(i)
		if err != nil {
			t.Fatal(err)
		}
		ones := 0
		for _, v := range s.Mask.Pix {
			ones += int(v)
		}
		if (ones == 0) != (wantOnes == 0) || s.Mask.H != 6 {
			t.Errorf("%s: %d defect pixels in a %dx%d mask", s.ID, ones, s.Mask.H, s.Mask.W)
		}
	}
	if err := d.Check(); err != nil {
		t.Error(err)
	}
	os.Remove(filepath.Join(cat, "ground_truth", "ko", "0001.bmp"))
	if _, err := LoadBTAD(root, "01", Options{}); err == nil || !strings.Contains(err.Error(), filepath.Join(cat, "test", "ko", "0001.bmp")) {
		t.Errorf("BTAD missing mask: %v", err)
	}
	os.RemoveAll(filepath.Join(cat, "test", "ok"))
	if _, err := LoadBTAD(root, "01", Options{}); err == nil || !strings.Contains(err.Error(), filepath.Join(cat, "test", "ok")) {
		t.Errorf("BTAD missing test/ok: %v", err)
	}
}

func TestLoadVisA(t *testing.T) {
	root := t.TempDir()
	csv := "object,split,label,image,mask\n"
	for _, obj := range []string{"candle", "pcb1"} {
		for i := 0; i < 3; i++ {
			p := fmt.Sprintf("%s/Data/Images/Normal/%04d.JPG", obj, i)
			writeImage(t, filepath.Join(root, p), rgbPattern(16, 16))
			split := "train"
			if i == 2 {
				split = "test"
			}
			csv += fmt.Sprintf("%s,%s,normal,%s,\n", obj, split, p)
		}
		p := fmt.Sprintf("%s/Data/Images/Anomaly/000.JPG", obj)
		m := fmt.Sprintf("%s/Data/Masks/Anomaly/000.png", obj)
		writeImage(t, filepath.Join(root, p), rgbPattern(16, 16))
		writeImage(t, filepath.Join(root, m), maskImage(16, 16, 4, 4, 8, 8, 2)) // class index 2
		csv += fmt.Sprintf("%s,test,anomaly,%s,%s\n", obj, p, m)
	}
	csv += "candle,train,normal,candle/Data/Images/Normal/notes.txt,\n"
	writeFile(t, filepath.Join(root, "split_csv", "1cls.csv"), []byte(csv))

	if cats, err := Categories("visa", root); err != nil || !slices.Equal(cats, []string{"candle", "pcb1"}) {
		t.Errorf("VisA categories = %v, %v", cats, err)
	}
	d, err := LoadVisA(root, "candle", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Train.Len() != 2 || d.Test.Len() != 2 || !slices.Equal(d.Test.Labels(), []Label{Normal, Anomalous}) {
		t.Fatalf("VisA: %d train, %d test, labels %v", d.Train.Len(), d.Test.Len(), d.Test.Labels())
	}
	if d.Test.Items[1].Defect != VisADefect || d.Test.Items[1].ID != "candle/Data/Images/Anomaly/000.JPG" {
		t.Errorf("anomalous item = %+v", d.Test.Items[1])
	}
	s, err := d.Test.Sample(1)
	if err != nil {
		t.Fatal(err)
	}
	ones := 0
	for _, v := range s.Mask.Pix {
		ones += int(v)
	}
	if ones != 16 {
		t.Errorf("VisA mask with class index 2: %d defect pixels, want 16", ones)
	}
	if n := len(d.Summary().Skipped); n != 1 {
		t.Errorf("skipped %d, want 1", n)
	}
	if _, err := LoadVisA(root, "nope", Options{}); err == nil || !strings.Contains(err.Error(), "candle, pcb1") {
		t.Errorf("unknown VisA category: %v", err)
	}
	missing := filepath.Join(root, "pcb1", "Data", "Masks", "Anomaly", "000.png")
	os.Remove(missing)
	if _, err := LoadVisA(root, "pcb1", Options{}); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("VisA missing mask: %v", err)
	}
	writeFile(t, filepath.Join(root, "split_csv", "1cls.csv"), []byte("object,image\ncandle,x.png\n"))
	if _, err := LoadVisA(root, "candle", Options{}); err == nil || !strings.Contains(err.Error(), "1cls.csv") {
		t.Errorf("VisA bad header: %v", err)
	}
	if _, err := LoadVisA(t.TempDir(), "candle", Options{}); err == nil || !strings.Contains(err.Error(), "1cls.csv") {
		t.Errorf("VisA without split file: %v", err)
	}
}

func TestLoadFolder(t *testing.T) {
	root := t.TempDir()
	for i := 0; i < 10; i++ {
		writeImage(t, filepath.Join(root, "good", fmt.Sprintf("n%02d.tif", i)), rgbPattern(fixW, fixH))
	}
	writeImage(t, filepath.Join(root, "bad", "a.jpg"), rgbPattern(fixW, fixH))
	writeImage(t, filepath.Join(root, "bad", "dent", "b.png"), rgbPattern(fixW, fixH))
	writeImage(t, filepath.Join(root, "masks", "a_mask.png"), maskImage(fixW, fixH, 0, 0, 4, 4, 255))
	writeImage(t, filepath.Join(root, "masks", "dent", "b.png"), maskImage(fixW, fixH, 0, 0, 2, 2, 255))
	f := Folder{NormalDir: filepath.Join(root, "good"), AbnormalDir: filepath.Join(root, "bad"), MaskDir: filepath.Join(root, "masks")}
	d, err := LoadFolder(f, Options{Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	if d.Train.Len() != 8 || d.Test.Len() != 4 || d.Category != filepath.Base(root) {
		t.Fatalf("folder: %d train, %d test, category %q; want 8, 4", d.Train.Len(), d.Test.Len(), d.Category)
	}
	if got := d.Test.Defects(); !slices.Equal(got, []string{"good", "good", "bad", "dent"}) {
		t.Errorf("defects = %v", got)
	}
	for _, it := range d.Train.Items {
		if slices.Contains(ids(d.Test), it.ID) {
			t.Errorf("%s in both train and test", it.ID)
		}
	}
	if !d.Test.HasMasks() {
		t.Error("HasMasks false with a mask folder")
	}
	if _, err := d.Test.LoadAll(2); err != nil {
		t.Fatal(err)
	}
	// Without masks: anomalous samples have an empty mask and HasMasks says so.
	f.MaskDir = ""
	f.NormalTestDir = filepath.Join(root, "good")
	d, err = LoadFolder(f, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Test.HasMasks() || d.Train.Len() != 10 || d.Test.Len() != 12 {
		t.Errorf("no masks: HasMasks=%v, %d train, %d test", d.Test.HasMasks(), d.Train.Len(), d.Test.Len())
	}
	s, err := d.Test.Sample(10)
	if err != nil || s.Label != Anomalous || s.Mask.H != 0 {
		t.Errorf("sample without mask: %+v, %v", s.Item, err)
	}
	// A missing mask names the image.
	os.Remove(filepath.Join(root, "masks", "dent", "b.png"))
	f.MaskDir = filepath.Join(root, "masks")
	if _, err := LoadFolder(f, Options{}); err == nil || !strings.Contains(err.Error(), filepath.Join(root, "bad", "dent", "b.png")) {
		t.Errorf("folder missing mask: %v", err)
	}
	if _, err := LoadFolder(Folder{NormalDir: filepath.Join(root, "nope")}, Options{}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("folder missing normal dir: %v", err)
	}
}

// TestSymlinkedFolders checks that linked defect folders and linked images are followed.
func TestSymlinkedFolders(t *testing.T) {
	root := mvtecFixture(t)
	elsewhere := t.TempDir()
	writeImage(t, filepath.Join(elsewhere, "dent", "000.png"), rgbPattern(fixW, fixH))
	writeImage(t, filepath.Join(elsewhere, "extra.png"), rgbPattern(fixW, fixH))
	cat := filepath.Join(root, "bottle")
	if err := os.Symlink(filepath.Join(elsewhere, "dent"), filepath.Join(cat, "test", "dent")); err != nil {
		t.Skip("no symlinks here:", err)
	}
	os.MkdirAll(filepath.Join(cat, "ground_truth", "dent"), 0o755)
	writeImage(t, filepath.Join(cat, "ground_truth", "dent", "000_mask.png"), maskImage(fixW, fixH, 0, 0, 1, 1, 255))
	if err := os.Symlink(filepath.Join(elsewhere, "extra.png"), filepath.Join(cat, "train", "good", "005.png")); err != nil {
		t.Fatal(err)
	}
	d, err := LoadMVTec(root, "bottle", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Train.Len() != 6 || !slices.Contains(d.Test.Defects(), "dent") {
		t.Errorf("symlinks not followed: %d train, defects %v", d.Train.Len(), d.Test.Defects())
	}
}
