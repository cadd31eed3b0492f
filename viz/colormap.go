package viz

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot/palette"
)

// Colormap maps a value in [0, 1] to a colour by linear interpolation between evenly spaced stops.
// Values below 0 or above 1 are clamped; NaN maps to the first stop.
type Colormap struct {
	name  string
	stops []color.RGBA
}

// NewColormap returns a colormap through the given evenly spaced stops (at least two).
func NewColormap(name string, stops ...color.RGBA) (Colormap, error) {
	if len(stops) < 2 {
		return Colormap{}, fmt.Errorf("viz: colormap %q needs at least two stops, got %d", name, len(stops))
	}
	return Colormap{name: name, stops: append([]color.RGBA(nil), stops...)}, nil
}

// builtin builds the package's colormaps, whose stops are known to be valid.
func builtin(name string, stops ...color.RGBA) Colormap {
	return Colormap{name: name, stops: stops}
}

// The stops of the perceptual maps are the published colormaps sampled at evenly spaced points
// (viridisLite's viridis(9), inferno(10), turbo(10)); between them we interpolate linearly in sRGB,
// which stays within a few levels of the 256-entry originals.
var (
	// Viridis is perceptually uniform and colour-blind safe, dark blue to yellow
	// (van der Walt and Smith, matplotlib 2.0 default colormap, 2015).
	Viridis = builtin("viridis",
		hex(0x440154), hex(0x472D7B), hex(0x3B528B), hex(0x2C728E), hex(0x21908C),
		hex(0x27AD81), hex(0x5DC863), hex(0xAADC32), hex(0xFDE725))
	// Inferno is perceptually uniform, black through red to pale yellow; high values stand out on dark.
	Inferno = builtin("inferno",
		hex(0x000004), hex(0x1B0C42), hex(0x4B0C6B), hex(0x781C6D), hex(0xA52C60),
		hex(0xCF4446), hex(0xED6925), hex(0xFB9A06), hex(0xF7D03C), hex(0xFCFFA4))
	// Turbo is the jet-like rainbow most anomaly-detection papers show, with smooth lightness
	// (Mikhailov, "Turbo, an improved rainbow colormap", Google AI blog, 2019).
	Turbo = builtin("turbo",
		hex(0x30123B), hex(0x4662D7), hex(0x36AAF9), hex(0x1AE4B6), hex(0x72FE5E),
		hex(0xC7EF34), hex(0xFABA39), hex(0xF66B19), hex(0xCB2A04), hex(0x7A0403))
	// Gray maps 0 to black and 1 to white.
	Gray = builtin("gray", hex(0x000000), hex(0xFFFFFF))
)

func hex(v uint32) color.RGBA {
	return color.RGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 255}
}

// Name returns the colormap's name, e.g. "viridis".
func (m Colormap) Name() string { return m.name }

// At returns the colour for v in [0, 1] (clamped).
func (m Colormap) At(v float64) color.RGBA {
	if len(m.stops) == 0 {
		return color.RGBA{A: 255}
	}
	if math.IsNaN(v) || v <= 0 {
		return m.stops[0]
	}
	if v >= 1 {
		return m.stops[len(m.stops)-1]
	}
	f := v * float64(len(m.stops)-1)
	i := int(f)
	t := f - float64(i)
	a, b := m.stops[i], m.stops[i+1]
	lerp := func(x, y uint8) uint8 { return uint8(math.Round(float64(x) + t*(float64(y)-float64(x)))) }
	return color.RGBA{R: lerp(a.R, b.R), G: lerp(a.G, b.G), B: lerp(a.B, b.B), A: 255}
}

// Palette returns n evenly spaced colours of the map, for gonum/plot heat maps and colour bars.
func (m Colormap) Palette(n int) palette.Palette {
	if n < 2 {
		n = 2
	}
	cs := make([]color.Color, n)
	for i := range cs {
		cs[i] = m.At(float64(i) / float64(n-1))
	}
	return colorList(cs)
}

type colorList []color.Color

func (c colorList) Colors() []color.Color { return c }

// SeriesColors are the colours given to successive series in a chart: the Okabe-Ito colour-blind safe
// set (Okabe and Ito, "Color Universal Design", 2008), without its yellow, which vanishes on white.
var SeriesColors = []color.RGBA{
	hex(0x0072B2), // blue
	hex(0xD55E00), // vermillion
	hex(0x009E73), // bluish green
	hex(0xCC79A7), // reddish purple
	hex(0xE69F00), // orange
	hex(0x56B4E9), // sky blue
	hex(0x000000), // black
}

// seriesColor returns the i-th series colour, cycling.
func seriesColor(i int) color.RGBA { return SeriesColors[i%len(SeriesColors)] }
