package jupyter

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The executed copies in testdata/executed were recorded by `go run ./kernel exec` from the fixtures
// in testdata (made by testdata/make_fixtures.py); these tests check the failure and display detection
// on them without needing Jupyter.
func TestFailures(t *testing.T) {
	for _, tc := range []struct {
		notebook string
		cell     int    // 0: no failure expected
		kind     string // Failure.Kind
		evidence string // must appear in the message
	}{
		{"ok", 0, "", ""},
		{"missing_display", 0, "", ""},
		{"compile_error", 3, "error", "undefined: undefinedThing"},
		{"panic", 3, "panic", "assignment to entry in nil map"},
		{"exit_code", 3, "exit status", "bad input"},
		{"shell_fail", 3, "exit status", "exit status 1"}, // nbclient reports this cell as ok
	} {
		t.Run(tc.notebook, func(t *testing.T) {
			nb, err := ReadNotebook(filepath.Join("testdata", "executed", tc.notebook+".ipynb"))
			if err != nil {
				t.Fatal(err)
			}
			fs := Failures(nb)
			if tc.cell == 0 {
				if len(fs) != 0 {
					t.Fatalf("Failures = %v, want none", fs)
				}
				return
			}
			if len(fs) != 1 {
				t.Fatalf("Failures = %v, want exactly one in cell %d", fs, tc.cell)
			}
			f := fs[0]
			if f.Cell != tc.cell || f.Kind != tc.kind || !strings.Contains(f.Message, tc.evidence) {
				t.Errorf("Failure = cell %d kind %q message %q; want cell %d kind %q containing %q",
					f.Cell, f.Kind, f.Message, tc.cell, tc.kind, tc.evidence)
			}
		})
	}
}

func TestDisplays(t *testing.T) {
	nb, err := ReadNotebook(filepath.Join("testdata", "executed", "ok.ipynb"))
	if err != nil {
		t.Fatal(err)
	}
	got := Displays(nb)
	// One PNG, one HTML table, and the final state of the progress bar (HTML, not a table).
	if got["png"] != 1 || got["table"] != 1 || got["html"] != 2 || got["svg"] != 0 {
		t.Errorf("Displays = %v, want png 1, table 1, html 2, svg 0", got)
	}
	if m := MissingDisplays(map[string]int{"png": 1, "table": 1}, got); len(m) != 0 {
		t.Errorf("MissingDisplays = %v, want none", m)
	}
	m := MissingDisplays(map[string]int{"png": 2, "svg": 1, "movie": 1}, got)
	if len(m) != 3 || !strings.Contains(m[0], "unknown display kind \"movie\"") ||
		!strings.Contains(m[1], "at least 2 png") || !strings.Contains(m[2], "at least 1 svg") {
		t.Errorf("MissingDisplays = %q, want unknown movie, short png, short svg", m)
	}
}

func TestDisplaysEmbedded(t *testing.T) {
	// Charts embedded in HTML count as images: GoNB's DisplaySVG sends SVG inside HTML.
	nb := &Notebook{Cells: []Cell{{Type: "code", Outputs: []Output{
		{Type: "display_data", Data: map[string]json.RawMessage{"text/html": json.RawMessage(`["<div><svg a>", "</svg></div>"]`)}},
		{Type: "execute_result", Data: map[string]json.RawMessage{"text/html": json.RawMessage(`"<img src=\"data:image/png;base64,xx\"><TABLE>"`)}},
		{Type: "stream", Name: "stdout", Text: "<table> printed text is not a display"},
	}}}}
	got := Displays(nb)
	if got["svg"] != 1 || got["png"] != 1 || got["table"] != 1 || got["html"] != 2 {
		t.Errorf("Displays = %v, want svg 1, png 1, table 1, html 2", got)
	}
}

func TestTextUnmarshal(t *testing.T) {
	for _, in := range []string{`"a\nb"`, `["a\n", "b"]`} {
		var x text
		if err := json.Unmarshal([]byte(in), &x); err != nil || x != "a\nb" {
			t.Errorf("unmarshal %s = %q, %v; want \"a\\nb\"", in, x, err)
		}
	}
	var x text
	if err := json.Unmarshal([]byte(`3`), &x); err == nil {
		t.Errorf("unmarshal 3: want an error")
	}
}

func TestReadNotebookBadInput(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"garbage.ipynb": "{not json", "v3.ipynb": `{"nbformat": 3, "cells": []}`} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadNotebook(p); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("ReadNotebook(%s) error = %v, want one naming the file", name, err)
		}
	}
}

func TestRepoAndSpec(t *testing.T) {
	repo, err := FindRepo(".")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(repo, "kernel", "tools", "go.mod")); err != nil {
		t.Fatalf("FindRepo = %s, which has no kernel/tools/go.mod", repo)
	}
	if _, err := FindRepo(t.TempDir()); err == nil {
		t.Errorf("FindRepo(temp dir) succeeded, want an error")
	}
	gonb, tools, err := ToolVersions(repo)
	if err != nil || gonb != GoNBVersion || !strings.HasPrefix(tools, "v0.") {
		t.Errorf("ToolVersions = %q, %q, %v; want %s and an x/tools version", gonb, tools, err, GoNBVersion)
	}
	spec := WantKernelSpec(context.Background(), repo, "/opt/bin")
	argv := strings.Join(spec.Argv, " ")
	for _, want := range []string{"/opt/bin/gonb --kernel {connection_file}", "--go_work=" + repo, "--raw_error", "--logtostderr=false"} {
		if !strings.Contains(argv, want) {
			t.Errorf("kernel argv %q lacks %q", argv, want)
		}
	}
	if !strings.HasPrefix(spec.Env["PATH"], "/opt/bin:") || spec.Env[RepoEnv] != repo {
		t.Errorf("kernel env = %v, want PATH starting with /opt/bin and %s=%s", spec.Env, RepoEnv, repo)
	}
	other := spec
	other.Env = map[string]string{"PATH": spec.Env["PATH"] + ":/extra", RepoEnv: repo}
	if !sameSpec(other, spec) {
		t.Errorf("sameSpec: a longer PATH tail must not count as a different spec")
	}
	other.Env = map[string]string{"PATH": spec.Env["PATH"], RepoEnv: "/elsewhere"}
	if sameSpec(other, spec) {
		t.Errorf("sameSpec: another repository must count as a different spec")
	}
}
