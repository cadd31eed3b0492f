package jupyter

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestExecuteRefusesToOverwriteTheNotebook: `exec -out D D/x.ipynb` deleted the notebook it was asked
// to run (issue 15, item 6); it is refused before anything runs, and the notebook is untouched.
func TestExecuteRefusesToOverwriteTheNotebook(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "ok.ipynb"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	nb := filepath.Join(dir, "x.ipynb")
	if err := os.WriteFile(nb, src, 0o644); err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	rel, _ := filepath.Rel(wd, dir)
	for _, out := range []string{dir, rel, dir + "/./"} {
		_, err := Execute(context.Background(), nb, ExecOptions{OutDir: out})
		if err == nil || !strings.Contains(err.Error(), "would replace the notebook itself") || !strings.Contains(err.Error(), nb) {
			t.Errorf("Execute(%s, OutDir %s) = %v; want a refusal naming the notebook", nb, out, err)
		}
	}
	if got, err := os.ReadFile(nb); err != nil || string(got) != string(src) {
		t.Fatalf("the notebook was changed or removed: %v", err)
	}
}

// TestOutputNames: same-named notebooks of different folders get distinct output names; others keep
// their file name.
func TestOutputNames(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{[]string{"/r/notebooks/00_tour.ipynb", "/r/notebooks/01_memory.ipynb"}, []string{"00_tour", "01_memory"}},
		{[]string{"/r/a/x.ipynb", "/r/b/x.ipynb", "/r/y.ipynb"}, []string{"a__x", "b__x", "y"}},
		{[]string{"/r/a/c/x.ipynb", "/r/b/c/x.ipynb"}, []string{"a__c__x", "b__c__x"}},
		{[]string{"/r/a/x.ipynb", "/r/a/x.ipynb"}, []string{"x", "x"}},
	} {
		if got := OutputNames(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("OutputNames(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
