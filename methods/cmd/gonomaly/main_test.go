package main

import (
	"context"
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
