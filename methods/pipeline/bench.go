package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/datasets/synth"
	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/metrics"
)

// The files Bench writes under its output folder.
const (
	CellsDir        = "cells"
	LeaderboardCSV  = "leaderboard.csv"
	LeaderboardMD   = "leaderboard.md"
	LeaderboardHTML = "leaderboard.html"
)

// BenchOptions says which methods to compare on which data.
type BenchOptions struct {
	// Methods are catalogue names; empty or "all" means every method of methods.Catalogue.
	Methods []string
	// Data is "synth" (every synthetic category), "synth:carpet,pill" (some), an MVTec-layout root
	// folder holding categories, or one category folder.
	Data string
	// Preset, Config and Edit build each method as in FitOptions, except that Config may set only the
	// shared Settings fields (it is laid over every method, and one method's own field would fail the others).
	Preset string
	Config []byte
	Edit   func(*methods.Settings)
	// Out receives CellsDir (one JSON file per finished cell) and the leaderboards.
	Out string
	// Train, TestNormal and TestPerDefect size the synthetic categories (defaults 40, 16, 4).
	Train, TestNormal, TestPerDefect int
	// Seed selects the synthetic data.
	Seed uint64
	// Log, when set, receives one line per cell as it finishes or is found done.
	Log func(string)
}

// Cell is one method on one category: a cell of the leaderboard, stored as JSON under CellsDir.
type Cell struct {
	// Key identifies what was measured (method, settings, data); a stored cell with another key is redone.
	Key       string `json:"key"`
	Method    string `json:"method"`
	Display   string `json:"display"`
	Family    string `json:"family"`
	Year      int    `json:"year"`
	Category  string `json:"category"`
	Preset    string `json:"preset"`
	ImageSize int    `json:"image_size"`
	Train     int    `json:"train_images"`
	Test      int    `json:"test_images"`
	// FitSeconds is Fit's wall time; MsPerImage the test split's evaluation time per image after a
	// warm-up batch (graph compilation excluded); PeakMiB the peak resident memory, PeakSource what it
	// measures (see peakMeter).
	FitSeconds float64 `json:"fit_seconds"`
	MsPerImage float64 `json:"ms_per_image"`
	PeakMiB    float64 `json:"peak_mib"`
	PeakSource string  `json:"peak_source"`
	ImageAUROC num     `json:"image_auroc"`
	ImageAP    num     `json:"image_ap"`
	ImageF1Max num     `json:"image_f1_max"`
	PixelAUROC num     `json:"pixel_auroc"`
	AUPRO      num     `json:"aupro"`
	// ROCX and ROCY are the image-level ROC curve.
	ROCX []float64 `json:"roc_fpr"`
	ROCY []float64 `json:"roc_tpr"`
	// Error is set when the cell failed; a failed cell is retried by the next Bench.
	Error    string    `json:"error,omitempty"`
	Finished time.Time `json:"finished"`
}

func (o BenchOptions) withDefaults() (BenchOptions, error) {
	if o.Preset == "" {
		o.Preset = methods.PresetCPU
	}
	if o.Train == 0 {
		o.Train = 40
	}
	if o.TestNormal == 0 {
		o.TestNormal = 16
	}
	if o.TestPerDefect == 0 {
		o.TestPerDefect = 4
	}
	if o.Out == "" {
		return o, errors.New("bench: no output folder given (-out)")
	}
	if o.Data == "" {
		o.Data = "synth"
	}
	return o, nil
}

