// Command gonomaly runs any method of the catalogue on a folder of one's own images, with sub-commands
// a user of anomalib's command line recognises:
//
//	gonomaly methods                                          # the catalogue
//	gonomaly config -method rd > rd.json                      # a preset's whole configuration, to edit
//	gonomaly fit -method patchcore -data DIR -out MODEL       # fit (resumable where the method trains)
//	gonomaly predict -model MODEL -images DIR_OR_FILES -out DIR   # CSV + PNG map and overlay per image
//	gonomaly eval -model MODEL -data DIR                      # metrics.json + report.html
//	gonomaly bench -methods all -data synth:carpet,pill -out DIR  # leaderboard CSV, Markdown, HTML
//
// DIR is one MVTec-layout category (train/good, test/<defect>, ground_truth/<defect>) or, for fit, a
// plain folder of normal images. It lives beside evalbench in methods/cmd because, like it, it works on
// the whole catalogue (it imports methods/all), not on one method; the work itself is in
// methods/pipeline, which notebooks call directly. Ctrl-C stops cleanly: a training checkpoint is kept
// and the same fit command resumes, bench keeps its finished cells, and nothing is left half-written.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/gonomaly/gonomaly/kernel/nb"
	"github.com/gonomaly/gonomaly/methods"
	_ "github.com/gonomaly/gonomaly/methods/all"
	"github.com/gonomaly/gonomaly/methods/pipeline"
)

const usage = `usage: gonomaly <command> [flags]

commands:
  methods   list the catalogue's methods
  config    print a method's preset configuration as JSON (edit it, then fit -config FILE)
  fit       fit a method on a folder of normal images and store a model folder
  predict   score images with a model: predictions.csv, maps/*.png, overlays/*.png
  eval      evaluate a model on a labelled MVTec-layout folder: metrics.json, report.html
  bench     fit and evaluate many methods on many categories: leaderboard.{csv,md,html}

Run "gonomaly <command> -h" for a command's flags.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	live := false
	if st, err := os.Stderr.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
		live = true
	}
	ctx = methods.WithProgress(ctx, nb.TerminalProgress(os.Stderr, live))
	err := run(ctx, os.Args[1], os.Args[2:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gonomaly:", err)
		if ctx.Err() != nil {
			os.Exit(130)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, cmd string, args []string) error {
	switch cmd {
	case "methods":
		return listMethods()
	case "config":
		return printConfig(args)
	case "fit":
		return fit(ctx, args)
	case "predict":
		return predict(ctx, args)
	case "eval":
		return eval(ctx, args)
	case "bench":
		return bench(ctx, args)
	case "help", "-h", "-help", "--help":
		fmt.Print(usage)
		return nil
	}
	fmt.Fprint(os.Stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

// printConfig writes a method's preset configuration, every field, as indented JSON: the file fit -config
// takes, to edit.
func printConfig(args []string) error {
	fs := flag.NewFlagSet("config", flag.ContinueOnError)
	method := fs.String("method", "", "catalogue name of the method (gonomaly methods lists them)")
	preset := fs.String("preset", methods.PresetCPU, "preset: cpu or paper")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *method == "" {
		return errors.New("config: -method is required")
	}
	d, err := methods.Configure(*method, *preset, nil, nil)
	if err != nil {
		return err
	}
	raw, ok := methods.Recipe(d)
	if !ok {
		return fmt.Errorf("config: %s does not report its configuration", *method)
	}
	var r struct {
		Config json.RawMessage `json:"config"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, r.Config, "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err = os.Stdout.Write(out.Bytes())
	return err
}

func listMethods() error {
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tMETHOD\tFAMILY\tYEAR\tTRAINS\tPRESETS")
	for _, e := range methods.Catalogue() {
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%v\t%s\n", e.Name, e.Display, e.Family, e.Paper.Year, e.Trains, strings.Join(e.Presets, ","))
	}
	return w.Flush()
}

// readConfig reads the -config file (empty: none).
func readConfig(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return raw, nil
}

func fit(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("fit", flag.ContinueOnError)
	method := fs.String("method", "", "catalogue name of the method (gonomaly methods lists them)")
	preset := fs.String("preset", methods.PresetCPU, "preset: cpu or paper")
	config := fs.String("config", "", "JSON file laid over the preset's configuration: shared settings (image_size, backbone, weights, seed, feature_batch...) and the method's own fields (epochs, learning_rate...); `gonomaly config -method NAME` prints them all")
	data := fs.String("data", "", "MVTec-layout category folder or plain folder of normal images")
	out := fs.String("out", "", "model folder to write")
	val := fs.Float64("val", pipeline.DefaultValFraction, "fraction of the normal images held out for the threshold")
	far := fs.Float64("false-alarm", pipeline.DefaultFalseAlarmRate, "false-alarm rate on held-out normal images that sets the threshold")
	seed := fs.Uint64("seed", 0, "seed choosing the held-out images")
	if err := fs.Parse(args); err != nil {
		return err
	}
	raw, err := readConfig(*config)
	if err != nil {
		return err
	}
	if *val == 0 {
		*val = -1 // FitOptions: negative means none held out
	}
	m, err := pipeline.Fit(ctx, pipeline.FitOptions{Method: *method, Preset: *preset, Config: raw, Data: *data, Out: *out,
		ValFraction: *val, FalseAlarmRate: *far, Seed: *seed})
	if err != nil {
		return err
	}
	fmt.Println(m.Describe())
	fmt.Printf("model written to %s\n", *out)
	return nil
}

