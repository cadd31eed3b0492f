package methods

import (
	"strings"
	"testing"

	"github.com/gonomaly/gonomaly/internal/fuzzcorpus"
)

// TestWriteFuzzCorpus writes FuzzParseManifest's committed seed corpus,
// testdata/fuzz/FuzzParseManifest, when GONOMALY_WRITE_CORPUS=1 (otherwise it checks the corpus is
// there): manifests an edited or damaged checkpoint would hold, each a case `go test` then runs through
// FuzzParseManifest. Run `GONOMALY_WRITE_CORPUS=1 go test ./methods -run TestWriteFuzzCorpus` to
// regenerate it.
func TestWriteFuzzCorpus(t *testing.T) {
	fuzzcorpus.Maintain(t, "FuzzParseManifest", func() map[string][]byte {
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
		out := make(map[string][]byte, len(seeds))
		for name, data := range seeds {
			out[name] = []byte(data)
		}
		return out
	})
}
