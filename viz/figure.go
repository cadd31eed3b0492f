package viz

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"

	xfont "golang.org/x/image/font"

	"github.com/gonomaly/gonomaly/datasets"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Figure is a picture that renders itself to PNG or SVG. Every chart, overlay and grid in viz is one.
// Rendering is separate from data, as in gonum/plot: a Figure can be saved many times, in any format.
type Figure interface {
	// Save writes the figure to path; the extension (.png or .svg, any case) picks the format.
	// The file is written atomically (temporary file in the same directory, then rename).
	Save(path string) error
	// PNG renders the figure as PNG bytes.
	PNG() ([]byte, error)
	// SVG renders the figure as an SVG document.
	SVG() ([]byte, error)
}

// Default chart size and raster resolution. 15 cm x 10 cm at 120 dpi is about 709x472 pixels:
// readable inline in a notebook and small enough for a README.
const (
	DefaultWidth  = 15 * vg.Centimeter
	DefaultHeight = 10 * vg.Centimeter
	DefaultDPI    = 120
)

// Chart is a gonum/plot plot with a size: the figure type of every curve, histogram and density chart.
// Plot is exported so callers can restyle anything gonum/plot offers (titles, axes, legend) before saving.
type Chart struct {
	Plot          *plot.Plot
	Width, Height vg.Length // default DefaultWidth x DefaultHeight
	DPI           int       // PNG resolution; default DefaultDPI
}

// newChart returns a Chart with the house style: white background, light grid, legend top-right.
func newChart(title, xLabel, yLabel string) *Chart {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	for _, f := range []*font.Font{&p.Title.TextStyle.Font, &p.X.Label.TextStyle.Font, &p.Y.Label.TextStyle.Font,
		&p.X.Tick.Label.Font, &p.Y.Tick.Label.Font, &p.Legend.TextStyle.Font} {
		f.Variant = "Sans"
	}
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.Title.TextStyle.Font.Weight = xfont.WeightBold
	p.Legend.TextStyle.Font.Size = vg.Points(10)
	p.Legend.Top = true
	return &Chart{Plot: p, Width: DefaultWidth, Height: DefaultHeight, DPI: DefaultDPI}
}

// draw renders the plot on a canvas of the chart's size. The legend is drawn last on a translucent
// white box so curves and points under it do not make it unreadable.
func (c *Chart) draw(dc draw.Canvas) {
	// Draw a shallow copy without its legend: the chart itself is never modified, so one chart can be
	// rendered from several goroutines.
	p := *c.Plot
	legend := p.Legend
	p.Legend = plot.NewLegend()
	p.Draw(dc)
	area := p.DataCanvas(dc)
	// Legend.Rectangle swaps left and right in gonum/plot v0.15; ask for the opposite side.
	probe := legend
	probe.Left = !legend.Left
	r := probe.Rectangle(area)
	if r.Size().X <= 0 || r.Size().Y <= 0 {
		legend.Draw(area)
		return
	}
	pad := vg.Points(3)
	r.Min.X += legend.XOffs - pad
	r.Max.X += legend.XOffs + pad
	r.Min.Y += legend.YOffs - pad
	r.Max.Y += legend.YOffs + pad
	dc.SetColor(color.NRGBA{R: 255, G: 255, B: 255, A: 215})
	dc.Fill(r.Path())
	dc.SetLineStyle(draw.LineStyle{Color: color.Gray{Y: 200}, Width: vg.Points(0.5)})
	dc.Stroke(r.Path())
	legend.Draw(area)
}

func (c *Chart) size() (vg.Length, vg.Length, int) { return sizeOr(c.Width, c.Height, c.DPI) }

// PNG renders the chart as PNG.
func (c *Chart) PNG() ([]byte, error) {
	w, h, dpi := c.size()
	return renderPNG(w, h, dpi, c.draw)
}

// SVG renders the chart as SVG; text stays text (searchable, scalable).
func (c *Chart) SVG() ([]byte, error) {
	w, h, _ := c.size()
	return renderSVG(w, h, c.draw)
}

// Save writes the chart to a .png or .svg file.
func (c *Chart) Save(path string) error { return saveFigure(c, path) }

// Drawing is a figure drawn by a function on a gonum/plot canvas, so one drawing routine yields both
// PNG and SVG. SampleGrid returns one; callers can build their own.
type Drawing struct {
	Width, Height vg.Length
	DPI           int
	// Draw paints the figure; the canvas covers Width x Height with the origin at the bottom left.
	Draw func(c draw.Canvas)
}

func (d *Drawing) size() (vg.Length, vg.Length, int) { return sizeOr(d.Width, d.Height, d.DPI) }

// PNG renders the drawing as PNG.
func (d *Drawing) PNG() ([]byte, error) {
	if d.Draw == nil {
		return nil, fmt.Errorf("viz: Drawing has no Draw function")
	}
	w, h, dpi := d.size()
	return renderPNG(w, h, dpi, d.Draw)
}

// SVG renders the drawing as SVG.
func (d *Drawing) SVG() ([]byte, error) {
	if d.Draw == nil {
		return nil, fmt.Errorf("viz: Drawing has no Draw function")
	}
	w, h, _ := d.size()
	return renderSVG(w, h, d.Draw)
}

// Save writes the drawing to a .png or .svg file.
func (d *Drawing) Save(path string) error { return saveFigure(d, path) }

