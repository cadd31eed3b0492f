package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/metrics"
)

// Defaults of FitOptions.
const (
	DefaultValFraction    = 0.2
	DefaultFalseAlarmRate = 0.05
)

// FitOptions says what to fit on what.
type FitOptions struct {
	// Method is a catalogue name (methods.Catalogue), Preset methods.PresetCPU (default) or PresetPaper.
	Method, Preset string
	// Config, when not empty, is a JSON object laid over the preset's whole configuration: shared Settings
	// fields (image_size, backbone, weights, width_div, backbone_seed, seed, feature_batch, image_score) and
	// the method's own (epochs, learning_rate...); an unknown name is an error listing the known ones.
	Config []byte
	// Edit, when set, changes the Settings after Config (tests and notebooks shrink methods with it).
	Edit func(*methods.Settings)
	// Data is an MVTec-layout category folder or a plain folder of normal images; Out the model folder.
	Data, Out string
	// ValFraction of the normal training images is held out for the threshold (default
	// DefaultValFraction; negative: none, the threshold then comes from the training images).
	ValFraction float64
	// FalseAlarmRate is the share of held-out normal images allowed above the threshold (default
	// DefaultFalseAlarmRate; 0 < rate < 1).
	FalseAlarmRate float64
	// Seed chooses the held-out images.
	Seed uint64
}

func (o FitOptions) withDefaults() (FitOptions, error) {
	if o.Preset == "" {
		o.Preset = methods.PresetCPU
	}
	if o.ValFraction == 0 {
		o.ValFraction = DefaultValFraction
	}
	if o.ValFraction < 0 {
		o.ValFraction = 0
	}
	if o.FalseAlarmRate == 0 {
		o.FalseAlarmRate = DefaultFalseAlarmRate
	}
	switch {
	case o.Method == "":
		return o, errors.New("fit: no method given (-method; `gonomaly methods` lists them)")
	case o.Data == "":
		return o, errors.New("fit: no data folder given (-data)")
	case o.Out == "":
		return o, errors.New("fit: no model folder given (-out)")
	case !(o.FalseAlarmRate > 0 && o.FalseAlarmRate < 1):
		return o, fmt.Errorf("fit: false-alarm rate %g must be in (0, 1)", o.FalseAlarmRate)
	case o.ValFraction >= 1:
		return o, fmt.Errorf("fit: validation fraction %g must be below 1", o.ValFraction)
	}
	return o, nil
}

// BuildDetector builds an unfitted detector of a catalogue method with a preset, a JSON object laid over
// the preset's whole configuration (the shared Settings and the method's own fields, see
// methods.Configure) and an edit of the shared Settings (both optional).
func BuildDetector(method, preset string, config []byte, edit func(*methods.Settings)) (methods.Detector, error) {
	return methods.Configure(method, preset, config, edit)
}

// Fit fits a method on a data folder and writes the model folder opts.Out: the detector, a threshold from
// held-out normal images, and what it was fitted on. Progress goes to the context's methods.ProgressFunc.
// When the method trains (methods.Resumable) its training state is checkpointed under Out and a second
// call with the same options after an interruption (Ctrl-C: ctx cancelled) resumes it. Bad files are
// reported, by name, before anything is written; the model folder is complete only when Fit returns nil.
func Fit(ctx context.Context, opts FitOptions) (*Model, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	entry, err := methods.Lookup(opts.Method)
	if err != nil {
		return nil, err
	}
	if _, err := DetectLayout(opts.Data); err != nil { // before building: a wrong folder is the first thing to say
		return nil, err
	}
	d, err := BuildDetector(entry.Name, opts.Preset, opts.Config, opts.Edit)
	if err != nil {
		return nil, err
	}
	s := settingsOf(d)
	ds, layout, err := Open(opts.Data, s.ImageSize, opts.ValFraction, opts.Seed)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return nil, err
	}
	// The folder stops being a complete model now: a failure below leaves no InfoFile.
	if err := os.Remove(filepath.Join(opts.Out, InfoFile)); err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	training := filepath.Join(opts.Out, TrainingDir)
	resumed := false
	if r, ok := d.(methods.Resumable); ok {
		r.SetCheckpointDir(training)
		_, statErr := os.Stat(filepath.Join(training, methods.ManifestFile))
		resumed = statErr == nil
	} else if entry.Trains {
		methods.ReportProgress(ctx, methods.Event{Task: entry.Name + ": does not checkpoint its training (methods.Resumable); an interrupted fit starts over", Finished: true})
	}
	start := time.Now()
	if err := d.Fit(ctx, ds.Train); err != nil {
		if ctx.Err() != nil && resumableDir(d, training) {
			return nil, fmt.Errorf("fit interrupted (%w); the training checkpoint in %s resumes it: run the same command again", err, training)
		}
		return nil, err
	}
	fitTime := time.Since(start)
	if err := d.Save(filepath.Join(opts.Out, DetectorDir)); err != nil {
		return nil, err
	}
	thrImages, source := methods.Images(ds.Val), fmt.Sprintf("%d held-out normal images", ds.Val.Len())
	if ds.Val.Len() == 0 {
		thrImages, source = ds.Train, fmt.Sprintf("%d training images (none held out: optimistic)", ds.Train.Len())
	}
	th, err := NormalThresholds(ctx, d, thrImages, opts.FalseAlarmRate)
	if err != nil {
		return nil, err
	}
	th.NormalSource = source
	abs, _ := filepath.Abs(opts.Data)
	info := Info{Method: entry.Name, Display: entry.Display, Family: string(entry.Family), Preset: opts.Preset, Settings: s,
		Data: abs, Layout: layout, TrainImages: ds.Train.Len(), ValImages: ds.Val.Len(), Config: recipeConfig(d),
		FitSeconds: fitTime.Seconds(), Resumed: resumed, Created: time.Now().UTC().Round(time.Second)}
	if err := writeJSON(filepath.Join(opts.Out, ThresholdsFile), th); err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(opts.Out, InfoFile), info); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(training); err != nil {
		return nil, err
	}
	return &Model{Dir: opts.Out, Info: info, Thresholds: th, Detector: d}, nil
}

