package jupyter

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Check is one line of `kernel doctor`.
type Check struct {
	// Name is what was checked, e.g. "gonb".
	Name string
	// OK is false when something needs fixing.
	OK bool
	// Status says what was found.
	Status string
	// Fix says what to do when OK is false.
	Fix string
}

// Diagnose checks Go, Jupyter, GoNB, goimports and the kernel spec, without changing anything.
func Diagnose(ctx context.Context, repo string) []Check {
	var checks []Check
	add := func(c Check) { checks = append(checks, c) }
	const setup = "go run ./kernel setup"

	if out, err := output(exec.CommandContext(ctx, "go", "version")); err != nil {
		add(Check{"go", false, "go not found on PATH", "install Go 1.26+ from https://go.dev/dl and put it on PATH"})
	} else {
		add(Check{"go", true, strings.TrimSpace(out), ""})
	}

	py := Python()
	if _, err := os.Stat(py); err != nil {
		add(Check{"python", false, py + " not found", "install python3 (apt-get install python3), or set " + PythonEnv})
	} else {
		add(Check{"python", true, py + " (Jupyter's interpreter; set " + PythonEnv + " to change)", ""})
	}
	if m := missingModules(ctx, execModules...); len(m) > 0 {
		add(Check{"jupyter", false, "cannot import " + strings.Join(m, ", "), setup + " (as root), or by hand:\n" + ManualJupyterSteps()})
	} else {
		v, _ := output(jupyterCmd(ctx, "--version"))
		add(Check{"jupyter", true, "nbclient and nbconvert import; " + firstLines(v, "nbclient", "nbconvert", "jupyter_client"), ""})
	}
	if m := missingModules(ctx, uiModule); len(m) > 0 {
		add(Check{"notebook UI", false, "cannot import " + uiModule + " (exec works; `kernel notebook` does not)", setup + " (as root), or by hand:\n" + ManualJupyterSteps()})
	} else {
		add(Check{"notebook UI", true, "classic notebook server available", ""})
	}

	wantGoNB, wantTools, err := ToolVersions(repo)
	bin, binErr := BinDir(ctx)
	switch {
	case err != nil:
		add(Check{"gonb", false, err.Error(), "restore kernel/tools/go.mod from git"})
	case binErr != nil:
		add(Check{"gonb", false, binErr.Error(), "fix the Go installation"})
	default:
		got := ModuleVersion(ctx, filepath.Join(bin, "gonb"), gonbModule)
		if got == wantGoNB {
			add(Check{"gonb", true, filepath.Join(bin, "gonb") + " " + got, ""})
		} else {
			add(Check{"gonb", false, fmt.Sprintf("%s: found %q, want %s", filepath.Join(bin, "gonb"), got, wantGoNB), setup})
		}
		got = ModuleVersion(ctx, filepath.Join(bin, "goimports"), goimportsModule)
		if got == wantTools {
			add(Check{"goimports", true, filepath.Join(bin, "goimports") + " (x/tools " + got + ")", ""})
		} else {
			add(Check{"goimports", false, fmt.Sprintf("%s: found x/tools %q, want %s", filepath.Join(bin, "goimports"), got, wantTools), setup})
		}
	}

	if len(missingModules(ctx, "jupyter_client")) == 0 && binErr == nil {
		got, dir, ok, err := InstalledKernelSpec(ctx)
		want := WantKernelSpec(ctx, repo, bin)
		switch {
		case err != nil:
			add(Check{"kernel spec", false, err.Error(), setup})
		case !ok:
			add(Check{"kernel spec", false, fmt.Sprintf("no %q kernel spec installed", KernelName), setup})
		case !sameSpec(got, want):
			add(Check{"kernel spec", false, fmt.Sprintf("%s differs from what setup would install (other checkout, moved repo or GOBIN?): argv %q", dir, got.Argv), setup})
		default:
			add(Check{"kernel spec", true, fmt.Sprintf("%q (%s) in %s, go.work uses %s", KernelName, DisplayName, dir, repo), ""})
		}
	}
	return checks
}

// firstLines picks the lines of `jupyter --version` naming the given packages.
func firstLines(out string, names ...string) string {
	var picked []string
	for _, l := range strings.Split(out, "\n") {
		for _, n := range names {
			if strings.HasPrefix(strings.TrimSpace(l), n) {
				picked = append(picked, strings.Join(strings.Fields(l), " "))
			}
		}
	}
	return strings.Join(picked, ", ")
}
