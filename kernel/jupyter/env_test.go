package jupyter

import (
	"path/filepath"
	"regexp"
	"slices"
	"testing"
)

// TestWorkEnvMadeAbsolute: kernels get an absolute $GONOMALY_WORK, so every cell's program (each runs in
// its own folder) uses the same work folder (issue 15, item 8).
func TestWorkEnvMadeAbsolute(t *testing.T) {
	abs, _ := filepath.Abs("rel")
	got := absWorkEnv([]string{"A=1", "GONOMALY_WORK=rel", "GONOMALY_WORKX=y"})
	if want := []string{"A=1", "GONOMALY_WORK=" + abs, "GONOMALY_WORKX=y"}; !slices.Equal(got, want) {
		t.Errorf("absWorkEnv = %v, want %v", got, want)
	}
	if got := absWorkEnv([]string{"GONOMALY_WORK=/abs/w"}); got[0] != "GONOMALY_WORK=/abs/w" {
		t.Errorf("an absolute folder changed: %v", got)
	}
}

// TestNewToken: the notebook server gets a fresh 256-bit random token each time (issue 15, item 8).
func TestNewToken(t *testing.T) {
	a, err := newToken()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := newToken()
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(a) || a == b {
		t.Errorf("tokens %q, %q: want two different 64-digit hex strings", a, b)
	}
}
