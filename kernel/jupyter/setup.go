package jupyter

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
)

// Tool paths inside kernel/tools/go.mod.
const (
	gonbModule      = "github.com/janpfeifer/gonb"
	goimportsModule = "golang.org/x/tools"
)

// SetupOptions configures Setup.
type SetupOptions struct {
	// Repo is the repository root (see FindRepo).
	Repo string
	// Log receives one line per step saying what was found or done; may be nil.
	Log io.Writer
	// NoApt prints the manual installation steps instead of running apt-get, even as root.
	NoApt bool
}

// Setup installs what is missing, step by step, and says what it did: Jupyter (apt-get as root,
// otherwise it fails with the exact manual steps), GoNB and goimports built from kernel/tools into
// $GOBIN (or $GOPATH/bin), and the "gonomaly" kernel spec. Running it again changes nothing.
func Setup(ctx context.Context, opt SetupOptions) error {
	if err := setupJupyter(ctx, opt); err != nil {
		return err
	}
	bin, err := setupTools(ctx, opt)
	if err != nil {
		return err
	}
	return setupKernelSpec(ctx, opt, bin)
}

// setupJupyter makes sure the Jupyter Python modules import.
func setupJupyter(ctx context.Context, opt SetupOptions) error {
	all := append(append([]string{}, execModules...), uiModule)
	missing := missingModules(ctx, all...)
	if len(missing) == 0 {
		logf(opt.Log, "jupyter: already installed (%s can import %s)", Python(), strings.Join(all, ", "))
		return nil
	}
	_, aptErr := exec.LookPath("apt-get")
	if os.Geteuid() == 0 && aptErr == nil && !opt.NoApt && os.Getenv(PythonEnv) == "" {
		logf(opt.Log, "jupyter: %s cannot import %s; installing Debian packages: %s",
			Python(), strings.Join(missing, ", "), strings.Join(AptPackages, " "))
		start := time.Now()
		for _, args := range [][]string{
			{"update", "-qq"},
			append([]string{"install", "-y", "-qq", "--no-install-recommends"}, AptPackages...),
		} {
			cmd := exec.CommandContext(ctx, "apt-get", args...)
			cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			if _, err := output(cmd); err != nil {
				return fmt.Errorf("jupyter: apt-get failed: %w", err)
			}
		}
		missing = missingModules(ctx, all...)
		if len(missing) == 0 {
			logf(opt.Log, "jupyter: installed with apt-get in %s", time.Since(start).Round(time.Second))
			return nil
		}
	}
	steps := ManualJupyterSteps()
	if len(missingModules(ctx, execModules...)) == 0 {
		// Enough to execute notebooks; only the browser UI is missing.
		logf(opt.Log, "jupyter: notebook execution works, but the browser UI (%s) is missing; to add it:\n%s", uiModule, steps)
		return nil
	}
	return fmt.Errorf("jupyter: %s cannot import %s. Install Jupyter, then run `go run ./kernel setup` again:\n%s",
		Python(), strings.Join(missing, ", "), steps)
}

// ManualJupyterSteps is the text telling a user how to install Jupyter by hand.
func ManualJupyterSteps() string {
	return fmt.Sprintf(`  Debian/Ubuntu (as root):  apt-get install -y --no-install-recommends %s
  or with pip (any OS):     python3 -m pip install --user %s
                            export %s="$(command -v python3)"   # the Python pip installed into`,
		strings.Join(AptPackages, " "), strings.Join(PipPackages, " "), PythonEnv)
}

// ToolVersions reads the pinned versions of GoNB and golang.org/x/tools from kernel/tools/go.mod.
func ToolVersions(repo string) (gonb, tools string, err error) {
	path := filepath.Join(repo, "kernel", "tools", "go.mod")
	data, err := os.ReadFile(path)
	if err != nil {
		return "", "", err
	}
	f, err := modfile.Parse(path, data, nil)
	if err != nil {
		return "", "", err
	}
	for _, r := range f.Require {
		switch r.Mod.Path {
		case gonbModule:
			gonb = r.Mod.Version
		case goimportsModule:
			tools = r.Mod.Version
		}
	}
	if gonb == "" || tools == "" {
		return "", "", fmt.Errorf("%s: want requirements on %s and %s", path, gonbModule, goimportsModule)
	}
	return gonb, tools, nil
}

