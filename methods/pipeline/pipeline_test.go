package pipeline

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/datasets/synth"
	"github.com/gonomaly/gonomaly/methods"
	_ "github.com/gonomaly/gonomaly/methods/all"
	"github.com/gonomaly/gonomaly/methods/metrics"
)

const testSize = 64

// tiny shrinks any method so tests take seconds: small images, a narrow seeded backbone.
func tiny(s *methods.Settings) {
	s.ImageSize = testSize
	s.Weights = "random"
	s.WidthDiv = 4
}

// writeCarpet writes a small synthetic category in MVTec's layout and returns its folder.
func writeCarpet(t testing.TB, root string) string {
	t.Helper()
	ds, err := synth.New("carpet", synth.Options{Size: 80, Train: 12, TestNormal: 6, TestPerDefect: 2, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := synth.WriteMVTec(root, ds); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "carpet")
}

func TestFitPredictEvaluateMVTecFolder(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	data := writeCarpet(t, filepath.Join(tmp, "data"))
	modelDir := filepath.Join(tmp, "model")
	m, err := Fit(ctx, FitOptions{Method: "patchcore", Edit: tiny, Data: data, Out: modelDir, FalseAlarmRate: 0.1,
		Config: []byte(`{"coreset_ratio": 0.2}`)})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(m.Info.Config), `"coreset_ratio":0.2`) {
		t.Errorf("info config %s: want the method's own field set by Config", m.Info.Config)
	}
	if m.Info.Layout != MVTecLayout || m.Info.TrainImages+m.Info.ValImages != 12 || m.Info.ValImages == 0 {
		t.Fatalf("info %+v: want the MVTec layout and 12 normal images split into train and validation", m.Info)
	}
	for _, f := range []string{InfoFile, ThresholdsFile, filepath.Join(DetectorDir, methods.ManifestFile)} {
		if _, err := os.Stat(filepath.Join(modelDir, f)); err != nil {
			t.Fatalf("model folder misses %s: %v", f, err)
		}
	}
	loaded, err := LoadModel(modelDir)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Thresholds.Normal != m.Thresholds.Normal || loaded.ImageSize() != testSize {
		t.Fatalf("loaded thresholds %+v size %d, fitted %+v", loaded.Thresholds, loaded.ImageSize(), m.Thresholds)
	}

	// Predict the whole test folder: one row, map and overlay per image, verdicts at the threshold.
	testDir := filepath.Join(data, "test")
	files, err := ImageFiles([]string{testDir})
	if err != nil {
		t.Fatal(err)
	}
	predDir := filepath.Join(tmp, "pred")
	rows, err := Predict(ctx, loaded, PredictOptions{Images: []string{testDir}, Out: predDir})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(files) || len(files) != 6+2*5 {
		t.Fatalf("%d rows for %d files (want 16)", len(rows), len(files))
	}
	csvRows := readCSV(t, filepath.Join(predDir, PredictionsFile))
	if len(csvRows) != len(files)+1 {
		t.Fatalf("CSV has %d lines, want header + %d", len(csvRows), len(files))
	}
	scores := map[string]float64{}
	for _, r := range csvRows[1:] {
		score, err := strconv.ParseFloat(r[1], 64)
		if err != nil {
			t.Fatal(err)
		}
		thr, _ := strconv.ParseFloat(r[2], 64)
		if want := map[bool]string{true: "anomalous", false: "normal"}[score >= thr]; r[3] != want {
			t.Errorf("%s: score %g threshold %g verdict %s, want %s", r[0], score, thr, r[3], want)
		}
		scores[r[0]] = score
		for _, pic := range r[4:6] {
			checkPNG(t, filepath.Join(predDir, pic), testSize)
		}
	}
	if n := countFiles(t, filepath.Join(predDir, MapsDir)); n != len(files) {
		t.Errorf("%d maps for %d images", n, len(files))
	}
	assertNoPartial(t, predDir)

	// Evaluate: the JSON metrics agree with an AUROC computed from predict's own CSV scores.
	ev, err := Evaluate(ctx, loaded, EvalOptions{Data: data})
	if err != nil {
		t.Fatal(err)
	}
	var mj map[string]any
	raw, err := os.ReadFile(filepath.Join(modelDir, MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &mj); err != nil {
		t.Fatal(err)
	}
	var labels []bool
	var sc []float64
	for _, f := range files {
		labels = append(labels, filepath.Base(filepath.Dir(f)) != datasets.GoodDefect)
		sc = append(sc, scores[f])
	}
	want, err := metrics.AUROC(sc, labels)
	if err != nil {
		t.Fatal(err)
	}
	if got := mj["image_auroc"].(float64); math.Abs(got-want) > 1e-6 {
		t.Errorf("metrics.json image AUROC %g, from predict's CSV %g", got, want)
	}
	for _, k := range []string{"pixel_auroc", "aupro", "image_f1_max", "image_ap"} {
		v, ok := mj[k].(float64)
		if !ok || v < 0 || v > 1 {
			t.Errorf("metrics.json %s = %v, want a number in [0, 1]", k, mj[k])
		}
	}
	defects, _ := synth.Defects("carpet")
	per := mj["per_defect"].(map[string]any)
	for _, d := range defects {
		if _, ok := per[d]; !ok {
			t.Errorf("metrics.json has no per-defect entry for %s", d)
		}
	}
	// Eval stored the F1-optimal threshold beside the normal one, and predict can apply it.
	again, err := LoadModel(modelDir)
	if err != nil {
		t.Fatal(err)
	}
	if again.Thresholds.F1 == nil || *again.Thresholds.F1 != ev.Report.ImageThreshold || again.Thresholds.Normal != m.Thresholds.Normal {
		t.Fatalf("thresholds after eval %+v, want F1 %g beside normal %g", again.Thresholds, ev.Report.ImageThreshold, m.Thresholds.Normal)
	}
	f1Rows, err := Predict(ctx, again, PredictOptions{Images: files[:3], Out: filepath.Join(tmp, "pred-f1"), Threshold: "f1", NoPictures: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range f1Rows {
		if r.Anomalous != (r.Score >= *again.Thresholds.F1) {
			t.Errorf("%s: score %g, F1 threshold %g, anomalous %v", r.File, r.Score, *again.Thresholds.F1, r.Anomalous)
		}
	}

	// The report is one well-formed page whose pictures are embedded PNGs.
	imgs, text := parseReport(t, filepath.Join(modelDir, ReportFile))
	if len(imgs) < 7 { // ROC, PRO, histogram, four example grids
		t.Errorf("report embeds %d pictures, want at least 7", len(imgs))
	}
	for _, d := range append(defects, "image AUROC", "AUPRO", "Worst") {
		if !strings.Contains(text, d) {
			t.Errorf("report text lacks %q", d)
		}
	}
}

func TestPlainFolderOfNormalImages(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	ds, err := synth.New("grid", synth.Options{Size: testSize, Train: 10, TestNormal: 2, TestPerDefect: 1, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(tmp, "parts")
	for i := range ds.Train.Len() {
		im, err := ds.Train.Image(i)
		if err != nil {
			t.Fatal(err)
		}
		if err := datasets.WritePNG(filepath.Join(plain, "part"+strconv.Itoa(i)+".png"), im); err != nil {
			t.Fatal(err)
		}
	}
	if l, err := DetectLayout(plain); err != nil || l != PlainLayout {
		t.Fatalf("layout %q, %v; want a plain folder", l, err)
	}
	m, err := Fit(ctx, FitOptions{Method: "patchcore", Edit: tiny, Data: plain, Out: filepath.Join(tmp, "model"), ValFraction: 0.3})
	if err != nil {
		t.Fatal(err)
	}
	if m.Info.Layout != PlainLayout || m.Info.ValImages != 3 || m.Info.TrainImages != 7 {
		t.Fatalf("info %+v: want 7 train and 3 held-out images of a plain folder", m.Info)
	}
	// The stored threshold is the 0.95-quantile of the held-out images' scores: recomputed from the same
	// split it is the same, and predict flags at most one of those three images (the top one).
	held0, _, err := Open(plain, testSize, 0.3, 0)
	if err != nil {
		t.Fatal(err)
	}
	th, err := NormalThresholds(ctx, m.Detector, held0.Val, DefaultFalseAlarmRate)
	if err != nil {
		t.Fatal(err)
	}
	if th.Normal != m.Thresholds.Normal || th.Pixel != m.Thresholds.Pixel {
		t.Fatalf("thresholds recomputed on the held-out images %+v, stored %+v", th, m.Thresholds)
	}
	var held []string
	for _, it := range held0.Val.Items {
		held = append(held, it.ImagePath)
	}
	heldRows, err := Predict(ctx, m, PredictOptions{Images: held, Out: filepath.Join(tmp, "held"), NoPictures: true})
	if err != nil {
		t.Fatal(err)
	}
	flagged := 0
	for _, r := range heldRows {
		if r.Anomalous {
			flagged++
		}
	}
	if flagged > 1 {
		t.Fatalf("%d of the 3 held-out normal images flagged at a 5%% false-alarm threshold", flagged)
	}
	val, err := ImageFiles([]string{plain})
	if err != nil {
		t.Fatal(err)
	}
	// Results written inside the input folder are not read back as inputs by the next run.
	for range 2 {
		rows, err := Predict(ctx, m, PredictOptions{Images: []string{plain}, Out: filepath.Join(plain, "results")})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != len(val) || len(val) != 10 {
			t.Fatalf("%d rows for the %d images of the folder, want 10", len(rows), len(val))
		}
	}
	if _, err := Evaluate(ctx, m, EvalOptions{Data: plain}); err == nil || !strings.Contains(err.Error(), "MVTec") {
		t.Fatalf("eval on a plain folder: %v, want an error asking for an MVTec-layout folder", err)
	}
}

func TestBadFilesAreNamedAndNothingIsWritten(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	data := writeCarpet(t, filepath.Join(tmp, "data"))
	good := filepath.Join(data, "train", "good")
	first, err := ImageFiles([]string{good})
	if err != nil {
		t.Fatal(err)
	}
	pristine, err := os.ReadFile(first[0])
	if err != nil {
		t.Fatal(err)
	}

	// A file that is no image at all: fit names it and writes no model folder.
	bad := filepath.Join(good, "zz_notes.png")
	if err := os.WriteFile(bad, []byte("not a picture"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "model")
	if _, err := Fit(ctx, FitOptions{Method: "patchcore", Edit: tiny, Data: data, Out: out}); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("fit with %s: %v, want an error naming it", bad, err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("fit failed on a bad file but created %s (%v)", out, err)
	}
	os.Remove(bad)
	// One image per batch, so the truncated file below is met after another image's outputs were made.
	m, err := Fit(ctx, FitOptions{Method: "patchcore", Edit: func(s *methods.Settings) { tiny(s); s.FeatureBatch = 1 }, Data: data, Out: out})
	if err != nil {
		t.Fatal(err)
	}

	// Predict: a bad header is found before any output; a truncated file (good header, pixels cut) is
	// found while streaming, after other images were scored, and still nothing is left behind.
	imgs := filepath.Join(tmp, "imgs")
	os.MkdirAll(imgs, 0o755)
	os.WriteFile(filepath.Join(imgs, "a.png"), pristine, 0o644)
	os.WriteFile(filepath.Join(imgs, "b.png"), []byte("\x89PNG garbage"), 0o644)
	pred := filepath.Join(tmp, "pred")
	if _, err := Predict(ctx, m, PredictOptions{Images: []string{imgs}, Out: pred}); err == nil || !strings.Contains(err.Error(), filepath.Join(imgs, "b.png")) {
		t.Fatalf("predict with a bad file: %v, want an error naming b.png", err)
	}
	assertEmpty(t, pred)
	os.WriteFile(filepath.Join(imgs, "b.png"), pristine[:len(pristine)*2/3], 0o644)
	if _, err := Predict(ctx, m, PredictOptions{Images: []string{imgs}, Out: pred}); err == nil || !strings.Contains(err.Error(), "b.png") {
		t.Fatalf("predict with a truncated file: %v, want an error naming b.png", err)
	}
	assertEmpty(t, pred)
	// With the bad file gone, the same call writes both images' results.
	os.Remove(filepath.Join(imgs, "b.png"))
	if _, err := Predict(ctx, m, PredictOptions{Images: []string{imgs}, Out: pred}); err != nil {
		t.Fatal(err)
	}
	if n := countFiles(t, pred); n != 3 {
		t.Fatalf("predict of one image wrote %d files, want the CSV, a map and an overlay", n)
	}
}

func TestFitResumesAfterInterruption(t *testing.T) {
	e, err := methods.Lookup("cflow")
	if err != nil {
		t.Skip("cflow is not in the catalogue") // the test needs a method that checkpoints each meta epoch
	}
	tmp := t.TempDir()
	data := writeCarpet(t, filepath.Join(tmp, "data"))
	out := filepath.Join(tmp, "model")
	training := filepath.Join(out, TrainingDir, methods.ManifestFile)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Cancel as soon as a training checkpoint exists, as Ctrl-C would.
	ctx = methods.WithProgress(ctx, func(methods.Event) {
		if _, err := os.Stat(training); err == nil {
			cancel()
		}
	})
	_, err = Fit(ctx, FitOptions{Method: e.Name, Edit: tiny, Data: data, Out: out})
	if err == nil || !strings.Contains(err.Error(), "run the same command again") {
		t.Fatalf("interrupted fit: %v, want an interruption error saying how to resume", err)
	}
	if _, err := os.Stat(filepath.Join(out, InfoFile)); !os.IsNotExist(err) {
		t.Fatalf("an interrupted fit left %s (%v)", InfoFile, err)
	}
	if _, err := LoadModel(out); err == nil {
		t.Fatal("LoadModel accepted an interrupted model folder")
	}
	m, err := Fit(context.Background(), FitOptions{Method: e.Name, Edit: tiny, Data: data, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Info.Resumed {
		t.Fatal("the second fit did not resume from the training checkpoint")
	}
	if _, err := os.Stat(filepath.Join(out, TrainingDir)); !os.IsNotExist(err) {
		t.Fatalf("training checkpoint kept after a finished fit (%v)", err)
	}
}

func TestBenchKeepsFinishedCells(t *testing.T) {
	ctx := context.Background()
	out := t.TempDir()
	opts := BenchOptions{Methods: []string{"patchcore"}, Data: "synth:carpet,grid", Edit: tiny, Out: out, Train: 8, TestNormal: 4, TestPerDefect: 1}
	cells, err := Bench(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(cells) != 2 || cells[0].Error != "" || cells[1].Error != "" {
		t.Fatalf("cells %+v", cells)
	}
	// Mark one stored cell: a second Bench must return it as stored, not recompute it.
	path := cellPath(out, "patchcore", "grid")
	var c Cell
	if err := readJSON(path, &c); err != nil {
		t.Fatal(err)
	}
	c.MsPerImage = 12345
	if err := writeJSON(path, c); err != nil {
		t.Fatal(err)
	}
	cells, err = Bench(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if cells[1].MsPerImage != 12345 || cells[0].MsPerImage == 12345 {
		t.Fatalf("second bench recomputed a finished cell: %+v", cells)
	}
	md, _ := os.ReadFile(filepath.Join(out, LeaderboardMD))
	if !strings.Contains(string(md), "12345.0") {
		t.Errorf("leaderboard.md does not show the stored cell:\n%s", md)
	}
	// Other data (more training images) is another cell: recomputed.
	opts.Train = 9
	cells, err = Bench(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if cells[1].MsPerImage == 12345 || cells[1].Train != 9 {
		t.Fatalf("bench with other data reused a stored cell: %+v", cells[1])
	}
	rows := readCSV(t, filepath.Join(out, LeaderboardCSV))
	if len(rows) != 3 || rows[0][0] != "method" {
		t.Fatalf("leaderboard.csv rows %v", rows)
	}
	imgs, text := parseReport(t, filepath.Join(out, LeaderboardHTML))
	if len(imgs) < 3 || !strings.Contains(text, "PatchCore") { // speed/accuracy chart and one ROC chart per category
		t.Errorf("leaderboard.html: %d pictures, want 3; mentions PatchCore: %v", len(imgs), strings.Contains(text, "PatchCore"))
	}
}

func TestConfigRejectsUnknownFields(t *testing.T) {
	d, err := methods.ConfigureShared("patchcore", "cpu", []byte(`{"image_size": 96, "feature_batch": 2}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := d.(methods.Configured).Settings(); s.ImageSize != 96 || s.FeatureBatch != 2 {
		t.Fatalf("ConfigureShared: settings %+v", s)
	}
	if _, err := BuildDetector("patchcore", "cpu", []byte(`{"imagesize": 96}`), nil); err == nil || !strings.Contains(err.Error(), "imagesize") {
		t.Fatalf("misspelt field: %v, want an error naming it", err)
	}
	if _, err := BuildDetector("no-such-method", "cpu", nil, nil); err == nil {
		t.Fatal("BuildDetector accepted an unknown method")
	}
	// fit's config reaches the method's own fields; bench's, laid over every method, only the shared ones.
	d, err = BuildDetector("patchcore", "cpu", []byte(`{"image_size": 64, "weights": "random", "coreset_ratio": 0.05}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := methods.Recipe(d); !strings.Contains(string(r), `"coreset_ratio":0.05`) {
		t.Errorf("BuildDetector with coreset_ratio 0.05: recipe %s", r)
	}
	if _, err := methods.ConfigureShared("patchcore", "cpu", []byte(`{"coreset_ratio": 0.05}`), nil); err == nil || !strings.Contains(err.Error(), "coreset_ratio") {
		t.Errorf("bench's config with a method's own field: %v, want an error naming it", err)
	}
}

func TestPictureNamesAreUnique(t *testing.T) {
	got := pictureNames([]string{"a/crack/000.png", "a/hole/000.png", "b/x.jpg", "c/x.png"})
	want := []string{"crack_000.png", "hole_000.png", "b_x.png", "c_x.png"}
	if !slices.Equal(got, want) {
		t.Fatalf("pictureNames = %v, want %v", got, want)
	}
}

// parseReport parses an HTML page as strict XML and returns its embedded pictures (each checked to be a
// decodable PNG) and its text.
func parseReport(t *testing.T, path string) ([][]byte, string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(raw))
	dec.Strict = true
	var imgs [][]byte
	var text strings.Builder
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s is not well-formed: %v", path, err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if el.Name.Local == "img" {
				for _, a := range el.Attr {
					if a.Name.Local != "src" {
						continue
					}
					b64, ok := strings.CutPrefix(a.Value, "data:image/png;base64,")
					if !ok {
						t.Fatalf("picture not embedded: src %.60q", a.Value)
					}
					pic, err := base64.StdEncoding.DecodeString(b64)
					if err != nil {
						t.Fatal(err)
					}
					if _, err := png.Decode(bytes.NewReader(pic)); err != nil {
						t.Fatalf("embedded picture is not a PNG: %v", err)
					}
					imgs = append(imgs, pic)
				}
			}
			if el.Name.Local == "link" || el.Name.Local == "script" {
				t.Errorf("report refers to outside resources (<%s>)", el.Name.Local)
			}
		case xml.CharData:
			text.Write(el)
		}
	}
	return imgs, text.String()
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func checkPNG(t *testing.T, path string, size int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if cfg.Width != size || cfg.Height != size {
		t.Fatalf("%s is %dx%d, want %dx%d", path, cfg.Width, cfg.Height, size, size)
	}
}

// countFiles counts regular files under dir, hidden ones included (0 when dir does not exist).
func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return filepath.SkipDir
			}
			return err
		}
		if !e.IsDir() {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// assertEmpty fails when dir holds anything at all, hidden or not (a missing dir is empty).
func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("a failed predict left %s", filepath.Join(dir, e.Name()))
	}
}

func assertNoPartial(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left behind: %s", filepath.Join(dir, e.Name()))
		}
	}
}
