// Package synth is a procedural defect benchmark in the shape of MVTec AD (Bergmann et al., "MVTec AD
// — A comprehensive real-world dataset for unsupervised anomaly detection", CVPR 2019): texture and
// object categories, a train split of normal images and a test split of normal and defective images
// with exact pixel masks. Nothing is read from disk: every sample is rendered from (seed, category,
// split, defect, index), so loading is random-access and reproducible.
//
// Normal images vary as real ones do (texture phase, scale and colour, object pose, lighting gradient,
// vignetting, sensor noise), so a detector must learn the normal variation rather than a template.
// Defects (scratch, crack, hole, stain, contamination; missing, bent and misplaced parts on objects)
// range from small to large; Options.Difficulty makes them smaller and fainter.
//
// A defect's mask is exact: a pixel is in the mask if and only if it differs from the clean render of
// the same sample, by at least MinDefectDelta in some channel.
//
// Rendering is plain float32 Go arithmetic: the same seed gives identical pixels on the same
// architecture (compilers that fuse multiply-adds, e.g. on arm64, may differ in the last bits).
//
// See also WriteMVTec to put a category on disk in MVTec AD's layout.
package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/gonomaly/gonomaly/datasets"
)

// Benchmark is the Dataset.Benchmark name of the synthetic benchmark.
const Benchmark = "synth"

// MinDefectDelta is the smallest change, in [0, 1] intensity in at least one channel, of every defect
// pixel with respect to the clean render (about 5 grey levels in 8 bits, so it survives PNG export).
const MinDefectDelta = 0.02

// geomThreshold is the surface change above which a re-rendered (geometric) defect counts a pixel as
// changed; smaller changes at antialiased edges are reverted to the clean render.
const geomThreshold = 0.04

type category struct {
	name    string
	texture textureMaker
	object  func(r *rand.Rand, n int) (surface, object)
	defects []string
}

type textureMaker func(r *rand.Rand, n int) textureRenderer

var textureDefects = []string{Scratch, Crack, Hole, Stain, Contamination}

var categories = []category{
	{name: "carpet", texture: newCarpet, defects: textureDefects},
	{name: "grid", texture: newGrid, defects: textureDefects},
	{name: "wood", texture: newWood, defects: textureDefects},
	{name: "marble", texture: newMarble, defects: textureDefects},
	{name: "leather", texture: newLeather, defects: textureDefects},
	{name: "tile", texture: newTile, defects: textureDefects},
	{name: "nut", object: newNut, defects: []string{Scratch, Crack, Stain, Contamination, Missing, Misplaced}},
	{name: "screw", object: newScrew, defects: []string{Scratch, Stain, Contamination, Missing, Bent, Misplaced}},
	{name: "pill", object: newPill, defects: []string{Scratch, Crack, Hole, Stain, Contamination, Missing, Misplaced}},
	{name: "transistor", object: newTransistor, defects: []string{Scratch, Stain, Contamination, Missing, Bent, Misplaced}},
}

func lookup(name string) (*category, error) {
	for i := range categories {
		if categories[i].name == name {
			return &categories[i], nil
		}
	}
	return nil, fmt.Errorf("synth: unknown category %q (have %s)", name, strings.Join(Categories(), ", "))
}

// Categories returns every category name: the textures, then the objects.
func Categories() []string { return append(Textures(), Objects()...) }

// Textures returns the texture categories: carpet, grid, wood, marble, leather, tile.
func Textures() []string {
	var out []string
	for _, c := range categories {
		if c.texture != nil {
			out = append(out, c.name)
		}
	}
	return out
}

// Objects returns the object categories: nut, screw, pill, transistor.
func Objects() []string {
	var out []string
	for _, c := range categories {
		if c.object != nil {
			out = append(out, c.name)
		}
	}
	return out
}

// Defects returns the defect types of a category (not including "good").
func Defects(category string) ([]string, error) {
	c, err := lookup(category)
	if err != nil {
		return nil, err
	}
	return slices.Clone(c.defects), nil
}

// Options configures a synthetic category. Zero fields take their defaults.
type Options struct {
	// Size is the image side in pixels (square). Default 256; range [32, 4096].
	Size int
	// Channels is 3 (RGB, default) or 1 (grey: the luma of the RGB render, as MVTec AD's grey
	// categories). Masks stay exact in either case.
	Channels int
	// Seed selects the whole dataset; the same seed gives identical pixels.
	Seed uint64
	// Difficulty in [0, 1] makes defects smaller and fainter: 0 (default) spans clearly visible small to
	// large defects, 1 keeps them small and subtle (never below MinDefectDelta).
	Difficulty float64
	// Train is the number of normal training images. Default 60.
	Train int
	// TestNormal is the number of normal test images. Default 20.
	TestNormal int
	// TestPerDefect is the number of test images of each defect type. Default 8.
	TestPerDefect int
	// ValFraction in [0, 1) moves that fraction of the training images (the last ones) to a validation
	// split. Default 0: Dataset.Val is an empty split.
	ValFraction float64
}