// BenchMethods resolves method names ("all" or empty: the whole catalogue, in its order).
func BenchMethods(names []string) ([]methods.Entry, error) {
	if len(names) == 0 || (len(names) == 1 && (names[0] == "all" || names[0] == "")) {
		return methods.Catalogue(), nil
	}
	var out []methods.Entry
	for _, n := range names {
		e, err := methods.Lookup(strings.TrimSpace(n))
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// BenchCategories resolves the data spec to its category names and whether they are synthetic.
func BenchCategories(data string) (cats []string, root string, synthetic bool, err error) {
	if data == "synth" {
		return synth.Categories(), "", true, nil
	}
	if rest, ok := strings.CutPrefix(data, "synth:"); ok {
		known := map[string]bool{}
		for _, c := range synth.Categories() {
			known[c] = true
		}
		for _, c := range strings.Split(rest, ",") {
			if c = strings.TrimSpace(c); c == "" {
				continue
			}
			if !known[c] {
				return nil, "", true, fmt.Errorf("bench: unknown synthetic category %q (known: %s)", c, strings.Join(synth.Categories(), ", "))
			}
			cats = append(cats, c)
		}
		if len(cats) == 0 {
			return nil, "", true, fmt.Errorf("bench: %q names no category", data)
		}
		return cats, "", true, nil
	}
	if l, err := DetectLayout(data); err == nil && l == MVTecLayout {
		clean := filepath.Clean(data)
		return []string{filepath.Base(clean)}, filepath.Dir(clean), false, nil
	}
	cats, err = datasets.MVTecCategories(data)
	if err != nil {
		return nil, "", false, err
	}
	if len(cats) == 0 {
		return nil, "", false, fmt.Errorf("bench: %s holds no MVTec-layout category (folders with train/good and test)", data)
	}
	return cats, data, false, nil
}

// Bench fits and evaluates every method on every category and writes the leaderboards. A cell already
// stored under Out with the same key is not recomputed, so an interrupted Bench continues where it
// stopped. A method that fails on a category is recorded with its error and the others go on; ctx's
// cancellation stops Bench at once (the cell in progress is not stored).
func Bench(ctx context.Context, opts BenchOptions) ([]Cell, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	entries, err := BenchMethods(opts.Methods)
	if err != nil {
		return nil, err
	}
	cats, root, synthetic, err := BenchCategories(opts.Data)
	if err != nil {
		return nil, err
	}
	var cells []Cell
	total := len(entries) * len(cats)
	for ci, cat := range cats {
		for mi, e := range entries {
			if err := ctx.Err(); err != nil {
				return cells, err
			}
			c, cached, err := benchCell(ctx, opts, e, cat, root, synthetic)
			if err != nil && ctx.Err() != nil {
				return cells, ctx.Err()
			}
			cells = append(cells, c)
			if opts.Log != nil {
				state := fmt.Sprintf("image AUROC %s, fit %.1f s, %.1f ms/image, peak %.0f MiB", cell(c.ImageAUROC), c.FitSeconds, c.MsPerImage, c.PeakMiB)
				if c.Error != "" {
					state = "failed: " + c.Error
				}
				if cached {
					state = "done before: " + state
				}
				opts.Log(fmt.Sprintf("[%d/%d] %s on %s: %s", ci*len(entries)+mi+1, total, e.Name, cat, state))
			}
			methods.ReportProgress(ctx, methods.Event{Task: "bench", Done: ci*len(entries) + mi + 1, Total: total, Finished: ci*len(entries)+mi+1 == total})
		}
	}
	if err := WriteLeaderboards(opts.Out, cells); err != nil {
		return cells, err
	}
	return cells, nil
}

// benchCell measures one method on one category, or returns the stored cell when its key matches.
func benchCell(ctx context.Context, opts BenchOptions, e methods.Entry, cat, root string, synthetic bool) (Cell, bool, error) {
	c := Cell{Method: e.Name, Display: e.Display, Family: string(e.Family), Year: e.Paper.Year, Category: cat, Preset: opts.Preset}
	fail := func(err error) (Cell, bool, error) {
		c.Error = err.Error()
		c.Finished = time.Now().UTC()
		if ctx.Err() == nil {
			if werr := writeJSON(cellPath(opts.Out, e.Name, cat), c); werr != nil {
				return c, false, werr
			}
		}
		return c, false, err
	}
	d, err := methods.ConfigureShared(e.Name, opts.Preset, opts.Config, opts.Edit)
	if err != nil {
		return fail(err)
	}
	s := settingsOf(d)
	c.ImageSize = s.ImageSize
	keyRaw, _ := json.Marshal(struct {
		Method, Preset, Category, Root string
		Synthetic                      bool
		Settings                       methods.Settings
		Train, TestNormal, PerDefect   int
		Seed                           uint64
	}{e.Name, opts.Preset, cat, root, synthetic, s, opts.Train, opts.TestNormal, opts.TestPerDefect, opts.Seed})
	sum := sha256.Sum256(keyRaw)
	c.Key = hex.EncodeToString(sum[:8])
	var old Cell
	if err := readJSON(cellPath(opts.Out, e.Name, cat), &old); err == nil && old.Key == c.Key && old.Error == "" {
		return old, true, nil
	}
	var ds *datasets.Dataset
	if synthetic {
		ds, err = synth.New(cat, synth.Options{Size: s.ImageSize, Train: opts.Train, TestNormal: opts.TestNormal, TestPerDefect: opts.TestPerDefect, Seed: opts.Seed})
	} else {
		ds, err = datasets.LoadMVTec(root, cat, datasets.Options{ImageSize: s.ImageSize})
		if err == nil {
			err = ds.Check()
		}
	}
	if err != nil {
		return fail(err)
	}
	c.Train, c.Test = ds.Train.Len(), ds.Test.Len()
	meter := startPeak()
	start := time.Now()
	if err := d.Fit(ctx, ds.Train); err != nil {
		return fail(err)
	}
	c.FitSeconds = time.Since(start).Seconds()
	// Warm up: the first batch compiles the inference graph, which is not per-image work.
	warm := min(max(s.FeatureBatch, 1), ds.Test.Len())
	if _, err := d.Predict(ctx, ds.Test.Subset("warm-up", firstN(warm))); err != nil {
		return fail(err)
	}
	start = time.Now()
	rep, preds, err := metrics.EvaluateSplit(ctx, d, ds.Test, metrics.Options{NoPerDefect: true})
	if err != nil {
		return fail(err)
	}
	c.MsPerImage = float64(time.Since(start).Microseconds()) / 1000 / float64(max(len(preds), 1))
	c.PeakMiB, c.PeakSource = meter.peak()
	c.ImageAUROC, c.ImageAP, c.ImageF1Max = num(rep.ImageAUROC), num(rep.ImageAP), num(rep.ImageF1Max)
	c.PixelAUROC, c.AUPRO = num(rep.PixelAUROC), num(rep.AUPRO)
	c.ROCX, c.ROCY = thinCurve(rep.ROC.X, rep.ROC.Y, 200)
	c.Finished = time.Now().UTC().Round(time.Second)
	if err := writeJSON(cellPath(opts.Out, e.Name, cat), c); err != nil {
		return c, false, err
	}
	return c, false, nil
}

func cellPath(out, method, cat string) string {
	return filepath.Join(out, CellsDir, method+"@"+cat+".json")
}

func firstN(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// thinCurve keeps at most n points of a curve (always the first and last).
func thinCurve(x, y []float64, n int) ([]float64, []float64) {
	if len(x) <= n {
		return x, y
	}
	var ox, oy []float64
	step := float64(len(x)-1) / float64(n-1)
	for k := range n {
		i := int(math.Round(float64(k) * step))
		ox, oy = append(ox, x[i]), append(oy, y[i])
	}
	return ox, oy
}

// LoadCells reads every cell stored under out (a finished or failed Bench), sorted by category and
// method.
func LoadCells(out string) ([]Cell, error) {
	files, err := filepath.Glob(filepath.Join(out, CellsDir, "*.json"))
	if err != nil {
		return nil, err
	}
	var cells []Cell
	for _, f := range files {
		var c Cell
		if err := readJSON(f, &c); err != nil {
			return nil, err
		}
		cells = append(cells, c)
	}
	sort.Slice(cells, func(i, j int) bool {
		if cells[i].Category != cells[j].Category {
			return cells[i].Category < cells[j].Category
		}
		return cells[i].Method < cells[j].Method
	})
	return cells, nil
}

// Standing is one method's line of the leaderboard: its means over the categories it finished.
type Standing struct {
	Method, Display, Family                   string
	Year                                      int
	Categories, Failed                        int
	ImageAUROC, PixelAUROC, AUPRO, ImageF1Max float64
	FitSeconds, MsPerImage, PeakMiB           float64
}

// Standings summarises cells per method, best mean image AUROC first.
func Standings(cells []Cell) []Standing {
	byMethod := map[string]*Standing{}
	sums := map[string]*[7]float64{}
	counts := map[string]*[4]int{}
	var order []string
	for _, c := range cells {
		s, ok := byMethod[c.Method]
		if !ok {
			s = &Standing{Method: c.Method, Display: c.Display, Family: c.Family, Year: c.Year}
			byMethod[c.Method], sums[c.Method], counts[c.Method] = s, &[7]float64{}, &[4]int{}
			order = append(order, c.Method)
		}
		if c.Error != "" {
			s.Failed++
			continue
		}
		s.Categories++
		sm, cn := sums[c.Method], counts[c.Method]
		for k, v := range []float64{float64(c.ImageAUROC), float64(c.PixelAUROC), float64(c.AUPRO), float64(c.ImageF1Max)} {
			if !math.IsNaN(v) {
				sm[k] += v
				cn[k]++
			}
		}
		sm[4] += c.FitSeconds
		sm[5] += c.MsPerImage
		s.PeakMiB = max(s.PeakMiB, c.PeakMiB)
	}
	var out []Standing
	for _, m := range order {
		s, sm, cn := byMethod[m], sums[m], counts[m]
		mean := func(k int) float64 {
			if cn[k] == 0 {
				return math.NaN()
			}
			return sm[k] / float64(cn[k])
		}
		s.ImageAUROC, s.PixelAUROC, s.AUPRO, s.ImageF1Max = mean(0), mean(1), mean(2), mean(3)
		s.FitSeconds, s.MsPerImage = math.NaN(), math.NaN()
		if s.Categories > 0 {
			s.FitSeconds, s.MsPerImage = sm[4]/float64(s.Categories), sm[5]/float64(s.Categories)
		}
		out = append(out, *s)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].ImageAUROC, out[j].ImageAUROC
		if math.IsNaN(b) {
			return !math.IsNaN(a)
		}
		return a > b
	})
	return out
}

// WriteLeaderboards writes the cells as LeaderboardCSV (one row per cell), LeaderboardMD and
// LeaderboardHTML (the per-method standings, then every cell) under out.
func WriteLeaderboards(out string, cells []Cell) error {
	if err := writeFileAtomic(filepath.Join(out, LeaderboardCSV), cellsCSV(cells)); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(out, LeaderboardMD), []byte(LeaderboardMarkdown(cells))); err != nil {
		return err
	}
	html, err := leaderboardHTML(cells)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(out, LeaderboardHTML), html)
}

