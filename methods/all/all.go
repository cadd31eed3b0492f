// Package all registers every method of the gonomaly catalogue: import it for its side effect
// (import _ "github.com/gonomaly/gonomaly/methods/all") before calling methods.Catalogue or methods.Load.
package all

import (
	// Memory bank family.
	_ "github.com/gonomaly/gonomaly/methods/patchcore"
	_ "github.com/gonomaly/gonomaly/methods/pni"
	// Teacher-student family.
	_ "github.com/gonomaly/gonomaly/methods/rd"
	// One-class family.
	_ "github.com/gonomaly/gonomaly/methods/simplenet"
	// Distribution-map family.
	_ "github.com/gonomaly/gonomaly/methods/cflow"
	_ "github.com/gonomaly/gonomaly/methods/pyramidflow"
	// Reconstruction family.
	_ "github.com/gonomaly/gonomaly/methods/ae"
	_ "github.com/gonomaly/gonomaly/methods/draem"
	_ "github.com/gonomaly/gonomaly/methods/ganomaly"
	_ "github.com/gonomaly/gonomaly/methods/vitrec"
)