// DefaultOptions returns the defaults: 256 px RGB, seed 0, difficulty 0, 60 train, 20 normal and 8 per
// defect type in test, no validation split.
func DefaultOptions() Options {
	return Options{Size: 256, Channels: 3, Train: 60, TestNormal: 20, TestPerDefect: 8}
}

func (o Options) withDefaults() (Options, error) {
	d := DefaultOptions()
	if o.Size == 0 {
		o.Size = d.Size
	}
	if o.Channels == 0 {
		o.Channels = d.Channels
	}
	if o.Train == 0 {
		o.Train = d.Train
	}
	if o.TestNormal == 0 {
		o.TestNormal = d.TestNormal
	}
	if o.TestPerDefect == 0 {
		o.TestPerDefect = d.TestPerDefect
	}
	switch {
	case o.Size < 32 || o.Size > 4096:
		return o, fmt.Errorf("synth: Size %d out of range [32, 4096]", o.Size)
	case o.Channels != 1 && o.Channels != 3:
		return o, fmt.Errorf("synth: Channels must be 1 or 3, got %d", o.Channels)
	case math.IsNaN(o.Difficulty) || o.Difficulty < 0 || o.Difficulty > 1:
		return o, fmt.Errorf("synth: Difficulty %v out of range [0, 1]", o.Difficulty)
	case o.Train < 0 || o.TestNormal < 0 || o.TestPerDefect < 0:
		return o, fmt.Errorf("synth: negative sample count (Train %d, TestNormal %d, TestPerDefect %d)", o.Train, o.TestNormal, o.TestPerDefect)
	case math.IsNaN(o.ValFraction) || o.ValFraction < 0 || o.ValFraction >= 1:
		return o, fmt.Errorf("synth: ValFraction %v out of range [0, 1)", o.ValFraction)
	}
	return o, nil
}

// Source renders the samples of one category; it implements datasets.Source and is safe for concurrent
// use.
type Source struct {
	cat  *category
	opts Options
}

// NewSource returns the Source of a category.
func NewSource(category string, opts Options) (*Source, error) {
	c, err := lookup(category)
	if err != nil {
		return nil, err
	}
	if opts, err = opts.withDefaults(); err != nil {
		return nil, err
	}
	return &Source{cat: c, opts: opts}, nil
}

// Category returns the category name.
func (s *Source) Category() string { return s.cat.name }

// Options returns the options with defaults filled in.
func (s *Source) Options() Options { return s.opts }

// ItemID returns the ID of sample index of a split ("train" or "test") and defect type ("good" for
// normal), e.g. "test/crack/003.png"; Load renders items from their ID and Defect.
func ItemID(split, defect string, index int) string {
	return fmt.Sprintf("%s/%s/%03d.png", split, defect, index)
}

// Item returns the item of sample index of a split and defect type.
func (s *Source) Item(split, defect string, index int) datasets.Item {
	it := datasets.Item{ID: ItemID(split, defect, index), Label: datasets.Normal, Defect: defect, Index: index}
	if defect != datasets.GoodDefect {
		it.Label = datasets.Anomalous
	}
	return it
}

// Load renders an item. Its pixels depend only on the options' seed, size and difficulty, the category,
// and the item's ID and defect type.
func (s *Source) Load(it datasets.Item) (datasets.Sample, error) {
	if it.Defect != datasets.GoodDefect && !slices.Contains(s.cat.defects, it.Defect) {
		return datasets.Sample{}, fmt.Errorf("synth: %s/%s: category %s has no defect type %q", s.cat.name, it.ID, s.cat.name, it.Defect)
	}
	if (it.Defect == datasets.GoodDefect) != (it.Label == datasets.Normal) {
		return datasets.Sample{}, fmt.Errorf("synth: %s/%s: label %d does not match defect type %q", s.cat.name, it.ID, it.Label, it.Defect)
	}
	r := NewRand(s.opts.Seed, s.cat.name+"/"+it.ID)
	img, mask, err := render(s.cat, s.opts.Size, s.opts.Channels, s.opts.Difficulty, it.Defect, r)
	if err != nil {
		return datasets.Sample{}, fmt.Errorf("synth: %s/%s: %w", s.cat.name, it.ID, err)
	}
	return datasets.Sample{Item: it, Image: img, Mask: mask}, nil
}

