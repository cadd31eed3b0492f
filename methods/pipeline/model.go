package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/gonomaly/gonomaly/methods"
)

// The files of a model folder. The folder is complete when InfoFile exists: Fit writes it last.
const (
	// InfoFile describes the model: method, preset, settings, data, fit time.
	InfoFile = "gonomaly.json"
	// ThresholdsFile holds the decision thresholds Predict applies.
	ThresholdsFile = "thresholds.json"
	// DetectorDir is the detector's checkpoint (methods.SaveCheckpoint).
	DetectorDir = "detector"
	// TrainingDir holds the training checkpoint of a method that trains, kept until Fit finishes so an
	// interrupted Fit resumes.
	TrainingDir = "training"
)

// Info describes a fitted model folder.
type Info struct {
	Method   string           `json:"method"`
	Display  string           `json:"display"`
	Family   string           `json:"family"`
	Preset   string           `json:"preset"`
	Settings methods.Settings `json:"settings"`
	// Config is the method's whole configuration as fitted (methods.Recipe): the settings above and the
	// method's own fields, e.g. epochs set through -config. Empty in models written before it existed.
	Config json.RawMessage `json:"config,omitempty"`
	// Data is the folder the model was fitted on and Layout how it is organised.
	Data   string `json:"data"`
	Layout Layout `json:"layout"`
	// TrainImages and ValImages count the normal images fitted on and held out for the threshold.
	TrainImages int `json:"train_images"`
	ValImages   int `json:"val_images"`
	// FitSeconds is the wall time of Fit (of the last, resumed part when it resumed).
	FitSeconds float64   `json:"fit_seconds"`
	Resumed    bool      `json:"resumed,omitempty"`
	Created    time.Time `json:"created"`
}

// Thresholds are a model's decision thresholds on the image score (anomalous when score >= threshold)
// and on anomaly-map pixels, with where each comes from.
type Thresholds struct {
	// Normal is the threshold from held-out normal images only: about FalseAlarmRate of them score at
	// or above it. It needs no defective image.
	Normal float64 `json:"normal"`
	// FalseAlarmRate is the share of held-out normal images allowed above Normal.
	FalseAlarmRate float64 `json:"false_alarm_rate"`
	// NormalSource says which images Normal comes from.
	NormalSource string `json:"normal_source"`
	// Pixel is the map threshold from the same normal images: about FalseAlarmRate of them have any
	// pixel at or above it. Maps are coloured so that Pixel sits in the middle of the colour scale.
	Pixel float64 `json:"pixel"`
	// MapMin and MapMax are the range of the held-out normal maps, for colouring.
	MapMin float64 `json:"map_min"`
	MapMax float64 `json:"map_max"`
	// F1 is the F1-optimal image threshold, set by Evaluate when the evaluated data has defects (NaN,
	// stored as null, until then); F1Source names that data.
	F1       *float64 `json:"f1,omitempty"`
	F1Source string   `json:"f1_source,omitempty"`
}

// Choose returns the threshold Predict applies: "normal" (the default, also ""), "f1" (after Evaluate), or
// a number.
func (t Thresholds) Choose(which string) (float64, string, error) {
	switch which {
	case "", "normal":
		return t.Normal, fmt.Sprintf("normal (%s, false-alarm rate %g)", t.NormalSource, t.FalseAlarmRate), nil
	case "f1":
		if t.F1 == nil {
			return math.NaN(), "", fmt.Errorf("no F1-optimal threshold yet: run eval on data with defects first, or use -threshold normal")
		}
		return *t.F1, "F1-optimal (" + t.F1Source + ")", nil
	}
	var v float64
	if _, err := fmt.Sscanf(which, "%g", &v); err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return math.NaN(), "", fmt.Errorf("threshold %q is not normal, f1 or a number", which)
	}
	return v, "given", nil
}

// Model is a fitted model folder, loaded.
type Model struct {
	Dir        string
	Info       Info
	Thresholds Thresholds
	Detector   methods.Detector
}

// LoadModel reads a model folder written by Fit.
func LoadModel(dir string) (*Model, error) {
	m := &Model{Dir: dir}
	if err := readJSON(filepath.Join(dir, InfoFile), &m.Info); err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("%s is not a fitted model folder (no %s; an interrupted fit leaves none: run fit again to resume)", dir, InfoFile)
		}
		return nil, err
	}
	if err := readJSON(filepath.Join(dir, ThresholdsFile), &m.Thresholds); err != nil {
		return nil, err
	}
	d, err := methods.Load(filepath.Join(dir, DetectorDir))
	if err != nil {
		return nil, err
	}
	m.Detector = d
	return m, nil
}

// ImageSize is the side of the images the model takes.
func (m *Model) ImageSize() int {
	if c, ok := m.Detector.(methods.Configured); ok {
		return c.Settings().ImageSize
	}
	return m.Info.Settings.ImageSize
}

func readJSON(path string, v any) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// writeJSON writes v indented to path through a temporary file and a rename.
func writeJSON(path string, v any) error {
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return writeFileAtomic(path, append(raw, '\n'))
}

// writeFileAtomic writes data to path through a temporary file in the same folder and a rename, so a
// reader sees the old file or the new one, never half of one.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := bytes.NewReader(data).WriteTo(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// num is a float64 that encodes NaN and infinities as JSON null (encoding/json refuses them).
type num float64

func (n num) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(n)) || math.IsInf(float64(n), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(n))
}

func (n *num) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = num(math.NaN())
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*n = num(f)
	return nil
}
