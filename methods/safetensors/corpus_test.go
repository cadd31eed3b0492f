package safetensors

import (
	"encoding/binary"
	"testing"

	"github.com/gonomaly/gonomaly/internal/fuzzcorpus"
)

// TestWriteFuzzCorpus writes FuzzDecode's committed seed corpus, testdata/fuzz/FuzzDecode, when
// GONOMALY_WRITE_CORPUS=1 (otherwise it checks the corpus is there): headers a hostile file would use,
// each a case `go test` then runs through FuzzDecode. Run
// `GONOMALY_WRITE_CORPUS=1 go test ./methods/safetensors -run TestWriteFuzzCorpus` to regenerate it.
func TestWriteFuzzCorpus(t *testing.T) {
	fuzzcorpus.Maintain(t, "FuzzDecode", func() map[string][]byte {
		lenOnly := make([]byte, 8)
		binary.LittleEndian.PutUint64(lenOnly, 1<<62)
		nanF16 := []byte{0x00, 0x7e, 0x00, 0x7c} // NaN, +Inf
		seeds := map[string][]byte{
			"huge-header-length": lenOnly,
			"overlapping":        build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8)),
			"offsets-past-end":   build(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, make([]byte, 8)),
			"shape-mismatch":     build(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, make([]byte, 8)),
			"negative-shape":     build(`{"a":{"dtype":"F32","shape":[-1,2],"data_offsets":[0,8]}}`, make([]byte, 8)),
			"overflowing-shape":  build(`{"a":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,0]}}`, nil),
			"unknown-dtype":      build(`{"a":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}`, make([]byte, 8)),
			"f16-nan-inf":        build(`{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`, nanF16),
			"metadata-not-map":   build(`{"__metadata__":[1,2]}`, nil),
			"duplicate-keys":     build(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}`, make([]byte, 2)),
			"empty-name":         build(`{"":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, []byte{1}),
			"header-not-json":    build(`{"a":`, nil),
		}
		return seeds
	})
}
