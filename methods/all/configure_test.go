package all_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/gonomaly/gonomaly/methods"
)

// configOf returns a detector's configuration as decoded JSON (methods.Recipe).
func configOf(t *testing.T, d methods.Detector) map[string]any {
	t.Helper()
	raw, ok := methods.Recipe(d)
	if !ok {
		t.Fatalf("%s: no recipe", d.Name())
	}
	var r struct {
		Config map[string]any `json:"config"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	return r.Config
}

// TestConfigureReachesEveryField: every catalogue method registers Configure, and a JSON config sets
// its own fields (not only the shared Settings): for each method, some numeric field of its own, changed
// in the JSON, is changed in the built detector's configuration; a shared field is too; an unknown name
// is refused with the method's field list.
func TestConfigureReachesEveryField(t *testing.T) {
	shared := methods.JSONFields(methods.Settings{})
	for _, e := range methods.Catalogue() {
		t.Run(e.Name, func(t *testing.T) {
			if e.Configure == nil {
				t.Fatal("no Configure registered")
			}
			base, err := methods.Configure(e.Name, methods.PresetCPU, nil, tiny)
			if err != nil {
				t.Fatal(err)
			}
			cfg := configOf(t, base)
			keys := make([]string, 0, len(cfg))
			for k := range cfg {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			changed := ""
			for _, k := range keys {
				v, ok := cfg[k].(float64)
				if !ok || slices.Contains(shared, k) {
					continue
				}
				want := v * 2
				if v == 0 {
					want = 1
				}
				raw, _ := json.Marshal(map[string]any{k: want, "seed": 7})
				d, err := methods.Configure(e.Name, methods.PresetCPU, raw, tiny)
				if err != nil {
					continue // a value this field does not take (a power of two, a bound): try another
				}
				got := configOf(t, d)
				if got[k] != want || got["seed"] != float64(7) {
					t.Fatalf("config {%q: %v, seed: 7} built %v = %v, seed %v", k, want, k, got[k], got["seed"])
				}
				changed = k
				break
			}
			if changed == "" {
				t.Fatalf("no field of its own could be set through Configure (fields: %v)", keys)
			}
			_, err = methods.Configure(e.Name, methods.PresetCPU, []byte(`{"learning_rat": 0.1}`), tiny)
			if err == nil || !strings.Contains(err.Error(), "learning_rat") || !strings.Contains(err.Error(), "image_size") {
				t.Errorf("a misspelt field: %v; want an error naming it and listing the fields", err)
			}
		})
	}
}

// TestTrainingMethodsResume: every catalogue method that trains implements methods.Resumable, so that
// gonomaly fit checkpoints it and resumes after Ctrl-C (each package's tests cover its resumption), except
// PNI, whose training (a small MLP over cached features, minutes at most) keeps no checkpoint.
func TestTrainingMethodsResume(t *testing.T) {
	for _, e := range methods.Catalogue() {
		if !e.Trains || e.Name == "pni" {
			continue
		}
		d, err := methods.Build(e.Name, methods.PresetCPU, tiny)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := d.(methods.Resumable); !ok {
			t.Errorf("%s trains but does not implement methods.Resumable", e.Name)
		}
	}
}
