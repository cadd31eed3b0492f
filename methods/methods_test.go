package methods

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/methods/safetensors"
)

// meanDetector is a minimal real detector for contract tests: the map is |x - mean normal image|.
type meanDetector struct {
	mean datasets.Image
}

func (d *meanDetector) Name() string { return "test-mean" }

func (d *meanDetector) Fit(ctx context.Context, train Images) error {
	for i := 0; i < train.Len(); i++ {
		img, err := train.Image(i)
		if err != nil {
			return err
		}
		if i == 0 {
			d.mean = datasets.NewImage(img.H, img.W, img.C)
		}
		for j, v := range img.Pix {
			d.mean.Pix[j] += v / float32(train.Len())
		}
		ReportProgress(ctx, Event{Task: "mean", Done: i + 1, Total: train.Len()})
	}
	return nil
}

func (d *meanDetector) Predict(ctx context.Context, images Images) ([]Prediction, error) {
	if d.mean.Pix == nil {
		return nil, ErrNotFitted
	}
	out := make([]Prediction, images.Len())
	for i := range out {
		img, err := images.Image(i)
		if err != nil {
			return nil, err
		}
		if err := (Settings{ImageSize: d.mean.H}).CheckInput(images, i, img, d.mean.C); err != nil {
			return nil, err
		}
		m := datasets.NewImage(img.H, img.W, 1)
		for p := range m.Pix {
			for c := 0; c < img.C; c++ {
				diff := img.Pix[p*img.C+c] - d.mean.Pix[p*img.C+c]
				if diff < 0 {
					diff = -diff
				}
				m.Pix[p] += diff
			}
			if m.Pix[p] > out[i].Score {
				out[i].Score = m.Pix[p]
			}
		}
		out[i].Map = m
	}
	return out, nil
}

func (d *meanDetector) Save(dir string) error {
	if d.mean.Pix == nil {
		return ErrNotFitted
	}
	cfg, _ := json.Marshal(map[string]int{"h": d.mean.H})
	return SaveCheckpoint(dir, Manifest{Method: d.Name(), FormatVersion: 1, Config: cfg,
		ImageH: d.mean.H, ImageW: d.mean.W, Channels: d.mean.C},
		map[string]safetensors.Tensor{"mean": {DType: "F32", Shape: []int{d.mean.H, d.mean.W, d.mean.C}, Data: d.mean.Pix}})
}

func loadMean(dir string, _ Manifest) (Detector, error) {
	m, ts, err := ReadCheckpoint(dir, "test-mean", 1)
	if err != nil {
		return nil, err
	}
	t, ok := ts["mean"]
	if !ok {
		return nil, errors.New("no mean tensor")
	}
	return &meanDetector{mean: datasets.Image{H: m.ImageH, W: m.ImageW, C: m.Channels, Pix: t.Data}}, nil
}

func init() {
	Register(Entry{Name: "test-mean", Display: "TestMean", Family: Reconstruction,
		Paper: Paper{Title: "test", Year: 2000}, Presets: []string{PresetPaper, PresetCPU},
		New:  func(string) (Detector, error) { return &meanDetector{}, nil },
		Load: loadMean})
}

type imgs []datasets.Image

func (s imgs) Len() int                            { return len(s) }
func (s imgs) Image(i int) (datasets.Image, error) { return s[i], nil }

func constImage(h, w, c int, v float32) datasets.Image {
	im := datasets.NewImage(h, w, c)
	for i := range im.Pix {
		im.Pix[i] = v
	}
	return im
}

func TestCatalogue(t *testing.T) {
	if _, err := Lookup("no-such"); err == nil || !strings.Contains(err.Error(), "test-mean") {
		t.Fatalf("Lookup(no-such) error %v should list registered methods", err)
	}
	if _, err := New("test-mean", "huge"); err == nil || !strings.Contains(err.Error(), "preset") {
		t.Fatalf("New with bad preset: %v", err)
	}
	e, err := Lookup("TEST-MEAN")
	if err != nil || e.Display != "TestMean" {
		t.Fatalf("Lookup is case-insensitive: %v %v", e, err)
	}
	found := false
	for _, e := range Catalogue() {
		found = found || e.Name == "test-mean"
	}
	if !found {
		t.Fatal("Catalogue misses a registered method")
	}
}

