package viz

import (
	"fmt"

	"github.com/janpfeifer/gonb/gonbui"
)

// InNotebook reports whether the program runs under a GoNB kernel, i.e. whether Display shows anything.
func InNotebook() bool { return gonbui.IsNotebook }

// Display shows fig inline (as PNG) when running in a GoNB notebook. Outside a notebook it does nothing
// and writes nothing to stdout, so the same code works in scripts and tests; it returns nil then.
func Display(fig Figure) error {
	if !gonbui.IsNotebook {
		return nil
	}
	if fig == nil {
		return fmt.Errorf("viz: Display of a nil figure")
	}
	data, err := fig.PNG()
	if err != nil {
		return err
	}
	gonbui.DisplayPng(data)
	return flush()
}

// DisplaySVG shows fig inline as SVG (sharp at any zoom, text selectable) in a GoNB notebook, and does
// nothing elsewhere.
func DisplaySVG(fig Figure) error {
	if !gonbui.IsNotebook {
		return nil
	}
	if fig == nil {
		return fmt.Errorf("viz: DisplaySVG of a nil figure")
	}
	data, err := fig.SVG()
	if err != nil {
		return err
	}
	gonbui.DisplaySvg(string(data))
	return flush()
}

// HTMLer is anything that renders itself as an HTML fragment, such as *Table.
type HTMLer interface {
	HTML() string
}

// DisplayHTML shows h inline in a GoNB notebook and does nothing elsewhere.
func DisplayHTML(h HTMLer) error {
	if !gonbui.IsNotebook {
		return nil
	}
	if h == nil {
		return fmt.Errorf("viz: DisplayHTML of nil")
	}
	gonbui.DisplayHtml(h.HTML())
	return flush()
}

// flush waits until GoNB has received what was displayed: a display sent just before a cell's program
// exits can otherwise reach Jupyter after the cell is reported finished, and headless runs miss it.
func flush() error {
	gonbui.Sync()
	return gonbui.Error()
}
