package all_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gonomaly/gonomaly/datasets/synth"
	"github.com/gonomaly/gonomaly/methods"
)

// setKey sets every "key" of a decoded JSON value to v and reports how many it set.
func setKey(x any, key string, v any) int {
	n := 0
	switch x := x.(type) {
	case map[string]any:
		for k, e := range x {
			if k == key {
				x[k] = v
				n++
			} else {
				n += setKey(e, key, v)
			}
		}
	case []any:
		for _, e := range x {
			n += setKey(e, key, v)
		}
	}
	return n
}

// editConfig sets every key of a configuration to v and returns it as compact JSON.
func editConfig(t *testing.T, raw json.RawMessage, key string, v any) json.RawMessage {
	t.Helper()
	var c any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	if setKey(c, key, v) == 0 {
		t.Fatalf("no %q in the configuration %s", key, raw)
	}
	out, _ := json.Marshal(c)
	return out
}

// TestCheckpointRefusesOtherWeights: every method's Load refuses a checkpoint that would score
// differently from the model that wrote it (issue 15, item 3): an edited configuration (checksum), a
// null one, an edited backbone architecture, and a configuration whose backbone weights resolve to
// other values than the ones it was fitted with (here: another seed, the checksum recomputed, as when
// empty Weights resolve to cached pretrained weights on another machine).
func TestCheckpointRefusesOtherWeights(t *testing.T) {
	ctx := context.Background()
	ds, err := synth.New("tile", synth.Options{Size: 64, Train: 3, TestNormal: 1, TestPerDefect: 0, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range methods.Catalogue() {
		t.Run(e.Name, func(t *testing.T) {
			d, err := methods.Build(e.Name, methods.PresetCPU, tiny)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Fit(ctx, ds.Train); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(t.TempDir(), "ckpt")
			if err := d.Save(dir); err != nil {
				t.Fatal(err)
			}
			loaded, err := methods.Load(dir)
			if err != nil {
				t.Fatalf("the unaltered checkpoint: %v", err)
			}
			// The loaded detector has the recipe of a freshly built one (notebooks reuse a fit only then),
			// and not that of one built with any setting changed.
			again, err := methods.Build(e.Name, methods.PresetCPU, tiny)
			if err != nil {
				t.Fatal(err)
			}
			other, err := methods.Build(e.Name, methods.PresetCPU, func(s *methods.Settings) { tiny(s); s.Seed++ })
			if err != nil {
				t.Fatal(err)
			}
			if !methods.SameRecipe(loaded, again) || !methods.SameRecipe(d, loaded) {
				a, _ := methods.Recipe(loaded)
				b, _ := methods.Recipe(again)
				t.Errorf("SameRecipe(loaded, rebuilt) = false:\n loaded  %s\n rebuilt %s", a, b)
			}
			if methods.SameRecipe(loaded, other) {
				t.Errorf("SameRecipe with another seed = true")
			}
			path := filepath.Join(dir, methods.ManifestFile)
			orig, _ := os.ReadFile(path)
			// The top level is edited field by field, so that an untouched configuration keeps its bytes.
			edit := func(fn func(m map[string]json.RawMessage)) {
				var m map[string]json.RawMessage
				if err := json.Unmarshal(orig, &m); err != nil {
					t.Fatal(err)
				}
				fn(m)
				raw, _ := json.Marshal(m)
				if err := os.WriteFile(path, raw, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cases := []struct {
				name string
				fn   func(m map[string]json.RawMessage)
				want string
			}{
				{"config edited", func(m map[string]json.RawMessage) {
					m["config"] = editConfig(t, m["config"], "backbone", "resnet34")
				}, "altered"},
				{"config null", func(m map[string]json.RawMessage) { m["config"] = json.RawMessage("null") }, "no configuration"},
			}
			if d.(methods.Configured).Settings().Backbone == methods.NoBackbone {
				// No backbone, no weights to mismatch: a checkpoint claiming one is refused.
				cases = append(cases, struct {
					name string
					fn   func(m map[string]json.RawMessage)
					want string
				}{"backbone added", func(m map[string]json.RawMessage) { m["backbone_arch"] = json.RawMessage(`"resnet34"`) }, "resnet34"})
			} else {
				cases = append(cases, []struct {
					name string
					fn   func(m map[string]json.RawMessage)
					want string
				}{
					{"architecture edited", func(m map[string]json.RawMessage) { m["backbone_arch"] = json.RawMessage(`"resnet34"`) }, "fitted with backbone resnet34"},
					{"no weights hash", func(m map[string]json.RawMessage) { delete(m, "weights_sha256") }, "does not record its backbone's weights"},
					{"other weights", func(m map[string]json.RawMessage) {
						m["config"] = editConfig(t, m["config"], "backbone_seed", 12345)
						h := sha256.Sum256(m["config"])
						m["config_sha256"], _ = json.Marshal(hex.EncodeToString(h[:]))
					}, "would score differently"},
				}...)
			}
			for _, tc := range cases {
				edit(tc.fn)
				if _, err := methods.Load(dir); err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: Load = %v; want an error containing %q", tc.name, err, tc.want)
				}
			}
		})
	}
}