// New returns a category of the benchmark: Train (normal only), Val (the last ValFraction of the train
// images, empty when ValFraction is 0) and Test (TestNormal normal images, then TestPerDefect images of
// each defect type in Defects order).
func New(category string, opts Options) (*datasets.Dataset, error) {
	src, err := NewSource(category, opts)
	if err != nil {
		return nil, err
	}
	o := src.opts
	ds := &datasets.Dataset{Benchmark: Benchmark, Category: category,
		Val: &datasets.Split{Name: "val", Category: category, Source: src}}
	train := &datasets.Split{Name: "train", Category: category, Source: src}
	for i := range o.Train {
		train.Items = append(train.Items, src.Item("train", datasets.GoodDefect, i))
	}
	if nv := int(math.Round(o.ValFraction * float64(o.Train))); nv > 0 {
		if nv >= o.Train {
			return nil, fmt.Errorf("synth: ValFraction %v leaves no training images out of %d", o.ValFraction, o.Train)
		}
		ds.Val = &datasets.Split{Name: "val", Category: category, Source: src, Items: train.Items[o.Train-nv:]}
		train.Items = train.Items[:o.Train-nv]
	}
	test := &datasets.Split{Name: "test", Category: category, Source: src}
	for i := range o.TestNormal {
		test.Items = append(test.Items, src.Item("test", datasets.GoodDefect, i))
	}
	for _, d := range src.cat.defects {
		for i := range o.TestPerDefect {
			test.Items = append(test.Items, src.Item("test", d, i))
		}
	}
	ds.Train, ds.Test = train, test
	return ds, nil
}

// MustNew is New for notebooks and examples: it panics on error.
func MustNew(category string, opts Options) *datasets.Dataset {
	ds, err := New(category, opts)
	if err != nil {
		panic(err)
	}
	return ds
}

