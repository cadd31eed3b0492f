package pipeline

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/metrics"
	"github.com/gonomaly/gonomaly/viz"
)

// PredictionsFile is the CSV Predict writes; MapsDir and OverlaysDir hold its pictures.
const (
	PredictionsFile = "predictions.csv"
	MapsDir         = "maps"
	OverlaysDir     = "overlays"
)

// PredictOptions says what to predict and where to write it.
type PredictOptions struct {
	// Images are files or folders (walked recursively).
	Images []string
	// Out receives PredictionsFile, MapsDir/*.png and OverlaysDir/*.png.
	Out string
	// Threshold is "normal" (default), "f1" or a number (see Thresholds.Choose).
	Threshold string
	// NoPictures writes the CSV only.
	NoPictures bool
}

// Row is one line of PredictionsFile.
type Row struct {
	File      string
	Score     float64
	Anomalous bool
	// Map and Overlay are the PNG files' paths relative to Out ("" with NoPictures).
	Map, Overlay string
}

// Predict scores images with a model, streaming (methods.PredictEach: the detector's batch of images in
// memory at a time, whatever the number of files), and writes per image its score and verdict at the
// chosen threshold (one CSV) and its anomaly map and overlay (PNG). Every file's header is checked first
// and a bad file is named before anything is written. Outputs are built in a hidden folder inside Out
// and moved into place only when every image succeeded, so a failure (a corrupt file found while
// decoding, Ctrl-C) leaves Out as it was. It returns the rows in file order.
func Predict(ctx context.Context, m *Model, opts PredictOptions) ([]Row, error) {
	if opts.Out == "" {
		return nil, fmt.Errorf("predict: no output folder given (-out)")
	}
	thr, _, err := m.Thresholds.Choose(opts.Threshold)
	if err != nil {
		return nil, err
	}
	files, err := ImageFiles(opts.Images, opts.Out) // results written inside an input folder are not inputs
	if err != nil {
		return nil, err
	}
	split, err := FileSplit(files, m.ImageSize())
	if err != nil {
		return nil, err
	}
	names := pictureNames(files)
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return nil, err
	}
	stage, err := os.MkdirTemp(opts.Out, ".partial-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(stage) // empty after a successful move
	norm := metrics.Normalizer{Threshold: m.Thresholds.Pixel, Min: m.Thresholds.MapMin, Max: m.Thresholds.MapMax}
	keep := &keptImages{Split: split, imgs: map[int]datasets.Image{}, want: !opts.NoPictures}
	rows := make([]Row, len(files))
	task := "predict: " + m.Info.Method
	err = methods.PredictEach(ctx, m.Detector, keep, func(i int, p methods.Prediction) error {
		rows[i] = Row{File: files[i], Score: float64(p.Score), Anomalous: float64(p.Score) >= thr}
		if !opts.NoPictures {
			img := keep.take(i)
			rows[i].Map = filepath.Join(MapsDir, names[i])
			rows[i].Overlay = filepath.Join(OverlaysDir, names[i])
			if err := writeMapPictures(filepath.Join(stage, rows[i].Map), filepath.Join(stage, rows[i].Overlay), img, p.Map, norm); err != nil {
				return fmt.Errorf("%s: %w", files[i], err)
			}
		}
		methods.ReportProgress(ctx, methods.Event{Task: task, Done: i + 1, Total: len(files), Finished: i+1 == len(files)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(stage, PredictionsFile), rowsCSV(rows, thr)); err != nil {
		return nil, err
	}
	if err := moveInto(stage, opts.Out); err != nil {
		return nil, err
	}
	return rows, nil
}

func encodePNG(w io.Writer, img image.Image) error { return png.Encode(w, img) }

// writeMapPictures writes the colourised map (normalised so the pixel threshold is mid-scale) and the
// overlay of that map on the image.
func writeMapPictures(mapPath, overlayPath string, img, amap datasets.Image, norm metrics.Normalizer) error {
	nm := norm.ApplyImage(amap)
	col, err := viz.MapImage(nm, viz.Inferno, 0, 1)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := encodePNG(&buf, col); err != nil {
		return err
	}
	if err := writeFileAtomic(mapPath, buf.Bytes()); err != nil {
		return err
	}
	ov, err := viz.Overlay(img, nm).Colormap(viz.Inferno).Range(0, 1).AlphaByValue(true).Done()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(overlayPath), 0o755); err != nil {
		return err
	}
	return ov.Save(overlayPath)
}

func rowsCSV(rows []Row, thr float64) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"file", "score", "threshold", "verdict", "map", "overlay"})
	for _, r := range rows {
		verdict := "normal"
		if r.Anomalous {
			verdict = "anomalous"
		}
		w.Write([]string{r.File, strconv.FormatFloat(r.Score, 'g', 8, 64), strconv.FormatFloat(thr, 'g', 8, 64), verdict,
			filepath.ToSlash(r.Map), filepath.ToSlash(r.Overlay)})
	}
	w.Flush()
	return buf.Bytes()
}

// pictureNames gives each file a unique PNG name: its path's last parts joined by "_" (enough to be
// unique), so "test/crack/003.png" and "test/hole/003.png" do not collide.
func pictureNames(files []string) []string {
	out := make([]string, len(files))
	parts := make([][]string, len(files))
	for i, f := range files {
		parts[i] = strings.Split(filepath.ToSlash(filepath.Clean(f)), "/")
	}
	for depth := 1; ; depth++ {
		seen := map[string]int{}
		clash := false
		for i, p := range parts {
			k := strings.Join(p[max(0, len(p)-depth):], "_")
			k = strings.TrimSuffix(k, filepath.Ext(k)) + ".png"
			out[i] = k
			seen[k]++
			if seen[k] > 1 && depth < len(p) {
				clash = true
			}
		}
		if !clash {
			for i := range out { // still equal (same file twice is excluded by ImageFiles): number them
				if seen[out[i]] > 1 {
					out[i] = fmt.Sprintf("%05d_%s", i, out[i])
				}
			}
			return out
		}
	}
}

// moveInto moves every file under stage to the same place under out (replacing older ones).
func moveInto(stage, out string) error {
	return filepath.WalkDir(stage, func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, err := filepath.Rel(stage, p)
		if err != nil {
			return err
		}
		dst := filepath.Join(out, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.Rename(p, dst)
	})
}

// keptImages keeps each image the detector loads until its prediction has been written, so the overlay
// does not decode it twice; at most a batch of images is held.
type keptImages struct {
	*datasets.Split
	mu   sync.Mutex
	imgs map[int]datasets.Image
	want bool
}

func (k *keptImages) Image(i int) (datasets.Image, error) {
	img, err := k.Split.Image(i)
	if err == nil && k.want {
		k.mu.Lock()
		k.imgs[i] = img
		k.mu.Unlock()
	}
	return img, err
}

func (k *keptImages) take(i int) datasets.Image {
	k.mu.Lock()
	defer k.mu.Unlock()
	img, ok := k.imgs[i]
	delete(k.imgs, i)
	if !ok { // a detector that did not read it through us: read it again
		img, _ = k.Split.Image(i)
	}
	return img
}
