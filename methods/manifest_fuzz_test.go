package methods

import (
	"encoding/json"
	"testing"
)

// FuzzParseManifest: whatever the bytes of manifest.json, ParseManifest returns a manifest or an
// error, never panics, and what it accepts names a method and survives a JSON round trip. The seed
// corpus is under testdata/fuzz/FuzzParseManifest; `go test` runs it, `go test -fuzz` explores.
func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`{"method":"patchcore","format_version":1,"config":{"image_size":64},"backbone":"resnet18 (random)","image_h":64,"image_w":64,"channels":3,"created":"2026-01-01T00:00:00Z","tensors_sha256":"00","tensors_size":10}`))
	f.Add([]byte(`{"method":"rd","config":null}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := ParseManifest(raw)
		if err != nil {
			return
		}
		if m.Method == "" || m.TensorsSize < 0 {
			t.Fatalf("accepted %+v", m)
		}
		js, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("accepted manifest does not marshal: %v", err)
		}
		back, err := ParseManifest(js)
		if err != nil || back.Method != m.Method || back.TensorsSHA256 != m.TensorsSHA256 {
			t.Fatalf("round trip: %+v, %v", back, err)
		}
	})
}