func resumableDir(d methods.Detector, dir string) bool {
	if _, ok := d.(methods.Resumable); !ok {
		return false
	}
	_, err := os.Stat(filepath.Join(dir, methods.ManifestFile))
	return err == nil
}

func settingsOf(d methods.Detector) methods.Settings {
	if c, ok := d.(methods.Configured); ok {
		return c.Settings()
	}
	return methods.Settings{}
}

// NormalThresholds scores normal images and returns the thresholds that let about rate of them through
// as anomalous: the (1-rate)-quantile of their image scores and of their maps' maxima, and the range of
// their maps. Maps are not kept: memory stays bounded by the detector's batch.
func NormalThresholds(ctx context.Context, d methods.Detector, normal methods.Images, rate float64) (Thresholds, error) {
	if normal.Len() == 0 {
		return Thresholds{}, errors.New("threshold: no normal images to take it from")
	}
	scores := make([]float64, normal.Len())
	maxima := make([]float64, normal.Len())
	lo, hi := math.Inf(1), math.Inf(-1)
	err := methods.PredictEach(ctx, d, normal, func(i int, p methods.Prediction) error {
		scores[i] = float64(p.Score)
		maxima[i] = math.Inf(-1)
		for _, v := range p.Map.Pix {
			maxima[i] = max(maxima[i], float64(v))
			lo, hi = min(lo, float64(v)), max(hi, float64(v))
		}
		if len(p.Map.Pix) == 0 {
			return fmt.Errorf("threshold: %s: the detector returned no anomaly map", methods.ImageName(normal, i))
		}
		return nil
	})
	if err != nil {
		return Thresholds{}, err
	}
	t, err := metrics.NormalThreshold(scores, 1-rate)
	if err != nil {
		return Thresholds{}, err
	}
	px, err := metrics.NormalThreshold(maxima, 1-rate)
	if err != nil {
		return Thresholds{}, err
	}
	return Thresholds{Normal: t, FalseAlarmRate: rate, Pixel: px, MapMin: lo, MapMax: hi}, nil
}

// Describe is a one-paragraph summary of a model for terminals and notebooks.
func (m *Model) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s, preset %s, %d px) fitted on %d normal images of %s in %.1f s\n",
		m.Info.Display, m.Info.Method, m.Info.Preset, m.Info.Settings.ImageSize, m.Info.TrainImages, m.Info.Data, m.Info.FitSeconds)
	fmt.Fprintf(&b, "threshold %.6g from %s at false-alarm rate %g", m.Thresholds.Normal, m.Thresholds.NormalSource, m.Thresholds.FalseAlarmRate)
	if m.Thresholds.F1 != nil {
		fmt.Fprintf(&b, "; F1-optimal %.6g (%s)", *m.Thresholds.F1, m.Thresholds.F1Source)
	}
	if m.Info.ValImages < 20 {
		fmt.Fprintf(&b, "\nnote: %d held-out images make a rough quantile; more normal images (or -val) make the false-alarm rate hold", m.Info.ValImages)
	}
	return b.String()
}

// recipeConfig returns the configuration part of d's recipe (nil when d has none).
func recipeConfig(d methods.Detector) json.RawMessage {
	raw, ok := methods.Recipe(d)
	if !ok {
		return nil
	}
	var r struct {
		Config json.RawMessage `json:"config"`
	}
	if json.Unmarshal(raw, &r) != nil {
		return nil
	}
	return r.Config
}
