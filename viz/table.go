package viz

import (
	"fmt"
	"html"
	"math"
	"strings"
	"unicode/utf8"
)

// Table is a small table of results (methods by metrics) that renders as HTML for notebooks and as
// aligned plain text for terminals and logs.
type Table struct {
	Title   string
	Columns []string
	Rows    [][]string
	// Precision is the number of decimals AddRow gives floats (default 3, as papers report).
	Precision int
}

// NewTable returns a table with the given title and column headers.
func NewTable(title string, columns ...string) *Table {
	return &Table{Title: title, Columns: columns, Precision: 3}
}

// AddRow appends a row; float values are formatted with the table's precision (NaN as "-"),
// other values with fmt's %v. The row must have one cell per column.
func (t *Table) AddRow(cells ...any) error {
	if len(cells) != len(t.Columns) {
		return fmt.Errorf("viz: table %q row has %d cells, want %d", t.Title, len(cells), len(t.Columns))
	}
	prec := t.Precision
	if prec <= 0 {
		prec = 3
	}
	row := make([]string, len(cells))
	for i, c := range cells {
		switch v := c.(type) {
		case float64:
			row[i] = formatFloat(v, prec)
		case float32:
			row[i] = formatFloat(float64(v), prec)
		default:
			row[i] = fmt.Sprint(v)
		}
	}
	t.Rows = append(t.Rows, row)
	return nil
}

func formatFloat(v float64, prec int) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.*f", prec, v)
}

// HTML renders the table as an HTML fragment; every cell is escaped. Numeric cells align right.
func (t *Table) HTML() string {
	var b strings.Builder
	b.WriteString(`<table style="border-collapse:collapse;font-family:sans-serif;font-size:13px">` + "\n")
	if t.Title != "" {
		fmt.Fprintf(&b, "<caption style=\"font-weight:bold;padding:4px\">%s</caption>\n", html.EscapeString(t.Title))
	}
	b.WriteString("<thead><tr>")
	for _, c := range t.Columns {
		fmt.Fprintf(&b, `<th style="border-bottom:2px solid #444;padding:3px 8px;text-align:left">%s</th>`, html.EscapeString(c))
	}
	b.WriteString("</tr></thead>\n<tbody>\n")
	for _, row := range t.Rows {
		b.WriteString("<tr>")
		for _, cell := range row {
			align := "left"
			if isNumber(cell) {
				align = "right"
			}
			fmt.Fprintf(&b, `<td style="border-bottom:1px solid #ddd;padding:3px 8px;text-align:%s">%s</td>`, align, html.EscapeString(cell))
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</tbody>\n</table>\n")
	return b.String()
}

// Text renders the table as aligned plain text with a header rule.
func (t *Table) Text() string {
	widths := make([]int, len(t.Columns))
	for i, c := range t.Columns {
		widths[i] = utf8.RuneCountInString(c)
	}
	for _, row := range t.Rows {
		for i, cell := range row {
			if i < len(widths) {
				widths[i] = max(widths[i], utf8.RuneCountInString(cell))
			}
		}
	}
	var b strings.Builder
	if t.Title != "" {
		b.WriteString(t.Title + "\n")
	}
	line := func(cells []string) {
		for i := range widths {
			cell := ""
			if i < len(cells) {
				cell = cells[i]
			}
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell))
			if i > 0 {
				b.WriteString("  ")
			}
			if isNumber(cell) {
				b.WriteString(pad + cell)
			} else {
				b.WriteString(cell + pad)
			}
		}
		b.WriteString("\n")
	}
	line(t.Columns)
	total := 0
	for _, w := range widths {
		total += w
	}
	b.WriteString(strings.Repeat("-", total+2*max(0, len(widths)-1)) + "\n")
	for _, row := range t.Rows {
		line(row)
	}
	return b.String()
}

// String returns Text, so fmt.Println(table) prints the plain-text form.
func (t *Table) String() string { return t.Text() }

func isNumber(s string) bool {
	var f float64
	_, err := fmt.Sscanf(s, "%g", &f)
	return err == nil && strings.TrimLeft(s, "+-0123456789.eE") == ""
}
