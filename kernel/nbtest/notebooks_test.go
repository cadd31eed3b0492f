package nbtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gonomaly/gonomaly/kernel/jupyter"
)

// cellTimeout bounds each notebook cell in the tests; $GONOMALY_CELL_TIMEOUT (a Go duration) overrides.
func cellTimeout(t *testing.T) time.Duration {
	if s := os.Getenv("GONOMALY_CELL_TIMEOUT"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("GONOMALY_CELL_TIMEOUT=%q: %v", s, err)
		}
		return d
	}
	return 10 * time.Minute
}

func inCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// requireKernel returns the repository root, or skips loudly (fails in CI) when notebooks cannot run.
func requireKernel(t *testing.T) string {
	t.Helper()
	repo, err := jupyter.FindRepo(".")
	if err != nil {
		t.Fatal(err)
	}
	if err := jupyter.Ready(context.Background(), repo); err != nil {
		if inCI() {
			t.Fatalf("CI=true but notebooks cannot be executed: %v\n(run `go run ./kernel setup` before the tests; .ci/run does)", err)
		}
		msg := fmt.Sprintf("\n%s\nSKIPPING NOTEBOOK EXECUTION: %v\nNo notebook was run. Run `go run ./kernel setup`, then `go test ./kernel/nbtest`.\n%s",
			strings.Repeat("!", 78), err, strings.Repeat("!", 78))
		fmt.Fprintln(os.Stderr, msg)
		// `go test ./...` hides the output of passing and skipped packages: tell the person at the
		// terminal directly too.
		if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
			fmt.Fprintln(tty, "kernel/nbtest:"+msg)
			tty.Close()
		}
		t.Skip(msg)
	}
	return repo
}

// logWriter sends exec's per-cell lines to the test log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestNotebooks executes every notebook under notebooks/ in quick mode and checks that no cell failed
// and that each notebook showed the displays it promises in metadata.gonomaly.displays.
func TestNotebooks(t *testing.T) {
	repo := requireKernel(t)
	paths, err := jupyter.FindNotebooks(filepath.Join(repo, "notebooks"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatalf("no notebooks under %s", filepath.Join(repo, "notebooks"))
	}
	out := filepath.Join(repo, "out", "nbtest")
	for _, p := range paths {
		name := filepath.Base(p)
		t.Run(strings.TrimSuffix(name, ".ipynb"), func(t *testing.T) {
			src, err := jupyter.ReadNotebook(p)
			if err != nil {
				t.Fatal(err)
			}
			if src.Metadata.KernelSpec.Name != jupyter.KernelName {
				t.Errorf("%s: metadata.kernelspec.name = %q, want %q (the browser would pick another kernel)",
					name, src.Metadata.KernelSpec.Name, jupyter.KernelName)
			}
			if len(src.Metadata.Gonomaly.Displays) == 0 {
				t.Errorf("%s: metadata.gonomaly.displays is empty: every notebook promises its pictures and tables, e.g. {\"png\": 2, \"table\": 1}", name)
			}
			r, err := jupyter.Execute(context.Background(), p, jupyter.ExecOptions{
				OutDir: out, CellTimeout: cellTimeout(t), Quick: true, Log: logWriter{t},
			})
			if r != nil {
				t.Logf("%s: %s, %d code cells, displays %v, executed copy %s", name, r.Duration.Round(100*time.Millisecond), len(r.Cells), r.Displays, r.Executed)
			}
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestHarnessCatchesFailures runs the fixture notebooks of kernel/jupyter/testdata live: the good one
// must pass, and each broken one must fail naming the cell and the kind of failure.
func TestHarnessCatchesFailures(t *testing.T) {
	repo := requireKernel(t)
	dir := filepath.Join(repo, "kernel", "jupyter", "testdata")
	out := t.TempDir()
	for _, tc := range []struct {
		notebook string
		cell     int // 0: must pass
		kind     string
	}{
		{"ok", 0, ""},
		{"compile_error", 3, "error"},
		{"panic", 3, "panic"},
		{"exit_code", 3, "exit status"},
		{"shell_fail", 3, "exit status"},
		{"missing_display", 0, "displays"},
	} {
		t.Run(tc.notebook, func(t *testing.T) {
			r, err := jupyter.Execute(context.Background(), filepath.Join(dir, tc.notebook+".ipynb"),
				jupyter.ExecOptions{OutDir: out, CellTimeout: 5 * time.Minute, Quick: true})
			if r == nil {
				t.Fatalf("no result: %v", err)
			}
			switch {
			case tc.kind == "":
				if err != nil {
					t.Fatalf("want success, got %v", err)
				}
				if r.Displays["png"] != 1 || r.Displays["table"] != 1 {
					t.Errorf("displays %v, want the fixture's png and table", r.Displays)
				}
			case tc.kind == "displays":
				if err == nil || len(r.MissingDisplays) != 1 || len(r.Failures) != 0 {
					t.Fatalf("want only a missing-display failure, got err %v, failures %v", err, r.Failures)
				}
			default:
				if err == nil || len(r.Failures) != 1 {
					t.Fatalf("want one failure, got err %v, failures %v", err, r.Failures)
				}
				f := r.Failures[0]
				if f.Cell != tc.cell || f.Kind != tc.kind {
					t.Errorf("failure in cell %d of kind %q, want cell %d of kind %q: %v", f.Cell, f.Kind, tc.cell, tc.kind, f)
				}
				if !strings.Contains(err.Error(), tc.notebook+".ipynb") || !strings.Contains(err.Error(), fmt.Sprintf("cell %d", tc.cell)) {
					t.Errorf("error %q does not name the notebook and cell", err)
				}
			}
		})
	}
}
