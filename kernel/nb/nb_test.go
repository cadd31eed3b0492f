package nb

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gonomaly/gonomaly/methods"
)

func TestQuick(t *testing.T) {
	for _, tc := range []struct {
		env  string
		want bool
	}{{"", false}, {"0", false}, {"false", false}, {"no", false}, {"1", true}, {"true", true}, {" YES ", true}, {"on", true}} {
		t.Setenv(QuickEnv, tc.env)
		if got := Quick(); got != tc.want {
			t.Errorf("%s=%q: Quick() = %v, want %v", QuickEnv, tc.env, got, tc.want)
		}
	}
}

func TestWorkDir(t *testing.T) {
	root := t.TempDir()
	t.Setenv(WorkEnv, root)
	t.Setenv(QuickEnv, "")
	full := WorkDir("tour/features")
	if full != filepath.Join(root, "tour", "features") {
		t.Errorf("WorkDir full = %s", full)
	}
	if st, err := os.Stat(full); err != nil || !st.IsDir() {
		t.Errorf("WorkDir did not create %s: %v", full, err)
	}
	t.Setenv(QuickEnv, "1")
	if quick := WorkDir("tour/features"); quick != filepath.Join(root, "quick", "tour", "features") {
		t.Errorf("WorkDir quick = %s, want it under %s/quick", quick, root)
	}
	for _, bad := range []string{"", "/etc", "..", "../x", "a/../../x"} {
		if _, err := workDir(bad); err == nil {
			t.Errorf("workDir(%q) succeeded, want an error", bad)
		}
	}
}

func TestRepoRoot(t *testing.T) {
	t.Setenv(RepoEnv, "")
	root := RepoRoot()
	if root == "" || !isRepo(filepath.Join(root, "go.mod")) {
		t.Fatalf("RepoRoot() = %q, want the gonomaly checkout", root)
	}
	t.Setenv(WorkEnv, "")
	if got := WorkRoot(); got != filepath.Join(root, "out", "work") {
		t.Errorf("WorkRoot() = %s, want %s/out/work", got, root)
	}
	t.Setenv(RepoEnv, "/somewhere")
	if got := RepoRoot(); got != "/somewhere" {
		t.Errorf("RepoRoot() with %s = %s", RepoEnv, got)
	}
	if findRepo(t.TempDir()) != "" {
		t.Errorf("findRepo(temp dir) found a repository")
	}
}

func TestTerminalProgress(t *testing.T) {
	var buf bytes.Buffer
	report := TerminalProgress(&buf, false)
	for i := 0; i <= 20; i++ {
		report(methods.Event{Task: "extract", Done: i, Total: 20, Elapsed: time.Duration(i) * time.Second,
			Metrics: map[string]float64{"loss": 0.5}, Finished: i == 20})
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	// Non-live output: a line per 10% step that got through the redraw limit, and always the last.
	if len(lines) < 2 || len(lines) > 11 {
		t.Fatalf("got %d lines, want 2..11:\n%s", len(lines), buf.String())
	}
	last := lines[len(lines)-1]
	for _, want := range []string{"extract [########################] 20/20 100% 0:20", "loss=0.5", "done"} {
		if !strings.Contains(last, want) {
			t.Errorf("last line %q lacks %q", last, want)
		}
	}
	if !strings.Contains(lines[0], "0/20   0%") {
		t.Errorf("first line %q, want the 0%% state", lines[0])
	}

	buf.Reset()
	live := TerminalProgress(&buf, true)
	live(methods.Event{Task: "fit", Done: 1, Total: 4, Elapsed: 3 * time.Second})
	live(methods.Event{Task: "fit", Done: 4, Total: 4, Elapsed: 12 * time.Second, Finished: true})
	out := buf.String()
	if !strings.HasPrefix(out, "\r") || !strings.Contains(out, "eta 0:09") || !strings.HasSuffix(out, "done\n") {
		t.Errorf("live output %q: want \\r redraws, an ETA and a final newline", out)
	}
}

func TestStatusUnknownTotal(t *testing.T) {
	s := status(methods.Event{Task: "scan", Done: 7, Elapsed: 3723 * time.Second})
	if s != "7 1:02:03" {
		t.Errorf("status = %q, want \"7 1:02:03\"", s)
	}
}

func TestBannerText(t *testing.T) {
	t.Setenv(QuickEnv, "1")
	b := BannerText()
	if !strings.Contains(b, "compute backend:") || !strings.Contains(b, "mode: quick") {
		t.Errorf("BannerText() = %q", b)
	}
}
