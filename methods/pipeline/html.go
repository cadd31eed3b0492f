package pipeline

import (
	"encoding/base64"
	"fmt"
	"html"
	"math"
	"strings"
)

// page builds a self-contained HTML page: inline style, pictures as base64 data URLs, nothing fetched.
// The markup is also well-formed XML (every element closed, attributes quoted, only XML's entities),
// so tests and tools can parse it with encoding/xml.
type page struct {
	b strings.Builder
}

func newPage(title string) *page {
	p := &page{}
	p.b.WriteString("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>")
	fmt.Fprintf(&p.b, "<title>%s</title>", esc(title))
	p.b.WriteString(`<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}` +
		`table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}` +
		`th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}img{max-width:100%;margin:.5em 0}` +
		`.note{color:#666;font-size:90%}figure{margin:1em 0}figcaption{color:#444}</style></head><body>`)
	fmt.Fprintf(&p.b, "<h1>%s</h1>", esc(title))
	return p
}

func esc(s string) string { return html.EscapeString(s) }

func (p *page) h2(s string)   { fmt.Fprintf(&p.b, "<h2>%s</h2>", esc(s)) }
func (p *page) para(s string) { fmt.Fprintf(&p.b, "<p>%s</p>", esc(s)) }
func (p *page) note(s string) { fmt.Fprintf(&p.b, "<p class=\"note\">%s</p>", esc(s)) }

// table writes a table; cells are strings (escaped) or numbers (3 decimals, "-" for NaN).
func (p *page) table(header []string, rows [][]any) {
	p.b.WriteString("<table><tr>")
	for _, h := range header {
		fmt.Fprintf(&p.b, "<th>%s</th>", esc(h))
	}
	p.b.WriteString("</tr>")
	for _, r := range rows {
		p.b.WriteString("<tr>")
		for _, c := range r {
			fmt.Fprintf(&p.b, "<td>%s</td>", esc(cell(c)))
		}
		p.b.WriteString("</tr>")
	}
	p.b.WriteString("</table>")
}

// cell formats a table cell: floats with 3 decimals ("-" for NaN), everything else with %v.
func cell(c any) string {
	switch v := c.(type) {
	case float64:
		if math.IsNaN(v) {
			return "-"
		}
		return fmt.Sprintf("%.3f", v)
	case num:
		return cell(float64(v))
	}
	return fmt.Sprint(c)
}

// picture embeds PNG bytes with a caption.
func (p *page) picture(png []byte, alt, caption string) {
	fmt.Fprintf(&p.b, "<figure><img alt=\"%s\" src=\"data:image/png;base64,%s\"/>", esc(alt), base64.StdEncoding.EncodeToString(png))
	if caption != "" {
		fmt.Fprintf(&p.b, "<figcaption>%s</figcaption>", esc(caption))
	}
	p.b.WriteString("</figure>")
}

func (p *page) done() []byte {
	p.b.WriteString("</body></html>\n")
	return []byte(p.b.String())
}