// LoadAll loads every sample of a split, in order, on all cores (GOMAXPROCS workers).
func LoadAll(s *datasets.Split) ([]datasets.Sample, error) {
	out := make([]datasets.Sample, s.Len())
	errs := make([]error, s.Len())
	var next int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range max(1, min(runtime.GOMAXPROCS(0), s.Len())) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= s.Len() {
					return
				}
				out[i], errs[i] = s.Sample(i)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Texture renders a defect-free texture of a texture category (its surface colour, without lighting or
// noise), size x size RGB; anomaly synthesis uses these as offline texture sources.
func Texture(category string, size int, seed uint64) (datasets.Image, error) {
	c, err := lookup(category)
	if err != nil {
		return datasets.Image{}, err
	}
	if c.texture == nil {
		return datasets.Image{}, fmt.Errorf("synth: %q is an object category, not a texture", category)
	}
	if size < 8 || size > 4096 {
		return datasets.Image{}, fmt.Errorf("synth: texture size %d out of range [8, 4096]", size)
	}
	r := NewRand(seed, "texture/"+category+"/"+strconv.Itoa(size))
	s := make(surface, size*size*3)
	c.texture(r, size)(s, size)
	for i, v := range s {
		s[i] = clamp01(v)
	}
	return datasets.Image{H: size, W: size, C: 3, Pix: s}, nil
}

// render draws one sample: every normal-variation parameter is drawn from r first, so the clean image of
// a sample does not depend on its defect; then the defect, if any.
func render(c *category, n, ch int, difficulty float64, defect string, r *rand.Rand) (datasets.Image, datasets.Image, error) {
	surf := make(surface, n*n*3)
	sup := make([]bool, n*n)
	var bg surface
	var obj object
	if c.texture != nil {
		c.texture(r, n)(surf, n)
		for i := range sup {
			sup[i] = true
		}
	} else {
		bg, obj = c.object(r, n)
		copy(surf, bg)
		obj.draw(surf, sup, n, nil)
	}
	cam := newCamera(r, n)
	clean := cam.compose(surf, ch)
	mask := datasets.NewImage(n, n, 1)
	if defect == datasets.GoodDefect {
		return clean, mask, nil
	}

	size, gain := 1-0.6*difficulty, 1-0.6*difficulty
	def := make(surface, len(surf))
	region := make([]bool, n*n)
	minArea := max(2, int(math.Round(4*float64(n*n)/(256*256))))
	area := 0
	for range 30 {
		clear(region)
		if isGeometric(defect) {
			e := obj.edit(r, defect, difficulty, n)
			if e == nil {
				return datasets.Image{}, datasets.Image{}, fmt.Errorf("defect type %q does not apply", defect)
			}
			copy(def, bg)
			obj.draw(def, make([]bool, n*n), n, e)
			for i := range region {
				d := max(abs32(def[3*i]-surf[3*i]), abs32(def[3*i+1]-surf[3*i+1]), abs32(def[3*i+2]-surf[3*i+2]))
				if d > geomThreshold {
					region[i] = true
				} else {
					copy(def[3*i:3*i+3], surf[3*i:3*i+3])
				}
			}
		} else {
			copy(def, surf)
			p := &painter{s: def, sup: sup, region: region, n: n, r: r, size: size, gain: gain}
			p.paint(defect)
		}
		area = 0
		for _, b := range region {
			if b {
				area++
			}
		}
		if area >= minArea {
			break
		}
	}
	if area < minArea {
		return datasets.Image{}, datasets.Image{}, fmt.Errorf("could not place a %s defect", defect)
	}
	// Outside the region the defective image is the clean one; inside, light the changed surface.
	img := clean.Clone()
	for i, in := range region {
		if !in {
			continue
		}
		a, b := img.Pix[ch*i:ch*i+ch], clean.Pix[ch*i:ch*i+ch]
		cam.pixel(a, def, i)
		mask.Pix[i] = 1
		d, mean := float32(0), float32(0)
		for k := range ch {
			d = max(d, abs32(a[k]-b[k]))
			mean += b[k] / float32(ch)
		}
		if d >= MinDefectDelta {
			continue
		}
		// Too faint to count: push it to the minimum visible change, away from the nearer bound.
		sgn := float32(MinDefectDelta * 1.01)
		if mean > 0.5 {
			sgn = -sgn
		}
		for k := range ch {
			a[k] = clamp01(b[k] + sgn)
		}
	}
	return img, mask, nil
}

// camera is the per-sample imaging: exposure, a linear lighting gradient, vignetting and sensor noise.
// Noise is a hash of (sample, pixel), so any pixel can be re-rendered without storing a noise field.
type camera struct {
	n                 int
	exp, gx, gy       float32
	vig, vx, vy       float32
	lumaScale, chroma float32
	noiseSeed         uint64
}

func newCamera(r *rand.Rand, n int) *camera {
	c := &camera{n: n, exp: float32(uniform(r, 0.9, 1.1))}
	a := r.Float64() * 2 * math.Pi
	g := uniform(r, 0.04, 0.14)
	c.gx, c.gy = float32(g*math.Cos(a)), float32(g*math.Sin(a))
	c.vig = float32(uniform(r, 0, 0.12))
	c.vx, c.vy = float32(uniform(r, 0.4, 0.6)), float32(uniform(r, 0.4, 0.6))
	sigma := uniform(r, 0.006, 0.018)
	// Luminance noise is an Irwin-Hall sum of four 16-bit uniforms (variance 1/3 each unit, so scale by
	// sqrt(3)); chroma noise is uniform, half as strong.
	c.lumaScale = float32(sigma * math.Sqrt(3) / 65535)
	c.chroma = float32(sigma * 0.5 / 0x1fffff)
	c.noiseSeed = r.Uint64()
	return c
}

// pixel writes pixel i of surface s, lit and noised, to out: RGB, or its luma (BT.601) if len(out) == 1.
func (c *camera) pixel(out []float32, s surface, i int) {
	nf := float32(c.n)
	u, v := float32(i%c.n)/nf, float32(i/c.n)/nf
	d2 := (u-c.vx)*(u-c.vx) + (v-c.vy)*(v-c.vy)
	l := c.exp * (1 + 2*(c.gx*(u-0.5)+c.gy*(v-0.5))) * (1 - c.vig*d2*2)
	h := splitmix64(c.noiseSeed + uint64(i))
	luma := c.lumaScale * (float32(h&0xffff) + float32(h>>16&0xffff) + float32(h>>32&0xffff) + float32(h>>48) - 2*65535)
	h = splitmix64(h)
	r := clamp01(s[3*i]*l + luma + c.chroma*(float32(h&0x1fffff)-0x100000))
	g := clamp01(s[3*i+1]*l + luma + c.chroma*(float32(h>>21&0x1fffff)-0x100000))
	b := clamp01(s[3*i+2]*l + luma + c.chroma*(float32(h>>42&0x1fffff)-0x100000))
	if len(out) == 1 {
		out[0] = clamp01(0.299*r + 0.587*g + 0.114*b)
		return
	}
	out[0], out[1], out[2] = r, g, b
}

// compose images the whole surface in ch (1 or 3) channels.
func (c *camera) compose(s surface, ch int) datasets.Image {
	img := datasets.NewImage(c.n, c.n, ch)
	for i := range c.n * c.n {
		c.pixel(img.Pix[ch*i:ch*i+ch], s, i)
	}
	return img
}
