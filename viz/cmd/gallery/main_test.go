package main

import (
	"bytes"
	"encoding/xml"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGalleryWritesEveryChart runs the whole gallery on a small synthetic category and checks each file:
// PNGs decode, have plausible sizes and are not blank; SVGs are well-formed; the table names every method.
func TestGalleryWritesEveryChart(t *testing.T) {
	dir := t.TempDir()
	if err := run(dir, "pill", 64, 3, 64); err != nil {
		t.Fatal(err)
	}
	charts := []string{"roc", "pr", "pro", "score_histogram", "overlay_turbo", "overlay_viridis", "overlay_inferno",
		"sample_grid", "flow_loglik_histogram", "flow_latent_density", "training_loss"}
	for _, name := range charts {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, name+".png"))
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("PNG: %v", err)
			}
			b := img.Bounds()
			if b.Dx() < 200 || b.Dy() < 200 || b.Dx() > 3000 || b.Dy() > 3000 {
				t.Errorf("PNG is %dx%d", b.Dx(), b.Dy())
			}
			// Not blank: many distinct colours (a chart has axes, text, curves; images have texture).
			colours := map[[3]uint32]bool{}
			for y := b.Min.Y; y < b.Max.Y; y += 2 {
				for x := b.Min.X; x < b.Max.X; x += 2 {
					r, g, bb, _ := img.At(x, y).RGBA()
					colours[[3]uint32{r >> 8, g >> 8, bb >> 8}] = true
				}
			}
			if len(colours) < 20 {
				t.Errorf("only %d distinct colours: blank picture?", len(colours))
			}
			svg, err := os.ReadFile(filepath.Join(dir, name+".svg"))
			if err != nil {
				t.Fatal(err)
			}
			dec := xml.NewDecoder(bytes.NewReader(svg))
			for {
				_, err := dec.Token()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("SVG not well-formed: %v", err)
				}
			}
		})
	}
	roc, _ := os.ReadFile(filepath.Join(dir, "roc.svg"))
	if !strings.Contains(string(roc), "mean-image L2 distance (AUROC 0.") {
		t.Error("ROC legend lacks the AUROC of the mean-image baseline")
	}
	table, err := os.ReadFile(filepath.Join(dir, "metrics_table.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"mean-image L2 distance", "per-pixel z-score", "AUPRO@0.3", "<table"} {
		if !strings.Contains(string(table), b) {
			t.Errorf("metrics table lacks %q", b)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "metrics_table.txt")); err != nil {
		t.Error(err)
	}
	perDefect, err := os.ReadFile(filepath.Join(dir, "metrics_per_defect.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"scratch", "crack", "hole"} {
		if !strings.Contains(string(perDefect), d) {
			t.Errorf("per-defect table lacks %q:\n%s", d, perDefect)
		}
	}
}

func TestGalleryBadCategory(t *testing.T) {
	if err := run(t.TempDir(), "no-such-category", 64, 1, 64); err == nil {
		t.Fatal("unknown category accepted")
	}
}