func cellsCSV(cells []Cell) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"method", "family", "category", "preset", "image_size", "train_images", "test_images",
		"image_auroc", "pixel_auroc", "aupro", "image_f1_max", "image_ap", "fit_seconds", "ms_per_image", "peak_mib", "error"})
	f := func(v float64) string {
		if math.IsNaN(v) {
			return ""
		}
		return strconv.FormatFloat(v, 'f', 4, 64)
	}
	for _, c := range cells {
		w.Write([]string{c.Method, c.Family, c.Category, c.Preset, strconv.Itoa(c.ImageSize), strconv.Itoa(c.Train), strconv.Itoa(c.Test),
			f(float64(c.ImageAUROC)), f(float64(c.PixelAUROC)), f(float64(c.AUPRO)), f(float64(c.ImageF1Max)), f(float64(c.ImageAP)),
			f(c.FitSeconds), f(c.MsPerImage), f(c.PeakMiB), c.Error})
	}
	w.Flush()
	return buf.Bytes()
}

// standingRows are the leaderboard's summary rows, shared by the Markdown and HTML writers.
func standingRows(cells []Cell) ([]string, [][]any) {
	header := []string{"rank", "method", "family", "year", "categories", "image AUROC", "pixel AUROC", "AUPRO", "image F1-max", "fit s", "ms/image", "peak MiB"}
	var rows [][]any
	for i, s := range Standings(cells) {
		cats := strconv.Itoa(s.Categories)
		if s.Failed > 0 {
			cats += fmt.Sprintf(" (%d failed)", s.Failed)
		}
		rows = append(rows, []any{i + 1, s.Display, s.Family, s.Year, cats, s.ImageAUROC, s.PixelAUROC, s.AUPRO, s.ImageF1Max,
			fmt.Sprintf("%.1f", s.FitSeconds), fmt.Sprintf("%.1f", s.MsPerImage), fmt.Sprintf("%.0f", s.PeakMiB)})
	}
	return header, rows
}

