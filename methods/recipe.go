package methods

import (
	"bytes"
	"encoding/json"
	"reflect"
)

// Recipe returns what decides how d trains and scores: its method name and its whole configuration
// (every field of the value its Config method returns, method-specific ones included) as JSON. ok is
// false when d has no Config method or its configuration does not marshal.
func Recipe(d Detector) (recipe []byte, ok bool) {
	if d == nil {
		return nil, false
	}
	m := reflect.ValueOf(d).MethodByName("Config")
	if !m.IsValid() || m.Type().NumIn() != 0 || m.Type().NumOut() != 1 {
		return nil, false
	}
	cfg, err := json.Marshal(m.Call(nil)[0].Interface())
	if err != nil {
		return nil, false
	}
	out, err := json.Marshal(struct {
		Method string          `json:"method"`
		Config json.RawMessage `json:"config"`
	}{d.Name(), cfg})
	return out, err == nil
}

// SameRecipe reports whether a and b are the same method with the same configuration, field for field:
// whether a detector saved earlier (a) is the one that b's configuration would fit. Notebooks and scripts
// reuse a saved fit only then, so that an edited learning rate or epoch count is never answered with a
// stale model. False when either recipe cannot be read.
func SameRecipe(a, b Detector) bool {
	ra, ok1 := Recipe(a)
	rb, ok2 := Recipe(b)
	return ok1 && ok2 && bytes.Equal(ra, rb)
}