// Raster is a figure that is exactly one image, pixel for pixel (an overlay, a map): PNG is the image
// itself and SVG embeds that PNG, drawn without smoothing.
type Raster struct {
	Image image.Image
}

// PNG encodes the image losslessly.
func (r *Raster) PNG() ([]byte, error) {
	if r == nil || r.Image == nil {
		return nil, fmt.Errorf("viz: Raster has no image")
	}
	return encodePNG(r.Image)
}

// SVG wraps the PNG in an SVG document of the image's pixel size.
func (r *Raster) SVG() ([]byte, error) {
	data, err := r.PNG()
	if err != nil {
		return nil, err
	}
	b := r.Image.Bounds()
	var buf bytes.Buffer
	fmt.Fprintf(&buf, `<?xml version="1.0" encoding="UTF-8"?>`+"\n")
	fmt.Fprintf(&buf, `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="%d" height="%d" viewBox="0 0 %d %d">`+"\n",
		b.Dx(), b.Dy(), b.Dx(), b.Dy())
	fmt.Fprintf(&buf, `<image x="0" y="0" width="%d" height="%d" style="image-rendering:pixelated" xlink:href="data:image/png;base64,%s"/>`+"\n",
		b.Dx(), b.Dy(), base64.StdEncoding.EncodeToString(data))
	buf.WriteString("</svg>\n")
	return buf.Bytes(), nil
}

// Save writes the raster to a .png or .svg file.
func (r *Raster) Save(path string) error { return saveFigure(r, path) }

func sizeOr(w, h vg.Length, dpi int) (vg.Length, vg.Length, int) {
	if w <= 0 {
		w = DefaultWidth
	}
	if h <= 0 {
		h = DefaultHeight
	}
	if dpi <= 0 {
		dpi = DefaultDPI
	}
	return w, h, dpi
}

// renderPNG draws on an in-memory image and encodes it. gonum/plot panics on some degenerate input
// deep in its drawing code; that becomes an error here, never a crash of the notebook.
func renderPNG(w, h vg.Length, dpi int, paint func(draw.Canvas)) (out []byte, err error) {
	defer recoverAsError(&err)
	c := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(dpi), vgimg.UseBackgroundColor(color.White))
	paint(draw.New(c))
	return encodePNG(c.Image())
}

// encodePNG encodes at the default compression: png.BestCompression saved only 2-5% on charts and grids
// but cost several times the time on smooth images, and Display is interactive.
func encodePNG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.DefaultCompression}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("viz: encoding PNG: %w", err)
	}
	return buf.Bytes(), nil
}

func renderSVG(w, h vg.Length, paint func(draw.Canvas)) (out []byte, err error) {
	defer recoverAsError(&err)
	c := vgsvg.NewWith(vgsvg.UseWH(w, h))
	paint(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("viz: writing SVG: %w", err)
	}
	return []byte(svgFontFallbacks.Replace(buf.String())), nil
}

// svgFontFallbacks adds fallbacks to the Liberation fonts gonum/plot names in SVG: they are metric
// compatible with Arial, Times New Roman and Courier New, so text keeps its measured width (legends stay
// aligned) in browsers without Liberation.
var svgFontFallbacks = strings.NewReplacer(
	"font-family:Liberation Sans", "font-family:'Liberation Sans',Arial,Helvetica,sans-serif",
	"font-family:Liberation Serif", "font-family:'Liberation Serif','Times New Roman',Times,serif",
	"font-family:Liberation Mono", "font-family:'Liberation Mono','Courier New',Courier,monospace",
)

func recoverAsError(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("viz: rendering failed: %v", r)
	}
}

// saveFigure renders fig in the format named by path's extension and writes it atomically.
func saveFigure(fig Figure, path string) error {
	var (
		data []byte
		err  error
	)
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".png":
		data, err = fig.PNG()
	case ".svg":
		data, err = fig.SVG()
	default:
		return fmt.Errorf("viz: cannot save %q: unknown extension %q (want .png or .svg)", path, ext)
	}
	if err != nil {
		return fmt.Errorf("viz: saving %q: %w", path, err)
	}
	return writeFileAtomic(path, data)
}

// writeFileAtomic writes data to a temporary file beside path and renames it into place, so readers
// never see a half-written picture.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("viz: saving %q: %w", path, err)
	}
	tmp := f.Name()
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("viz: saving %q: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("viz: saving %q: %w", path, err)
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("viz: saving %q: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("viz: saving %q: %w", path, err)
	}
	return nil
}

// NewRaster wraps a datasets.Image (1, 3 or 4 channels, values in [0, 1]) as a pixel-exact figure, to
// save or display an input image, a mask or a map as it is.
func NewRaster(im datasets.Image) (*Raster, error) {
	img, err := ToImage(im)
	if err != nil {
		return nil, err
	}
	return &Raster{Image: img}, nil
}

// Scaled returns the raster enlarged n times by pixel repetition (nearest neighbour), so small maps
// stay crisp inline; n < 2 returns r unchanged.
func (r *Raster) Scaled(n int) *Raster {
	if r == nil || r.Image == nil || n < 2 {
		return r
	}
	b := r.Image.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx()*n, b.Dy()*n))
	for y := 0; y < b.Dy()*n; y++ {
		for x := 0; x < b.Dx()*n; x++ {
			out.Set(x, y, r.Image.At(b.Min.X+x/n, b.Min.Y+y/n))
		}
	}
	return &Raster{Image: out}
}
