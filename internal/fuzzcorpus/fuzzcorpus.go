// Package fuzzcorpus keeps the committed seed corpora of the project's fuzz tests (testdata/fuzz/<Fuzz
// target>, which `go test` runs as plain test cases): a test checks its corpus is there, and rewrites it
// from the package's seeds when GONOMALY_WRITE_CORPUS=1.
package fuzzcorpus

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Env is the variable that makes Maintain rewrite a corpus.
const Env = "GONOMALY_WRITE_CORPUS"

// Maintain fails t when target's corpus is missing or empty, or with GONOMALY_WRITE_CORPUS=1 writes
// seeds() there, one file per seed in go test's corpus format ([]byte inputs).
func Maintain(t testing.TB, target string, seeds func() map[string][]byte) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	if os.Getenv(Env) != "1" {
		if entries, err := os.ReadDir(dir); err != nil || len(entries) == 0 {
			t.Fatalf("no seed corpus in %s (%v): regenerate it with %s=1", dir, err, Env)
		}
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range seeds() {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