// BinDir is where `go install` puts binaries: $(go env GOBIN), else the first $(go env GOPATH)/bin.
func BinDir(ctx context.Context) (string, error) {
	out, err := output(exec.CommandContext(ctx, "go", "env", "GOBIN", "GOPATH"))
	if err != nil {
		return "", err
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) >= 1 && strings.TrimSpace(lines[0]) != "" {
		return strings.TrimSpace(lines[0]), nil
	}
	if len(lines) >= 2 && strings.TrimSpace(lines[1]) != "" {
		return filepath.Join(filepath.SplitList(strings.TrimSpace(lines[1]))[0], "bin"), nil
	}
	return "", fmt.Errorf("go env reports neither GOBIN nor GOPATH")
}

// ModuleVersion returns the version of module mod a Go binary was built from ("" when the binary is
// missing or was not built from mod).
func ModuleVersion(ctx context.Context, binary, mod string) string {
	out, err := output(exec.CommandContext(ctx, "go", "version", "-m", binary))
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && (f[0] == "mod" || f[0] == "dep") && f[1] == mod {
			return f[2]
		}
	}
	return ""
}

// setupTools builds gonb and goimports from kernel/tools unless the pinned versions are in place.
func setupTools(ctx context.Context, opt SetupOptions) (bin string, err error) {
	wantGoNB, wantTools, err := ToolVersions(opt.Repo)
	if err != nil {
		return "", err
	}
	bin, err = BinDir(ctx)
	if err != nil {
		return "", err
	}
	gotGoNB := ModuleVersion(ctx, filepath.Join(bin, "gonb"), gonbModule)
	gotTools := ModuleVersion(ctx, filepath.Join(bin, "goimports"), goimportsModule)
	if gotGoNB == wantGoNB && gotTools == wantTools {
		logf(opt.Log, "gonb %s and goimports (x/tools %s): already installed in %s", wantGoNB, wantTools, bin)
		return bin, nil
	}
	logf(opt.Log, "gonb %s and goimports (x/tools %s): building from kernel/tools into %s (found gonb %q, goimports %q)...",
		wantGoNB, wantTools, bin, gotGoNB, gotTools)
	start := time.Now()
	cmd := exec.CommandContext(ctx, "go", "install", "tool")
	cmd.Dir = filepath.Join(opt.Repo, "kernel", "tools")
	cmd.Env = append(os.Environ(), "GOBIN="+bin, "GOWORK=off")
	if _, err := output(cmd); err != nil {
		return "", fmt.Errorf("building GoNB: %w", err)
	}
	logf(opt.Log, "gonb and goimports: built in %s", time.Since(start).Round(time.Second))
	return bin, nil
}

// KernelSpec is a Jupyter kernel.json.
type KernelSpec struct {
	Argv          []string          `json:"argv"`
	DisplayName   string            `json:"display_name"`
	Language      string            `json:"language"`
	InterruptMode string            `json:"interrupt_mode,omitempty"`
	Env           map[string]string `json:"env,omitempty"`
}

// KernelLogFile is where the kernel's own log goes (the notebook shows only errors).
func KernelLogFile() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "gonomaly", "gonb.log")
}

