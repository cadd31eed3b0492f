package methods

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// Configurable returns the Build and Configure functions of a catalogue Entry for a method whose
// configuration type C embeds Settings (so that its JSON inlines the shared fields): preset gives C for a
// preset name, settings the Settings embedded in a C, and build the detector. Configure lays a JSON
// object over the preset's whole C, the method's own fields included, refusing unknown names.
func Configurable[C any](preset func(string) (C, error), settings func(*C) *Settings, build func(C) (Detector, error)) (
	func(preset string, edit func(*Settings)) (Detector, error),
	func(preset string, raw []byte, edit func(*Settings)) (Detector, error),
) {
	configure := func(p string, raw []byte, edit func(*Settings)) (Detector, error) {
		cfg, err := preset(p)
		if err != nil {
			return nil, err
		}
		if err := decodeOver(&cfg, raw); err != nil {
			return nil, err
		}
		if edit != nil {
			edit(settings(&cfg))
		}
		return build(cfg)
	}
	return func(p string, edit func(*Settings)) (Detector, error) { return configure(p, nil, edit) }, configure
}

// decodeOver decodes the JSON object raw over *cfg (nothing when raw is empty); an unknown field is an
// error listing the known ones, since a misspelt field silently ignored would fit something else than asked.
func decodeOver(cfg any, raw []byte) error {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(cfg); err != nil {
		return fmt.Errorf("config: %w (this method's fields: %s)", err, strings.Join(JSONFields(cfg), ", "))
	}
	if dec.More() {
		return fmt.Errorf("config: more than one JSON value (want one object)")
	}
	return nil
}

// JSONFields lists the JSON names of a struct's fields (v a struct or a pointer to one), embedded
// structs inlined as encoding/json does, sorted.
func JSONFields(v any) []string {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	var names []string
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			name, _, _ := strings.Cut(tag, ",")
			if name == "-" && tag == "-" {
				continue
			}
			if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
				walk(f.Type)
				continue
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			names = append(names, name)
		}
	}
	walk(t)
	slices.Sort(names)
	return names
}

// StandardPresets returns the preset lookup of a method with the two standard presets: paper() for
// PresetPaper, cpu() for PresetCPU, an error naming the method otherwise.
func StandardPresets[C any](method string, paper, cpu func() C) func(string) (C, error) {
	return func(p string) (C, error) {
		switch p {
		case PresetPaper:
			return paper(), nil
		case PresetCPU:
			return cpu(), nil
		}
		var zero C
		return zero, fmt.Errorf("%s: unknown preset %q", method, p)
	}
}
