// Package nb is what gonomaly notebooks import: the one quick-mode switch every notebook reads, a work
// folder that outlives GoNB's one-program-per-cell model, progress bars for long work, and a banner
// naming the compute backend.
//
// GoNB compiles and runs every cell as a fresh program: variables do not survive between cells, files
// do. Cells that make something expensive (features, checkpoints) save it under WorkDir, and later cells
// load it from there.
package nb

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/gonomaly/gonomaly/methods/compute"
)

// Environment variables read by this package.
const (
	// QuickEnv turns on quick mode when set to 1/true/yes/on: CPU presets and small sizes, for CI.
	QuickEnv = "GONOMALY_QUICK"
	// WorkEnv overrides the root of the work folder (default <repo>/out/work).
	WorkEnv = "GONOMALY_WORK"
	// RepoEnv is the repository root; `go run ./kernel setup` writes it into the kernel spec.
	RepoEnv = "GONOMALY_REPO"
)

// modulePath identifies the repository's go.mod when searching for the repository root.
const modulePath = "github.com/gonomaly/gonomaly"

// Quick reports whether notebooks should run in quick mode ($GONOMALY_QUICK set to 1, true, yes or on):
// CPU presets and small sizes, minutes on two cores. The default (unset) is the full experience.
// It is the one switch every notebook reads.
func Quick() bool {
	switch strings.ToLower(strings.TrimSpace(os.Getenv(QuickEnv))) {
	case "1", "t", "true", "y", "yes", "on":
		return true
	}
	return false
}

// Mode names the current mode for banners and file names: "quick" or "full".
func Mode() string {
	if Quick() {
		return "quick"
	}
	return "full"
}

// WorkDir returns the persistent folder name under the work root, creating it if needed, so that a later
// cell (a later program) finds what an earlier cell saved. name is a relative slash path such as
// "tour/features"; it must not be absolute nor climb out with "..".
//
// The root is $GONOMALY_WORK, else <repo>/out/work (the repository found through $GONOMALY_REPO, the
// current directory or this package's source location), else the user cache folder. Quick mode gets
// its own subtree ("quick/"), so small CI artefacts are never loaded by a full run. WorkDir panics with
// a clear message when the folder cannot be created: notebooks cannot continue without it.
func WorkDir(name string) string {
	dir, err := workDir(name)
	if err != nil {
		panic(err)
	}
	return dir
}

func workDir(name string) (string, error) {
	clean := filepath.Clean(filepath.FromSlash(name))
	if name == "" || filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("nb.WorkDir(%q): want a relative name inside the work folder", name)
	}
	root := WorkRoot()
	if Quick() {
		root = filepath.Join(root, "quick")
	}
	dir := filepath.Join(root, clean)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("nb.WorkDir(%q): %w (set $%s to a writable folder)", name, err, WorkEnv)
	}
	return dir, nil
}

// startDir is the working directory when the process started: a relative $GONOMALY_WORK is resolved
// against it, once, so that it names the same folder whatever the program does with its working
// directory later (`go run ./kernel exec` and `notebook` pass kernels an absolute one).
var startDir, _ = os.Getwd()

// WorkRoot returns the root of the work folders (see WorkDir), without creating it. A relative
// $GONOMALY_WORK is taken relative to the working directory the process started in.
func WorkRoot() string {
	if w := strings.TrimSpace(os.Getenv(WorkEnv)); w != "" {
		if !filepath.IsAbs(w) && startDir != "" {
			w = filepath.Join(startDir, w)
		}
		return w
	}
	if repo := RepoRoot(); repo != "" {
		return filepath.Join(repo, "out", "work")
	}
	if cache, err := os.UserCacheDir(); err == nil {
		return filepath.Join(cache, "gonomaly", "work")
	}
	return filepath.Join(os.TempDir(), "gonomaly-work")
}

// RepoRoot returns the gonomaly repository root: $GONOMALY_REPO, else the nearest parent of the current
// directory whose go.mod declares the gonomaly module, else the folder this package was compiled from.
// It returns "" when none is found.
func RepoRoot() string {
	if r := strings.TrimSpace(os.Getenv(RepoEnv)); r != "" {
		return r
	}
	if wd, err := os.Getwd(); err == nil {
		if r := findRepo(wd); r != "" {
			return r
		}
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		return findRepo(filepath.Dir(file))
	}
	return ""
}

// findRepo walks up from dir to the folder whose go.mod declares modulePath.
func findRepo(dir string) string {
	for {
		if isRepo(filepath.Join(dir, "go.mod")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

func isRepo(goMod string) bool {
	f, err := os.Open(goMod)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if mod, ok := strings.CutPrefix(line, "module "); ok {
			return strings.Trim(strings.TrimSpace(mod), `"`) == modulePath
		}
	}
	return false
}

// Banner prints one line naming the compute backend in use and the mode (quick or full), so every
// notebook's output records where its numbers came from.
func Banner() {
	fmt.Println(BannerText())
}

// BannerText is the line Banner prints.
func BannerText() string {
	mode := "full (set " + QuickEnv + "=1 for the quick CI sizes)"
	if Quick() {
		mode = "quick (" + QuickEnv + "=1: CPU presets, small sizes)"
	}
	c, err := compute.InUse()
	if err != nil {
		return fmt.Sprintf("gonomaly · compute backend: unavailable (%v) · mode: %s", err, mode)
	}
	return fmt.Sprintf("gonomaly · compute backend: %s [%s] · mode: %s", c.Description, c.Config, mode)
}
