package nb

import (
	"context"
	"fmt"
	"html"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gonomaly/gonomaly/methods"
	"github.com/janpfeifer/gonb/gonbui"
)

// minRedraw limits how often a bar is redrawn; the final event of a task is always drawn.
const minRedraw = 150 * time.Millisecond

// Context returns a background context whose long-running work draws progress bars (see Progress).
func Context() context.Context {
	return methods.WithProgress(context.Background(), Progress())
}

// Progress returns a methods.ProgressFunc that draws one bar per task: inside a GoNB notebook an HTML
// bar updated in place (one display block per task), elsewhere a terminal bar on stderr redrawn with
// "\r" (or a line per 10% when stderr is not a terminal).
func Progress() methods.ProgressFunc {
	if gonbui.IsNotebook {
		return newBars(htmlBar{}).report
	}
	return TerminalProgress(os.Stderr, isTerminal(os.Stderr))
}

// TerminalProgress returns a methods.ProgressFunc drawing text bars on w. With live true, a bar is
// redrawn in place with "\r"; otherwise a line is written at every 10% step and at the end (for logs).
func TerminalProgress(w io.Writer, live bool) methods.ProgressFunc {
	return newBars(&textBar{w: w, live: live}).report
}

// drawer renders one task's state.
type drawer interface {
	draw(t *task, ev methods.Event)
}

// task is the drawing state of one named task.
type task struct {
	id       string
	lastDraw time.Time
	lastStep int // last 10% step written, for non-live text output
}

// bars routes events to one task state per task name.
type bars struct {
	mu    sync.Mutex
	d     drawer
	tasks map[string]*task
}

func newBars(d drawer) *bars { return &bars{d: d, tasks: map[string]*task{}} }

func (b *bars) report(ev methods.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.tasks[ev.Task]
	if !ok {
		t = &task{id: "gonomaly_progress_" + gonbui.UniqueId(), lastStep: -1}
		b.tasks[ev.Task] = t
	}
	now := time.Now()
	if !ev.Finished && ok && now.Sub(t.lastDraw) < minRedraw {
		return
	}
	t.lastDraw = now
	b.d.draw(t, ev)
	if ev.Finished {
		delete(b.tasks, ev.Task) // a task started again later gets a fresh bar
	}
}

// fraction returns Done/Total in [0,1], or -1 when Total is unknown.
func fraction(ev methods.Event) float64 {
	if ev.Total <= 0 {
		return -1
	}
	f := float64(ev.Done) / float64(ev.Total)
	return min(max(f, 0), 1)
}

// status is the text after the bar: counts, percentage, elapsed time, ETA and metrics.
func status(ev methods.Event) string {
	var sb strings.Builder
	f := fraction(ev)
	if f >= 0 {
		fmt.Fprintf(&sb, "%d/%d %3.0f%%", ev.Done, ev.Total, 100*f)
	} else {
		fmt.Fprintf(&sb, "%d", ev.Done)
	}
	fmt.Fprintf(&sb, " %s", clock(ev.Elapsed))
	if !ev.Finished && f > 0 && f < 1 {
		eta := time.Duration(float64(ev.Elapsed) * (1 - f) / f)
		fmt.Fprintf(&sb, " eta %s", clock(eta))
	}
	if len(ev.Metrics) > 0 {
		names := make([]string, 0, len(ev.Metrics))
		for k := range ev.Metrics {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			fmt.Fprintf(&sb, " %s=%.4g", k, ev.Metrics[k])
		}
	}
	if ev.Finished {
		sb.WriteString(" done")
	}
	return sb.String()
}

// clock formats a duration as m:ss or h:mm:ss.
func clock(d time.Duration) string {
	s := int(d.Round(time.Second) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// htmlBar draws a <progress> element in a GoNB display block updated in place.
type htmlBar struct{}

func (htmlBar) draw(t *task, ev methods.Event) {
	bar := `<progress style="width:16em;vertical-align:middle"></progress>` // indeterminate
	if f := fraction(ev); f >= 0 {
		bar = fmt.Sprintf(`<progress style="width:16em;vertical-align:middle" value="%d" max="%d"></progress>`, ev.Done, ev.Total)
	}
	gonbui.UpdateHTML(t.id, fmt.Sprintf(`<div style="font-family:monospace">%s %s %s</div>`,
		html.EscapeString(ev.Task), bar, html.EscapeString(status(ev))))
	if ev.Finished {
		gonbui.Sync() // the final state must reach the notebook before the cell's program exits
	}
}

// textBar draws "task [#####-----] status" lines.
type textBar struct {
	w    io.Writer
	live bool
}

const textBarWidth = 24

func (b *textBar) draw(t *task, ev methods.Event) {
	f := fraction(ev)
	if !b.live && !ev.Finished {
		step := int(10 * max(f, 0))
		if step <= t.lastStep {
			return
		}
		t.lastStep = step
	}
	bar := ""
	if f >= 0 {
		n := int(f * textBarWidth)
		bar = "[" + strings.Repeat("#", n) + strings.Repeat("-", textBarWidth-n) + "] "
	}
	line := ev.Task + " " + bar + status(ev)
	switch {
	case b.live && ev.Finished:
		fmt.Fprintf(b.w, "\r\033[K%s\n", line)
	case b.live:
		fmt.Fprintf(b.w, "\r\033[K%s", line)
	default:
		fmt.Fprintln(b.w, line)
	}
}

// isTerminal reports whether f is a character device (a terminal), without extra dependencies.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
