package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gonomaly/gonomaly/datasets/synth"
	"github.com/gonomaly/gonomaly/methods/pipeline"
)

// TestCommandsEndToEnd runs fit, eval, predict and bench through the flag parsing, as a user would.
func TestCommandsEndToEnd(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	ds, err := synth.New("tile", synth.Options{Size: 64, Train: 10, TestNormal: 4, TestPerDefect: 1, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := synth.WriteMVTec(tmp, ds); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(tmp, "tile")
	cfg := filepath.Join(tmp, "tiny.json")
	if err := os.WriteFile(cfg, []byte(`{"image_size": 64, "weights": "random", "width_div": 4}`), 0o644); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(tmp, "model")
	steps := [][]string{
		{"fit", "-method", "patchcore", "-config", cfg, "-data", data, "-out", model, "-false-alarm", "0.1"},
		{"eval", "-model", model, "-data", data},
		{"predict", "-model", model, "-images", filepath.Join(data, "test"), "-out", filepath.Join(tmp, "pred"), "-threshold", "f1"},
		{"bench", "-methods", "patchcore", "-data", data, "-config", cfg, "-out", filepath.Join(tmp, "bench")},
	}
	for _, s := range steps {
		if err := run(ctx, s[0], s[1:]); err != nil {
			t.Fatalf("gonomaly %s: %v", strings.Join(s, " "), err)
		}
	}
	for _, f := range []string{
		filepath.Join(model, pipeline.ReportFile), filepath.Join(model, pipeline.MetricsFile),
		filepath.Join(tmp, "pred", pipeline.PredictionsFile), filepath.Join(tmp, "bench", pipeline.LeaderboardHTML),
	} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("missing output: %v", err)
		}
	}
	if err := run(ctx, "fit", []string{"-method", "nope", "-data", data, "-out", filepath.Join(tmp, "x")}); err == nil || !strings.Contains(err.Error(), "unknown method") {
		t.Errorf("fit with an unknown method: %v", err)
	}
	if err := run(ctx, "frobnicate", nil); err == nil {
		t.Error("an unknown command was accepted")
	}
}

// TestConfigCommand: `gonomaly config` prints a preset's whole configuration as JSON, method-specific
// fields included, and fit accepts that file back.
func TestConfigCommand(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	err = run(context.Background(), "config", []string{"-method", "patchcore"})
	os.Stdout = stdout
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(r)
	var cfg map[string]any
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatalf("config output is not JSON: %v\n%s", err, out)
	}
	if cfg["coreset_ratio"] == nil || cfg["image_size"] == nil {
		t.Errorf("config output lacks coreset_ratio or image_size: %s", out)
	}
	if _, err := pipeline.BuildDetector("patchcore", "cpu", out, nil); err != nil {
		t.Errorf("the printed config does not build: %v", err)
	}
	if err := run(context.Background(), "config", []string{"-method", "patchcore", "-preset", "huge"}); err == nil {
		t.Error("an unknown preset was accepted")
	}
}
