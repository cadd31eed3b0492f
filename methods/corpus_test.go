package methods

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWriteFuzzCorpus writes FuzzParseManifest's committed seed corpus,
// testdata/fuzz/FuzzParseManifest, when GONOMALY_WRITE_CORPUS=1 (otherwise it checks the corpus is
// there): manifests an edited or damaged checkpoint would hold, each a case `go test` then runs through
// FuzzParseManifest. Run `GONOMALY_WRITE_CORPUS=1 go test ./methods -run TestWriteFuzzCorpus` to
// regenerate it.
func TestWriteFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzParseManifest")
	if os.Getenv("GONOMALY_WRITE_CORPUS") != "1" {
		if entries, err := os.ReadDir(dir); err != nil || len(entries) == 0 {
			t.Fatalf("no seed corpus in %s (%v): regenerate it with GONOMALY_WRITE_CORPUS=1", dir, err)
		}
		return
	}
	seeds := map[string]string{
		"null-config":      `{"method":"patchcore","format_version":1,"config":null}`,
		"no-method":        `{"format_version":1,"config":{}}`,
		"negative-size":    `{"method":"rd","tensors_size":-5}`,
		"negative-input":   `{"method":"rd","image_h":-1}`,
		"wrong-types":      `{"method":7,"format_version":"1"}`,
		"bad-time":         `{"method":"pni","created":"yesterday"}`,
		"deep-nesting":     `{"method":"pni","config":` + strings.Repeat("[", 2000) + strings.Repeat("]", 2000) + `}`,
		"truncated":        `{"method":"cflow","config":{"image_si`,
		"not-an-object":    `["method","patchcore"]`,
		"invalid-utf8":     "{\"method\":\"\xff\xfe\"}",
		"huge-number":      `{"method":"rd","tensors_size":1e400}`,
		"trailing-garbage": `{"method":"rd"} trailing`,
		"backbone-edited":  `{"method":"patchcore","format_version":1,"config":{"backbone":"resnet34"},"backbone":"resnet18 (seeded random, seed 0)"}`,
		"duplicate-method": `{"method":"rd","method":""}`,
		"empty":            ``,
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range seeds {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