func TestCheckpointRoundTripAndErrors(t *testing.T) {
	ctx := context.Background()
	d, _ := New("test-mean", PresetCPU)
	if _, err := d.Predict(ctx, imgs{constImage(4, 4, 3, 0)}); !errors.Is(err, ErrNotFitted) {
		t.Fatalf("predict before fit: %v, want ErrNotFitted", err)
	}
	if err := d.Fit(ctx, imgs{constImage(4, 4, 3, 0.2), constImage(4, 4, 3, 0.4)}); err != nil {
		t.Fatal(err)
	}
	test := imgs{constImage(4, 4, 3, 0.3), constImage(4, 4, 3, 0.9)}
	want, err := d.Predict(ctx, test)
	if err != nil {
		t.Fatal(err)
	}
	if want[1].Score <= want[0].Score {
		t.Fatalf("scores %v %v: the odd image should score higher", want[0].Score, want[1].Score)
	}
	if _, err := d.Predict(ctx, imgs{constImage(5, 4, 3, 0)}); err == nil || !strings.Contains(err.Error(), "4x5 (W x H)") {
		t.Fatalf("wrong size: %v", err)
	}
	if _, err := d.Predict(ctx, imgs{constImage(4, 4, 1, 0)}); err == nil || !strings.Contains(err.Error(), "channels") {
		t.Fatalf("wrong channels: %v", err)
	}

	dir := filepath.Join(t.TempDir(), "ckpt")
	if err := d.Save(dir); err != nil {
		t.Fatal(err)
	}
	if err := d.Save(dir); err != nil { // overwriting keeps working
		t.Fatal(err)
	}
	back, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := back.Predict(ctx, test)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if got[i].Score != want[i].Score {
			t.Fatalf("loaded detector scores %v, saved %v", got[i].Score, want[i].Score)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(dir))
	if len(entries) != 1 {
		t.Fatalf("save left temporary files: %v", entries)
	}

	// Another method's reader refuses it; a wrong version is refused; truncation is detected.
	if _, _, err := ReadCheckpoint(dir, "patchcore", 1); err == nil || !strings.Contains(err.Error(), "test-mean") {
		t.Fatalf("other method: %v", err)
	}
	if _, _, err := ReadCheckpoint(dir, "test-mean", 2); err == nil || !strings.Contains(err.Error(), "version") {
		t.Fatalf("other version: %v", err)
	}
	tp := filepath.Join(dir, TensorsFile)
	raw, _ := os.ReadFile(tp)
	os.WriteFile(tp, raw[:len(raw)-5], 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("truncated: %v", err)
	}
	os.WriteFile(filepath.Join(dir, ManifestFile), []byte("{not json"), 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "corrupt manifest") {
		t.Fatalf("corrupt manifest: %v", err)
	}
	if _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a gonomaly checkpoint") {
		t.Fatalf("empty dir: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "never-saved")
	if _, err := Load(missing); err == nil || !strings.Contains(err.Error(), `"`+missing+`" does not exist`) {
		t.Fatalf("missing dir: %v", err)
	}
}

func TestProgress(t *testing.T) {
	var events []Event
	ctx := WithProgress(context.Background(), func(e Event) { events = append(events, e) })
	d := &meanDetector{}
	if err := d.Fit(ctx, imgs{constImage(2, 2, 1, 0), constImage(2, 2, 1, 1)}); err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 || events[1].Done != 2 || events[1].Total != 2 {
		t.Fatalf("events = %+v", events)
	}
	ReportProgress(context.Background(), Event{}) // no receiver: no panic
}