func cellRows(cells []Cell) ([]string, [][]any) {
	header := []string{"category", "method", "image AUROC", "pixel AUROC", "AUPRO", "fit s", "ms/image", "peak MiB", "note"}
	var rows [][]any
	for _, c := range cells {
		rows = append(rows, []any{c.Category, c.Display, float64(c.ImageAUROC), float64(c.PixelAUROC), float64(c.AUPRO),
			fmt.Sprintf("%.1f", c.FitSeconds), fmt.Sprintf("%.1f", c.MsPerImage), fmt.Sprintf("%.0f", c.PeakMiB), c.Error})
	}
	return header, rows
}

// LeaderboardMarkdown renders the standings and every cell as Markdown tables.
func LeaderboardMarkdown(cells []Cell) string {
	var b strings.Builder
	md := func(header []string, rows [][]any) {
		b.WriteString("| " + strings.Join(header, " | ") + " |\n|")
		for range header {
			b.WriteString("---|")
		}
		b.WriteString("\n")
		for _, r := range rows {
			parts := make([]string, len(r))
			for i, c := range r {
				parts[i] = strings.ReplaceAll(cell(c), "|", "\\|")
			}
			b.WriteString("| " + strings.Join(parts, " | ") + " |\n")
		}
	}
	b.WriteString("## Leaderboard (means over categories)\n\n")
	md(standingRows(cells))
	b.WriteString("\n## Every cell\n\n")
	md(cellRows(cells))
	if len(cells) > 0 {
		fmt.Fprintf(&b, "\nPeak memory: %s. Time per image after a warm-up batch (graph compilation excluded).\n", cells[0].PeakSource)
	}
	return b.String()
}

func leaderboardHTML(cells []Cell) ([]byte, error) {
	p := newPage("gonomaly leaderboard")
	p.para(fmt.Sprintf("%d cells (methods x categories). Image AUROC, pixel AUROC and AUPRO as in the papers; fit time, time per image after a warm-up batch, and peak resident memory per cell.", len(cells)))
	p.h2("Standings")
	p.table(standingRows(cells))
	if c, err := SpeedAccuracyChart(cells); err == nil {
		if err := addChart(p, c, "accuracy against time per image", "Mean image AUROC against mean milliseconds per image (log scale): the survey's speed/accuracy picture."); err != nil {
			return nil, err
		}
	}
	seen := map[string]bool{}
	for _, c := range cells {
		if seen[c.Category] {
			continue
		}
		seen[c.Category] = true
		if ch, err := ROCChart(cells, c.Category); err == nil {
			if err := addChart(p, ch, "ROC curves on "+c.Category, "Image-level ROC curves of every method on "+c.Category+"."); err != nil {
				return nil, err
			}
		}
	}
	p.h2("Every cell")
	p.table(cellRows(cells))
	return p.done(), nil
}
