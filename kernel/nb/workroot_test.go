package nb

import (
	"path/filepath"
	"testing"
)

// TestRelativeWorkEnvIsResolvedOnce: a relative $GONOMALY_WORK names one folder, relative to where the
// process started, even after the working directory changes (issue 15, item 8).
func TestRelativeWorkEnvIsResolvedOnce(t *testing.T) {
	t.Setenv(WorkEnv, filepath.Join("rel", "work"))
	want := filepath.Join(startDir, "rel", "work")
	if got := WorkRoot(); got != want {
		t.Fatalf("WorkRoot = %s, want %s", got, want)
	}
	t.Chdir(t.TempDir())
	if got := WorkRoot(); got != want {
		t.Fatalf("after a chdir WorkRoot = %s, want %s", got, want)
	}
}
