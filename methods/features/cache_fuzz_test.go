package features

import (
	"errors"
	"os"
	"testing"
)

// FuzzCacheLoad feeds arbitrary bytes to the feature cache as an entry's file: Load must return the
// entry, nothing, or an error wrapping ErrCorruptEntry that names the file, and never panic or accept
// a set that fails Validate.
func FuzzCacheLoad(f *testing.F) {
	k := Key{Dataset: "fuzz", Split: "train", Items: "x", Backbone: "resnet18", Weights: "random (seed 1)", ImageH: 8, ImageW: 8, Config: Config{Dim: 2}}
	seedDir := f.TempDir()
	c := Cache{Dir: seedDir}
	good := &Set{N: 1, H: 1, W: 2, D: 2, Data: []float32{1, 2, 3, 4}}
	if err := c.Store(k, good); err != nil {
		f.Fatal(err)
	}
	raw, err := os.ReadFile(c.Path(k))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add(raw[:len(raw)/2])
	f.Add([]byte{})
	f.Add([]byte("not a safetensors file"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := Cache{Dir: t.TempDir()}
		if err := os.MkdirAll(c.Dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(c.Path(k), data, 0o644); err != nil {
			t.Fatal(err)
		}
		s, ok, err := c.Load(k)
		switch {
		case err != nil:
			if !errors.Is(err, ErrCorruptEntry) {
				t.Fatalf("error does not wrap ErrCorruptEntry: %v", err)
			}
		case !ok:
			t.Fatal("an existing file was reported as no entry")
		default:
			if verr := s.Validate(); verr != nil {
				t.Fatalf("accepted an invalid set: %v", verr)
			}
		}
	})
}
