package features

import (
	"bytes"
	"errors"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/gonomaly/gonomaly/methods/safetensors"
)

// TestCacheDamagedEntries: flipped data bytes, a damaged header and non-finite values are reported as
// a damaged entry naming the file (not "another key's features"), and GetOrCompute warns and
// recomputes instead of using them or failing (issue 15, item 5).
func TestCacheDamagedEntries(t *testing.T) {
	k := Key{Dataset: "toy", Split: "train", Items: "abc", Backbone: "resnet18", Weights: "random (seed 1)", ImageH: 8, ImageW: 8, Config: Config{Dim: 4}}
	good := &Set{N: 1, H: 2, W: 2, D: 4, Data: make([]float32, 16)}
	for i := range good.Data {
		good.Data[i] = float32(i) / 3
	}
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, c Cache)
		want   string
	}{
		{"flipped data byte", func(t *testing.T, c Cache) {
			raw, _ := os.ReadFile(c.Path(k))
			raw[len(raw)-5] ^= 0x40
			os.WriteFile(c.Path(k), raw, 0o644)
		}, "do not match their checksum"},
		{"damaged header", func(t *testing.T, c Cache) {
			raw, _ := os.ReadFile(c.Path(k))
			raw = bytes.Replace(raw, []byte("toy"), []byte("tox"), 1) // inside the key, in the header
			os.WriteFile(c.Path(k), raw, 0o644)
		}, "header does not match its key"},
		{"NaN with a valid checksum", func(t *testing.T, c Cache) {
			bad := append([]float32(nil), good.Data...)
			bad[5] = float32(math.NaN())
			err := safetensors.WriteFile(c.Path(k), map[string]safetensors.Tensor{
				tensorName: {DType: "F32", Shape: []int{1, 2, 2, 4}, Data: bad},
			}, map[string]string{metaKey: string(k.canonical()), metaSum: valuesDigest(bad)})
			if err != nil {
				t.Fatal(err)
			}
		}, "value 5 is NaN"},
		{"no checksum", func(t *testing.T, c Cache) {
			err := safetensors.WriteFile(c.Path(k), map[string]safetensors.Tensor{
				tensorName: {DType: "F32", Shape: []int{1, 2, 2, 4}, Data: good.Data},
			}, map[string]string{metaKey: string(k.canonical())})
			if err != nil {
				t.Fatal(err)
			}
		}, "no checksum"},
		{"garbage", func(t *testing.T, c Cache) { os.WriteFile(c.Path(k), []byte("garbage"), 0o644) }, "bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var warnings strings.Builder
			c := Cache{Dir: t.TempDir(), Warnings: &warnings}
			if err := c.Store(k, good); err != nil {
				t.Fatal(err)
			}
			if _, ok, err := c.Load(k); !ok || err != nil {
				t.Fatalf("the undamaged entry: %v, %v", ok, err)
			}
			tc.damage(t, c)
			_, ok, err := c.Load(k)
			if ok || !errors.Is(err, ErrCorruptEntry) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), c.Path(k)) && tc.name != "garbage" {
				t.Fatalf("Load of the damaged entry: %v, %v; want ErrCorruptEntry saying %q and naming the file", ok, err, tc.want)
			}
			computed := false
			s, hit, err := c.GetOrCompute(k, func() (*Set, error) { computed = true; return good, nil })
			if err != nil || hit || !computed || s != good {
				t.Fatalf("GetOrCompute: hit %v, computed %v, %v; want a recomputation", hit, computed, err)
			}
			if !strings.Contains(warnings.String(), "recomputing") {
				t.Errorf("no warning: %q", warnings.String())
			}
			if back, ok, err := c.Load(k); !ok || err != nil || back.Data[7] != good.Data[7] {
				t.Errorf("after the recomputation: %v, %v", ok, err)
			}
		})
	}
}
