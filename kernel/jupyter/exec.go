package jupyter

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

//go:embed runner.py
var runnerPy string

// QuickEnv is the environment variable that switches notebooks to quick mode (read by kernel/nb).
const QuickEnv = "GONOMALY_QUICK"

// ExecOptions configures Execute.
type ExecOptions struct {
	// OutDir receives the executed copy (<name>.ipynb) and its HTML (<name>.html). Default out/notebooks
	// under the current directory.
	OutDir string
	// CellTimeout bounds each cell; default 30 minutes.
	CellTimeout time.Duration
	// Quick runs the notebook in quick mode (GONOMALY_QUICK=1 for the kernel and its cells).
	Quick bool
	// Kernel is the kernel spec name; default KernelName. Notebooks' own kernelspec metadata is ignored
	// so that every notebook runs on the project's kernel.
	Kernel string
	// Log receives one line per executed cell, with its time, and progress-bar lines from long cells
	// (at most one per bar every 10 s); may be nil.
	Log io.Writer
	// Echo, when not nil, receives what cells print (stdout and stderr) as they run.
	Echo io.Writer
	// Name is the base name of the executed copy and its HTML. Default: the notebook's file name without
	// its extension. OutputNames gives distinct names to same-named notebooks of different folders.
	Name string
}

// OutputNames returns, for each notebook path, a name for its executed copy and HTML that no other path
// of the list shares: the file name without extension, or, for notebooks with the same file name in
// different folders, that name prefixed with as many parent folders as it takes ("a__x", "b__x").
func OutputNames(paths []string) []string {
	parts := make([][]string, len(paths))
	for i, p := range paths {
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		p = filepath.Clean(p)
		parts[i] = strings.Split(strings.TrimSuffix(p, filepath.Ext(p)), string(filepath.Separator))
	}
	name := func(i, k int) string {
		ps := parts[i]
		return strings.Join(ps[max(0, len(ps)-k):], "__")
	}
	// Group the paths by file name; within a group, take the fewest parent folders that tell its
	// distinct paths apart (the same notebook listed twice keeps one name).
	groups := map[string][]int{}
	for i := range paths {
		groups[name(i, 1)] = append(groups[name(i, 1)], i)
	}
	out := make([]string, len(paths))
	for _, g := range groups {
		for k := 1; ; k++ {
			byName := map[string]string{} // output name -> full path
			distinct := true
			longest := 0
			for _, i := range g {
				full := name(i, len(parts[i]))
				if prev, ok := byName[name(i, k)]; ok && prev != full {
					distinct = false
				}
				byName[name(i, k)] = full
				longest = max(longest, len(parts[i]))
			}
			if distinct || k >= longest {
				for _, i := range g {
					out[i] = name(i, k)
				}
				break
			}
		}
	}
	return out
}

// CellRun is one executed code cell.
type CellRun struct {
	// Cell is the 1-based position in the notebook.
	Cell int
	// Source is the first source line.
	Source string
	// Duration is the wall time from request to reply (GoNB compiles, then runs the cell's program).
	Duration time.Duration
	// Status is the kernel's reply: "ok" or "error".
	Status string
}

// Result is what Execute saw.
type Result struct {
	// Notebook is the source notebook; Executed and HTML are the saved copies.
	Notebook, Executed, HTML string
	// Duration is the whole execution, kernel start included.
	Duration time.Duration
	// Cells lists the code cells that ran, in order.
	Cells []CellRun
	// Failures lists failed cells (see Failures), plus a timeout or kernel death reported by the runner.
	Failures []Failure
	// Displays counts rich outputs by kind (see Displays); Promised is metadata.gonomaly.displays.
	Displays, Promised map[string]int
	// MissingDisplays lists promised displays that did not appear.
	MissingDisplays []string
}

