package jupyter

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
)

// Notebook is the part of an .ipynb file (nbformat 4) the checks read.
type Notebook struct {
	Cells    []Cell       `json:"cells"`
	Metadata NotebookMeta `json:"metadata"`
	Format   int          `json:"nbformat"`
}

// NotebookMeta holds the notebook metadata the checks read.
type NotebookMeta struct {
	// Gonomaly is the project's own metadata block, "gonomaly" in the .ipynb.
	Gonomaly struct {
		// Displays promises at least this many displays of each kind (see DisplayKinds), e.g.
		// {"png": 2, "table": 1}. The test harness fails a notebook that shows fewer.
		Displays map[string]int `json:"displays"`
	} `json:"gonomaly"`
	KernelSpec struct {
		Name string `json:"name"`
	} `json:"kernelspec"`
}

// Cell is one notebook cell.
type Cell struct {
	Type           string   `json:"cell_type"`
	Source         text     `json:"source"`
	Outputs        []Output `json:"outputs"`
	ExecutionCount *int     `json:"execution_count"`
}

// Output is one cell output.
type Output struct {
	Type      string                     `json:"output_type"`
	Name      string                     `json:"name"` // stream: "stdout" or "stderr"
	Text      text                       `json:"text"`
	Data      map[string]json.RawMessage `json:"data"`
	Ename     string                     `json:"ename"`
	Evalue    string                     `json:"evalue"`
	Traceback []string                   `json:"traceback"`
}

// text is an nbformat multiline string: a string or a list of strings.
type text string

func (t *text) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*t = text(s)
		return nil
	}
	var parts []string
	if err := json.Unmarshal(b, &parts); err != nil {
		return err
	}
	*t = text(strings.Join(parts, ""))
	return nil
}

// ReadNotebook parses an .ipynb file.
func ReadNotebook(path string) (*Notebook, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var nb Notebook
	if err := json.Unmarshal(data, &nb); err != nil {
		return nil, fmt.Errorf("%s: not a notebook: %w", path, err)
	}
	if nb.Format != 4 {
		return nil, fmt.Errorf("%s: nbformat %d, want 4", path, nb.Format)
	}
	return &nb, nil
}

// FirstLine returns the cell's first non-blank source line, shortened, to name a cell in messages.
func (c *Cell) FirstLine() string {
	for _, l := range strings.Split(string(c.Source), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			if len(l) > 60 {
				l = l[:57] + "..."
			}
			return l
		}
	}
	return ""
}

// Failure is one failed cell.
type Failure struct {
	// Cell is the cell's 1-based position in the notebook (markdown cells count).
	Cell int
	// Source is the cell's first source line.
	Source string
	// Kind says what failed: "error" (an error output: compile error, panic, failed cell), "panic",
	// "exit status" (a program or `!` command that exited non-zero), "timeout", "kernel died", ...
	Kind string
	// Message is the evidence, trimmed.
	Message string
}

func (f Failure) String() string {
	return fmt.Sprintf("cell %d (%s): %s: %s", f.Cell, f.Source, f.Kind, f.Message)
}

// Patterns in stream output that mean a cell failed even when the kernel reported success: GoNB reports
// a failing `!` shell command only as text.
var failurePatterns = []struct {
	kind string
	re   *regexp.Regexp
}{
	{"panic", regexp.MustCompile(`(?m)^panic: .*`)},
	{"fatal error", regexp.MustCompile(`(?m)^fatal error: .*`)},
	{"exit status", regexp.MustCompile(`(?m)^exit status [1-9][0-9]*`)},
	{"killed", regexp.MustCompile(`(?m)^signal: (killed|terminated|aborted|segmentation fault|bus error|interrupt)`)},
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)

// Failures lists the failed code cells of an executed notebook: error outputs, and stream output that
// reports a panic, a fatal error or a non-zero exit.
func Failures(nb *Notebook) []Failure {
	var out []Failure
	for i := range nb.Cells {
		c := &nb.Cells[i]
		if c.Type != "code" {
			continue
		}
		f := Failure{Cell: i + 1, Source: c.FirstLine()}
		streams := map[string]*strings.Builder{}
		for _, o := range c.Outputs {
			switch o.Type {
			case "error":
				if f.Kind == "" {
					f.Kind = "error"
					f.Message = ansi.ReplaceAllString(strings.Join(o.Traceback, "\n"), "")
					if !strings.Contains(f.Message, o.Evalue) {
						f.Message = o.Ename + ": " + o.Evalue + "\n" + f.Message
					}
				}
			case "stream":
				if streams[o.Name] == nil {
					streams[o.Name] = &strings.Builder{}
				}
				streams[o.Name].WriteString(string(o.Text))
			}
		}
		// Stream output arrives in chunks: match the whole of stderr, then stdout. The stream evidence
		// (a panic and its stack) says more than GoNB's error output ("exit status 2"), so it wins.
	streams:
		for _, name := range []string{"stderr", "stdout"} {
			if streams[name] == nil {
				continue
			}
			s := ansi.ReplaceAllString(streams[name].String(), "")
			for _, p := range failurePatterns {
				if loc := p.re.FindStringIndex(s); loc != nil {
					f.Kind = p.kind
					f.Message = s[max(0, loc[0]-400):min(len(s), loc[1]+1200)]
					break streams
				}
			}
		}
		if f.Kind != "" {
			f.Message = trimMessage(f.Message)
			out = append(out, f)
		}
	}
	return out
}

func trimMessage(s string) string {
	s = strings.TrimSpace(s)
	const maxLen = 2000
	if len(s) > maxLen {
		s = s[:maxLen] + " [...]"
	}
	return s
}

// DisplayKinds are the kinds of display a notebook can promise in metadata.gonomaly.displays:
// "png" and "svg" images (as image/* outputs or embedded in HTML), "html" outputs, and HTML "table"s.
var DisplayKinds = []string{"png", "svg", "html", "table"}

// Displays counts the rich outputs of an executed notebook by kind (see DisplayKinds).
func Displays(nb *Notebook) map[string]int {
	n := map[string]int{}
	for _, c := range nb.Cells {
		for _, o := range c.Outputs {
			if o.Type != "display_data" && o.Type != "execute_result" {
				continue
			}
			if _, ok := o.Data["image/png"]; ok {
				n["png"]++
			}
			if _, ok := o.Data["image/svg+xml"]; ok {
				n["svg"]++
			}
			if raw, ok := o.Data["text/html"]; ok {
				var h text
				if json.Unmarshal(raw, &h) != nil {
					continue
				}
				s := strings.ToLower(string(h))
				n["html"]++
				n["png"] += strings.Count(s, "data:image/png;base64")
				n["svg"] += strings.Count(s, "<svg")
				n["table"] += strings.Count(s, "<table")
			}
		}
	}
	return n
}

// MissingDisplays compares what a notebook promised with what it showed; it returns one message per
// kind that fell short (and one for an unknown kind).
func MissingDisplays(promised, got map[string]int) []string {
	var msgs []string
	kinds := make([]string, 0, len(promised))
	for k := range promised {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		if !contains(DisplayKinds, k) {
			msgs = append(msgs, fmt.Sprintf("unknown display kind %q in metadata.gonomaly.displays (want one of %s)", k, strings.Join(DisplayKinds, ", ")))
			continue
		}
		if got[k] < promised[k] {
			msgs = append(msgs, fmt.Sprintf("promised at least %d %s display(s), got %d", promised[k], k, got[k]))
		}
	}
	return msgs
}
