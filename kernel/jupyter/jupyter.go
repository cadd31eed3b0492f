// Package jupyter installs and drives the project's Jupyter side: Debian's Jupyter packages, the GoNB
// kernel (pinned, built from kernel/tools), the "gonomaly" kernel spec, headless notebook execution
// with per-cell failure reports, and a doctor that says what is missing.
//
// Jupyter runs on Debian's /usr/bin/python3 (override with $GONOMALY_PYTHON), never on whatever python3
// comes first on PATH: that is where apt installs jupyter-core, nbclient and nbconvert.
package jupyter

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

const (
	// KernelName is the Jupyter kernel spec name notebooks select in their metadata.
	KernelName = "gonomaly"
	// DisplayName is the kernel's name in Jupyter's menus.
	DisplayName = "Go (gonomaly)"
	// GoNBVersion is the pinned GoNB release (kernel/tools/go.mod requires the same).
	GoNBVersion = "v0.11.4"
	// ModulePath is the repository's Go module.
	ModulePath = "github.com/gonomaly/gonomaly"
	// PythonEnv overrides the Python interpreter that runs Jupyter.
	PythonEnv = "GONOMALY_PYTHON"
	// DefaultPython is Debian's interpreter, where apt installs Jupyter.
	DefaultPython = "/usr/bin/python3"
	// RepoEnv tells notebooks (kernel/nb) where the repository is; the kernel spec sets it.
	RepoEnv = "GONOMALY_REPO"
)

// AptPackages are the Debian packages the kernel needs: Jupyter's core, client, nbconvert and nbclient
// for executing notebooks, and the classic notebook server for the browser UI.
var AptPackages = []string{"jupyter-core", "jupyter-client", "jupyter-nbconvert", "python3-nbclient", "jupyter-notebook"}

// PipPackages are the same, for machines without apt (installed into the chosen Python).
var PipPackages = []string{"jupyter_core", "jupyter_client", "nbconvert", "nbclient", "nbformat", "notebook"}

// execModules are the Python modules `exec` needs; uiModule is needed only by `notebook`.
var (
	execModules = []string{"jupyter_core", "jupyter_client", "nbformat", "nbclient", "nbconvert"}
	uiModule    = "notebook"
)

// Python returns the interpreter that runs Jupyter: $GONOMALY_PYTHON, else /usr/bin/python3 when it
// exists, else python3 from PATH.
func Python() string {
	if p := strings.TrimSpace(os.Getenv(PythonEnv)); p != "" {
		return p
	}
	if _, err := os.Stat(DefaultPython); err == nil {
		return DefaultPython
	}
	if p, err := exec.LookPath("python3"); err == nil {
		return p
	}
	return DefaultPython
}

// pythonEnv is the environment for Jupyter's Python: the debugger's frozen-modules warning is noise.
func pythonEnv(extra ...string) []string {
	return append(append(absWorkEnv(os.Environ()), "PYDEVD_DISABLE_FILE_VALIDATION=1"), extra...)
}

// workEnv is kernel/nb's WorkEnv, the notebooks' work folder (not imported: kernel/nb brings GoMLX).
const workEnv = "GONOMALY_WORK"

// absWorkEnv resolves a relative $GONOMALY_WORK once, here, against the launcher's working directory:
// kernels and every cell's program (GoNB runs each in its own folder) then agree on one folder.
func absWorkEnv(env []string) []string {
	out := append([]string(nil), env...)
	for i, kv := range out {
		if w, ok := strings.CutPrefix(kv, workEnv+"="); ok && strings.TrimSpace(w) != "" && !filepath.IsAbs(w) {
			if abs, err := filepath.Abs(w); err == nil {
				out[i] = workEnv + "=" + abs
			}
		}
	}
	return out
}

// jupyterCmd builds `python -m jupyter args...`.
func jupyterCmd(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, Python(), append([]string{"-Xfrozen_modules=off", "-m", "jupyter"}, args...)...)
	cmd.Env = pythonEnv()
	return cmd
}

// output runs cmd and returns its stdout, with stderr folded into the error.
func output(cmd *exec.Cmd) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// missingModules returns which of mods the Jupyter Python cannot import.
func missingModules(ctx context.Context, mods ...string) []string {
	var missing []string
	for _, m := range mods {
		cmd := exec.CommandContext(ctx, Python(), "-c", "import "+m)
		cmd.Env = pythonEnv()
		if err := cmd.Run(); err != nil {
			missing = append(missing, m)
		}
	}
	return missing
}

// FindRepo returns the repository root: the nearest parent of dir whose go.mod declares ModulePath.
func FindRepo(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; {
		if mod, err := moduleOf(filepath.Join(d, "go.mod")); err == nil && mod == ModulePath {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("no go.mod declaring module %s in %s or its parents: run from inside the repository", ModulePath, dir)
		}
		d = parent
	}
}

func moduleOf(goMod string) (string, error) {
	f, err := os.Open(goMod)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if mod, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(mod), `"`), nil
		}
	}
	return "", errors.New(goMod + ": no module line")
}

// logf writes a line to w when w is not nil.
func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}

// Ready reports why notebooks cannot be executed on this machine (nil when they can): Jupyter's Python
// modules, the GoNB binary and the installed kernel spec are all checked, nothing is changed.
func Ready(ctx context.Context, repo string) error {
	if m := missingModules(ctx, execModules...); len(m) > 0 {
		return fmt.Errorf("%s cannot import %s", Python(), strings.Join(m, ", "))
	}
	bin, err := BinDir(ctx)
	if err != nil {
		return err
	}
	got, _, ok, err := InstalledKernelSpec(ctx)
	switch {
	case err != nil:
		return err
	case !ok:
		return fmt.Errorf("no %q kernel spec installed", KernelName)
	case !sameSpec(got, WantKernelSpec(ctx, repo, bin)):
		return fmt.Errorf("the installed %q kernel spec is not the one setup would install for %s", KernelName, repo)
	}
	if _, err := os.Stat(got.Argv[0]); err != nil {
		return fmt.Errorf("kernel binary: %w", err)
	}
	return nil
}