// WantKernelSpec is the spec Setup installs: GoNB with a go.work pointing at the repository (notebooks
// import its packages with no extra cells), compile errors as plain text, logs to KernelLogFile with
// only errors on stderr, and PATH starting with bin (GoNB runs goimports and go from PATH).
func WantKernelSpec(ctx context.Context, repo, bin string) KernelSpec {
	path := []string{bin}
	if goBin, err := exec.LookPath("go"); err == nil {
		if abs, err := filepath.Abs(goBin); err == nil {
			path = append(path, filepath.Dir(abs))
		}
	}
	for _, p := range filepath.SplitList(os.Getenv("PATH")) {
		if p != "" && !contains(path, p) {
			path = append(path, p)
		}
	}
	return KernelSpec{
		Argv: []string{
			filepath.Join(bin, "gonb"), "--kernel", "{connection_file}",
			"--go_work=" + repo,
			"--raw_error",
			"--logtostderr=false", "--stderrthreshold=ERROR",
			"--log_file=" + KernelLogFile(), "--log_file_max_size=20",
		},
		DisplayName:   DisplayName,
		Language:      "go",
		InterruptMode: "message",
		Env: map[string]string{
			"PATH":  strings.Join(path, string(os.PathListSeparator)),
			RepoEnv: repo,
		},
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// InstalledKernelSpec returns the installed "gonomaly" spec and its folder, or ok false when none is.
func InstalledKernelSpec(ctx context.Context) (spec KernelSpec, dir string, ok bool, err error) {
	out, err := output(jupyterCmd(ctx, "kernelspec", "list", "--json"))
	if err != nil {
		return spec, "", false, err
	}
	var list struct {
		Kernelspecs map[string]struct {
			ResourceDir string     `json:"resource_dir"`
			Spec        KernelSpec `json:"spec"`
		} `json:"kernelspecs"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		return spec, "", false, fmt.Errorf("jupyter kernelspec list --json: %w", err)
	}
	ks, ok := list.Kernelspecs[KernelName]
	return ks.Spec, ks.ResourceDir, ok, nil
}

// sameSpec compares the fields Setup controls. PATH only has to start the same way (GoNB's bin folder,
// then Go's): the rest is the user's shell PATH at setup time, which differs between shells.
func sameSpec(got, want KernelSpec) bool {
	head := func(path string) string {
		parts := filepath.SplitList(path)
		return strings.Join(parts[:min(2, len(parts))], string(os.PathListSeparator))
	}
	return reflect.DeepEqual(got.Argv, want.Argv) && got.DisplayName == want.DisplayName &&
		got.Language == want.Language && got.Env[RepoEnv] == want.Env[RepoEnv] &&
		head(got.Env["PATH"]) == head(want.Env["PATH"])
}

// setupKernelSpec installs the "gonomaly" kernel spec for the current user unless it is already right.
func setupKernelSpec(ctx context.Context, opt SetupOptions, bin string) error {
	want := WantKernelSpec(ctx, opt.Repo, bin)
	if err := os.MkdirAll(filepath.Dir(KernelLogFile()), 0o755); err != nil {
		return fmt.Errorf("kernel log folder: %w", err)
	}
	got, dir, ok, err := InstalledKernelSpec(ctx)
	if err != nil {
		return err
	}
	if ok && sameSpec(got, want) {
		logf(opt.Log, "kernel spec %q (%s): already installed in %s", KernelName, DisplayName, dir)
		return nil
	}
	tmp, err := os.MkdirTemp("", "gonomaly-kernelspec-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	data, err := json.MarshalIndent(want, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, "kernel.json"), append(data, '\n'), 0o644); err != nil {
		return err
	}
	if _, err := output(jupyterCmd(ctx, "kernelspec", "install", "--user", "--replace", "--name", KernelName, tmp)); err != nil {
		return fmt.Errorf("installing kernel spec: %w", err)
	}
	_, dir, _, err = InstalledKernelSpec(ctx)
	if err != nil {
		return err
	}
	verb := "installed"
	if ok {
		verb = "updated"
	}
	logf(opt.Log, "kernel spec %q (%s): %s in %s (go.work uses %s; kernel log %s)", KernelName, DisplayName, verb, dir, opt.Repo, KernelLogFile())
	return nil
}