func predict(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("predict", flag.ContinueOnError)
	model := fs.String("model", "", "model folder written by fit")
	images := fs.String("images", "", "comma-separated image files or folders (walked recursively); more may follow the flags")
	out := fs.String("out", "", "output folder: predictions.csv, maps/, overlays/")
	threshold := fs.String("threshold", "normal", "normal (from normal images), f1 (after eval) or a number")
	noPictures := fs.Bool("no-pictures", false, "write the CSV only")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var paths []string
	for _, p := range strings.Split(*images, ",") {
		if p = strings.TrimSpace(p); p != "" {
			paths = append(paths, p)
		}
	}
	paths = append(paths, fs.Args()...)
	if *model == "" || len(paths) == 0 {
		return errors.New("predict: -model and -images are required")
	}
	m, err := pipeline.LoadModel(*model)
	if err != nil {
		return err
	}
	rows, err := pipeline.Predict(ctx, m, pipeline.PredictOptions{Images: paths, Out: *out, Threshold: *threshold, NoPictures: *noPictures})
	if err != nil {
		return err
	}
	flagged := 0
	for _, r := range rows {
		if r.Anomalous {
			flagged++
		}
	}
	fmt.Printf("%d images scored, %d flagged anomalous; results in %s\n", len(rows), flagged, *out)
	return nil
}

func eval(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	model := fs.String("model", "", "model folder written by fit")
	data := fs.String("data", "", "MVTec-layout category folder with test/good, test/<defect> and ground_truth/<defect>")
	out := fs.String("out", "", "folder for metrics.json and report.html (default: the model folder)")
	threshold := fs.String("threshold", "normal", "operating threshold of the report: normal, f1 or a number")
	examples := fs.Int("examples", 4, "images in each of the report's worst and best grids")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *model == "" || *data == "" {
		return errors.New("eval: -model and -data are required")
	}
	m, err := pipeline.LoadModel(*model)
	if err != nil {
		return err
	}
	ev, err := pipeline.Evaluate(ctx, m, pipeline.EvalOptions{Data: *data, Out: *out, Threshold: *threshold, Examples: *examples})
	if err != nil {
		return err
	}
	r := ev.Report
	fmt.Printf("image AUROC %.3f  pixel AUROC %.3f  AUPRO %.3f  image F1-max %.3f  image AP %.3f\n", r.ImageAUROC, r.PixelAUROC, r.AUPRO, r.ImageF1Max, r.ImageAP)
	fmt.Printf("at threshold %.6g (%s): precision %.3f recall %.3f\n", r.Threshold, ev.Metrics.ThresholdSource, r.Precision, r.Recall)
	fmt.Printf("wrote %s and %s\n", ev.JSONPath, ev.HTMLPath)
	return nil
}

func bench(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	list := fs.String("methods", "all", "all, or comma-separated catalogue names")
	data := fs.String("data", "synth", "synth, synth:cat1,cat2, an MVTec-layout root of categories, or one category folder")
	preset := fs.String("preset", methods.PresetCPU, "preset: cpu or paper")
	config := fs.String("config", "", "JSON file of shared settings laid over every method's preset")
	out := fs.String("out", "", "output folder: cells/, leaderboard.{csv,md,html}")
	train := fs.Int("train", 40, "synthetic normal training images per category")
	testNormal := fs.Int("test-normal", 16, "synthetic normal test images per category")
	perDefect := fs.Int("test-per-defect", 4, "synthetic test images per defect type")
	seed := fs.Uint64("seed", 1, "synthetic data seed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	raw, err := readConfig(*config)
	if err != nil {
		return err
	}
	cells, err := pipeline.Bench(ctx, pipeline.BenchOptions{Methods: strings.Split(*list, ","), Data: *data, Preset: *preset, Config: raw, Out: *out,
		Train: *train, TestNormal: *testNormal, TestPerDefect: *perDefect, Seed: *seed,
		Log: func(s string) { fmt.Fprintln(os.Stderr, s) }})
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("bench interrupted (%w): finished cells are kept in %s; run the same command again to continue", err, *out)
		}
		return err
	}
	fmt.Print(pipeline.LeaderboardMarkdown(cells))
	return nil
}