// Err summarises the result as an error naming the notebook and the failed cell, or nil.
func (r *Result) Err() error {
	if len(r.Failures) == 0 && len(r.MissingDisplays) == 0 {
		return nil
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s failed", r.Notebook)
	for _, f := range r.Failures {
		fmt.Fprintf(&sb, "\n  %s", indent(f.String()))
	}
	for _, m := range r.MissingDisplays {
		fmt.Fprintf(&sb, "\n  displays: %s", m)
	}
	if r.Executed != "" {
		fmt.Fprintf(&sb, "\n  executed copy: %s", r.Executed)
	}
	return errors.New(sb.String())
}

func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n    ") }

// runnerEvent is one JSON line from runner.py.
type runnerEvent struct {
	Event   string  `json:"event"`
	Cell    int     `json:"cell"` // 0-based
	Seconds float64 `json:"seconds"`
	Status  string  `json:"status"`
	Message string  `json:"message"`
	Name    string  `json:"name"` // stream: stdout or stderr
	Text    string  `json:"text"` // stream text or progress-bar text
}

// samePath reports whether a and b name the same file: the same absolute path, or (both existing) the
// same file through links.
func samePath(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	if err1 == nil && err2 == nil && aa == bb {
		return true
	}
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

// Execute runs the notebook at path headlessly on the project's kernel, stopping at the first failing
// cell, saves the executed copy and its HTML into opt.OutDir, and checks the executed notebook: error
// outputs, panics and non-zero exits in any cell (nbclient misses failing `!` shell cells), and the
// displays promised in metadata.gonomaly.displays. The error (also r.Err()) names the notebook and cell.
// It refuses, before running anything, an output folder where the executed copy would replace the
// notebook.
func Execute(ctx context.Context, path string, opt ExecOptions) (*Result, error) {
	if opt.OutDir == "" {
		opt.OutDir = filepath.Join("out", "notebooks")
	}
	if opt.CellTimeout <= 0 {
		opt.CellTimeout = 30 * time.Minute
	}
	if opt.Kernel == "" {
		opt.Kernel = KernelName
	}
	src, err := ReadNotebook(path)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opt.OutDir, 0o755); err != nil {
		return nil, err
	}
	base := opt.Name
	if base == "" {
		base = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	r := &Result{
		Notebook: path,
		Executed: filepath.Join(opt.OutDir, base+".ipynb"),
		HTML:     filepath.Join(opt.OutDir, base+".html"),
		Promised: src.Metadata.Gonomaly.Displays,
	}
	for _, o := range []string{r.Executed, r.HTML} {
		if samePath(o, path) {
			return nil, fmt.Errorf("%q: refusing to run it with output folder %q: the executed copy %q would replace the notebook itself; choose another output folder", path, opt.OutDir, o)
		}
	}
	script, err := writeRunner()
	if err != nil {
		return nil, err
	}
	defer os.Remove(script)
	// Remove stale copies so a crash cannot leave last run's success behind.
	os.Remove(r.Executed)
	os.Remove(r.HTML)

	cmd := exec.CommandContext(ctx, Python(), script, path, r.Executed, r.HTML, opt.Kernel,
		strconv.Itoa(int(opt.CellTimeout.Seconds()+0.5)))
	quick := "0"
	if opt.Quick {
		quick = "1"
	}
	cmd.Env = pythonEnv(QuickEnv + "=" + quick)
	// Own process group. Cancelling sends SIGTERM, on which the runner shuts the kernel (and the cell's
	// program) down before exiting; a runner still alive 15 s later is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 15 * time.Second
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: starting %s: %w", path, Python(), err)
	}
	var end *runnerEvent
	pending := map[string]string{} // stream text after the last newline, by stream name
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var ev runnerEvent
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue
		}
		switch ev.Event {
		case "cell":
			for name, rest := range pending { // a last line without newline
				if rest != "" && opt.Echo != nil {
					fmt.Fprintf(opt.Echo, "    │ %s\n", rest)
				}
				delete(pending, name)
			}
			run := CellRun{Cell: ev.Cell + 1, Duration: time.Duration(ev.Seconds * float64(time.Second)), Status: ev.Status}
			if ev.Cell >= 0 && ev.Cell < len(src.Cells) {
				run.Source = src.Cells[ev.Cell].FirstLine()
			}
			r.Cells = append(r.Cells, run)
			logf(opt.Log, "  %s cell %d/%d %-5s %6.1fs  %s", base, run.Cell, len(src.Cells), run.Status, ev.Seconds, run.Source)
		case "progress":
			logf(opt.Log, "  %s cell %d: %s", base, ev.Cell+1, ev.Text)
		case "stream":
			if opt.Echo != nil {
				pending[ev.Name] += ev.Text
				for {
					line, rest, ok := strings.Cut(pending[ev.Name], "\n")
					if !ok {
						break
					}
					fmt.Fprintf(opt.Echo, "    │ %s\n", line)
					pending[ev.Name] = rest
				}
			}
		case "warning":
			logf(opt.Log, "  %s: %s", base, ev.Message)
		case "end":
			e := ev
			end = &e
		}
	}
	waitErr := cmd.Wait()
	r.Duration = time.Since(start)
	if ctx.Err() != nil {
		return r, fmt.Errorf("%s: %w", path, ctx.Err())
	}
	if end == nil {
		return r, fmt.Errorf("%s: notebook runner failed (%v):\n%s", path, waitErr, strings.TrimSpace(stderr.String()))
	}

	executed, err := ReadNotebook(r.Executed)
	if err != nil {
		return r, fmt.Errorf("%s: executed copy unreadable: %w", path, err)
	}
	r.Failures = Failures(executed)
	if end.Status != "ok" {
		cell, source := end.Cell+1, ""
		if end.Cell >= 0 && end.Cell < len(src.Cells) {
			source = src.Cells[end.Cell].FirstLine()
		}
		if !hasFailureAt(r.Failures, cell) {
			kind := map[string]string{"timeout": "timeout after " + opt.CellTimeout.String(), "dead": "kernel died",
				"crash": "runner crashed", "error": "error", "interrupted": "interrupted"}[end.Status]
			msg := end.Message
			if end.Status == "crash" {
				msg += "\n" + strings.TrimSpace(stderr.String())
			}
			r.Failures = append(r.Failures, Failure{Cell: cell, Source: source, Kind: kind, Message: trimMessage(msg)})
		}
	}
	r.Displays = Displays(executed)
	if len(r.Failures) == 0 {
		r.MissingDisplays = MissingDisplays(r.Promised, r.Displays)
	}
	return r, r.Err()
}

// writeRunner writes runner.py to a fresh temporary file (concurrent runs must not share one).
func writeRunner() (string, error) {
	f, err := os.CreateTemp("", "gonomaly-runner-*.py")
	if err != nil {
		return "", err
	}
	if _, err := f.WriteString(runnerPy); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), f.Close()
}

func hasFailureAt(fs []Failure, cell int) bool {
	for _, f := range fs {
		if f.Cell == cell {
			return true
		}
	}
	return false
}

// FindNotebooks lists the .ipynb files in dir (not checkpoints), sorted by name.
func FindNotebooks(dir string) ([]string, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "*.ipynb"))
	if err != nil {
		return nil, err
	}
	return matches, nil
}
