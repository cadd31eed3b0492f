//go:build unix

package methods

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestCheckpointFolderMode: a checkpoint folder gets the ordinary mode 0755 less the umask, like its
// files (0644 less the umask), not the 0700 of a temporary folder (issue 15, item 8).
func TestCheckpointFolderMode(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "ckpt")
	if err := saveGeneration(dir, 1); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != 0o755 {
		t.Errorf("checkpoint folder mode %v, want 0755", got)
	}
	fst, _ := os.Stat(filepath.Join(dir, ManifestFile))
	if got := fst.Mode().Perm(); got != 0o644 {
		t.Errorf("manifest mode %v, want 0644", got)
	}
}
