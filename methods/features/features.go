// Package features turns backbone activations into the locally aware patch features memory-bank
// methods compare, and caches them on disk so a notebook extracts once and re-scores many times.
//
// The recipe is PatchCore's (Roth et al., "Towards Total Recall in Industrial Anomaly Detection",
// CVPR 2022, Sec. 3.1, Eq. 1-2): take two mid-level taps (layer2 and layer3), average every position
// over its 3x3 neighbourhood so each feature sees a little context, upsample the deeper tap to the
// shallower tap's grid (bilinear) and concatenate, then reduce the channel axis to D dimensions by
// adaptive average pooling.
package features

import (
	"context"
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/internal/finite"
	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/anomalymap"
)

// Set holds patch features of N images on an H x W grid with D dimensions each, in Data laid out
// [N, H, W, D] row-major: patch (i, y, x) starts at ((i*H+y)*W+x)*D.
type Set struct {
	N, H, W, D int
	Data       []float32
}

// Validate reports whether the sizes match the data.
func (s *Set) Validate() error {
	if s == nil {
		return fmt.Errorf("features: nil set")
	}
	if s.N < 0 || s.H <= 0 || s.W <= 0 || s.D <= 0 {
		return fmt.Errorf("features: invalid set size %dx%dx%dx%d", s.N, s.H, s.W, s.D)
	}
	if len(s.Data) != s.N*s.H*s.W*s.D {
		return fmt.Errorf("features: set %dx%dx%dx%d has %d values, want %d", s.N, s.H, s.W, s.D, len(s.Data), s.N*s.H*s.W*s.D)
	}
	return nil
}

// Patches returns the number of patch vectors, N*H*W.
func (s *Set) Patches() int { return s.N * s.H * s.W }

// PerImage returns the number of patches per image, H*W.
func (s *Set) PerImage() int { return s.H * s.W }

// Image returns the [H*W, D] features of image i (not a copy).
func (s *Set) Image(i int) []float32 {
	n := s.H * s.W * s.D
	return s.Data[i*n : (i+1)*n]
}

// Patch returns the feature vector of image i at grid position (y, x) (not a copy).
func (s *Set) Patch(i, y, x int) []float32 {
	o := ((i*s.H+y)*s.W + x) * s.D
	return s.Data[o : o+s.D]
}

// Subset returns a new Set with the images idx (copied).
func (s *Set) Subset(idx []int) *Set {
	out := &Set{N: len(idx), H: s.H, W: s.W, D: s.D, Data: make([]float32, 0, len(idx)*s.H*s.W*s.D)}
	for _, i := range idx {
		out.Data = append(out.Data, s.Image(i)...)
	}
	return out
}

// Backbone is what features are extracted from; *backbone.Backbone implements it.
type Backbone interface {
	// Extract returns one [N, h, w, c] tensor per tap.
	Extract(ctx context.Context, images methods.Images, batchSize int, taps ...string) ([]*tensors.Tensor, error)
	// Arch and Source identify the network and its weights (for the cache key).
	Arch() string
	Source() string
	// Channels returns the channel count at a tap.
	Channels(tap string) int
}

// Config says how patch features are built. The zero value is PatchCore's recipe with D = 1024.
type Config struct {
	// Taps are the backbone layers used, shallowest first; default layer2 and layer3. Deeper taps are
	// upsampled to the first tap's grid.
	Taps []string `json:"taps"`
	// Neighbourhood is the side p of the local neighbourhood averaged at every position (Eq. 1);
	// default 3. 1 disables it.
	Neighbourhood int `json:"neighbourhood"`
	// Dim is the feature dimension D after adaptive average pooling of the concatenated channels;
	// default 1024. When Dim >= the concatenated channel count, channels are kept as they are.
	Dim int `json:"dim"`
	// BatchSize is the backbone batch size; default 8. Detectors set it to their Settings.FeatureBatch.
	BatchSize int `json:"batch_size"`
	// Chunk is how many images are pushed through the backbone and aggregated at a time, bounding the
	// memory held in raw activations; default 32.
	Chunk int `json:"chunk"`
}

// WithDefaults returns c with every zero field set to its documented default.
func (c Config) WithDefaults() Config {
	if len(c.Taps) == 0 {
		c.Taps = []string{"layer2", "layer3"}
	}
	if c.Neighbourhood <= 0 {
		c.Neighbourhood = 3
	}
	if c.Dim <= 0 {
		c.Dim = 1024
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 8
	}
	if c.Chunk <= 0 {
		c.Chunk = 32
	}
	return c
}

// OutDim returns the feature dimension Extract produces with backbone b: min(Dim, total channels).
func (c Config) OutDim(b Backbone) int {
	c = c.WithDefaults()
	total := 0
	for _, t := range c.Taps {
		total += b.Channels(t)
	}
	return min(c.Dim, total)
}

// Extract computes the patch features of images (all the same size) with backbone b. It processes
// Chunk images at a time and reports progress through ctx. Non-finite features are an error naming the
// image.
func Extract(ctx context.Context, b Backbone, images methods.Images, cfg Config) (*Set, error) {
	cfg = cfg.WithDefaults()
	n := images.Len()
	if n == 0 {
		return nil, fmt.Errorf("features: no images")
	}
	var out *Set
	for lo := 0; lo < n; lo += cfg.Chunk {
		hi := min(lo+cfg.Chunk, n)
		acts, err := b.Extract(ctx, sliceImages{images, lo, hi}, cfg.BatchSize, cfg.Taps...)
		if err != nil {
			return nil, fmt.Errorf("features: %w", err)
		}
		maps := make([]Map, len(acts))
		for i, t := range acts {
			maps[i], err = mapFromTensor(t)
			t.FinalizeAll()
			if err != nil {
				return nil, fmt.Errorf("features: tap %s: %w", cfg.Taps[i], err)
			}
		}
		part, err := Aggregate(maps, cfg.Neighbourhood, cfg.Dim)
		if err != nil {
			return nil, err
		}
		if i := finite.Index(part.Data); i >= 0 {
			// Finite inputs (CheckInput) can still overflow in the backbone.
			img := lo + i/(part.H*part.W*part.D)
			return nil, fmt.Errorf("features: %s: the backbone's features are %s (the input is finite; values too large?)",
				methods.ImageName(images, img), finite.Describe(part.Data[i]))
		}
		if out == nil {
			out = &Set{N: n, H: part.H, W: part.W, D: part.D, Data: make([]float32, 0, n*part.H*part.W*part.D)}
		}
		out.Data = append(out.Data, part.Data...)
	}
	return out, nil
}

// sliceImages is images[lo:hi] as methods.Images.
type sliceImages struct {
	methods.Images
	lo, hi int
}

func (s sliceImages) Len() int { return s.hi - s.lo }

func (s sliceImages) Image(i int) (datasets.Image, error) { return s.Images.Image(s.lo + i) }

// ImageName implements methods.ImageNamer: errors name the file, or the index in the whole collection.
func (s sliceImages) ImageName(i int) string { return methods.ImageName(s.Images, s.lo+i) }

// Map is one tap's activations for N images: [N, H, W, C] row-major.
type Map struct {
	N, H, W, C int
	Data       []float32
}

func mapFromTensor(t *tensors.Tensor) (Map, error) {
	d := t.Shape().Dimensions
	if len(d) != 4 {
		return Map{}, fmt.Errorf("activation shape %v is not [N,H,W,C]", d)
	}
	data, err := tensors.CopyFlatData[float32](t)
	if err != nil {
		return Map{}, err
	}
	return Map{N: d[0], H: d[1], W: d[2], C: d[3], Data: data}, nil
}

// Aggregate builds patch features from tap activations (shallowest first, same N): each tap is averaged
// over its p x p neighbourhood (LocalAverage), deeper taps are resized to the first tap's grid
// (ResizeBilinear), channels are concatenated and pooled to dim (PoolChannels).
func Aggregate(taps []Map, p, dim int) (*Set, error) {
	if len(taps) == 0 {
		return nil, fmt.Errorf("features: no taps to aggregate")
	}
	n, h, w := taps[0].N, taps[0].H, taps[0].W
	total := 0
	for i, t := range taps {
		if t.N != n {
			return nil, fmt.Errorf("features: tap %d has %d images, tap 0 has %d", i, t.N, n)
		}
		if len(t.Data) != t.N*t.H*t.W*t.C {
			return nil, fmt.Errorf("features: tap %d data does not match %dx%dx%dx%d", i, t.N, t.H, t.W, t.C)
		}
		total += t.C
	}
	resized := make([]Map, len(taps))
	for i, t := range taps {
		t = LocalAverage(t, p)
		if t.H != h || t.W != w {
			t = ResizeBilinear(t, h, w)
		}
		resized[i] = t
	}
	// Concatenate channels per patch, then pool them to dim.
	outDim := min(dim, total)
	out := &Set{N: n, H: h, W: w, D: outDim, Data: make([]float32, n*h*w*outDim)}
	concat := make([]float32, total)
	pool := NewChannelPool(total, outDim)
	for q := 0; q < n*h*w; q++ {
		o := 0
		for _, t := range resized {
			copy(concat[o:o+t.C], t.Data[q*t.C:(q+1)*t.C])
			o += t.C
		}
		pool.Apply(out.Data[q*outDim:(q+1)*outDim], concat)
	}
	return out, nil
}

// LocalAverage averages every position over its p x p neighbourhood (stride 1, zero padding p/2,
// dividing by p*p as torch's AvgPool2d with count_include_pad does): PatchCore's local patch
// aggregation (Roth et al. 2022, Eq. 1, with average pooling as the aggregation function).
func LocalAverage(m Map, p int) Map {
	if p <= 1 {
		return m
	}
	r := p / 2
	out := Map{N: m.N, H: m.H, W: m.W, C: m.C, Data: make([]float32, len(m.Data))}
	inv := 1 / float32(p*p)
	c := m.C
	// Separable: sum along rows, then along columns (the zero padding makes this exact).
	tmp := make([]float32, m.H*m.W*c)
	for i := 0; i < m.N; i++ {
		src := m.Data[i*m.H*m.W*c : (i+1)*m.H*m.W*c]
		dst := out.Data[i*m.H*m.W*c : (i+1)*m.H*m.W*c]
		clear(tmp)
		for y := 0; y < m.H; y++ {
			for x := 0; x < m.W; x++ {
				acc := tmp[(y*m.W+x)*c : (y*m.W+x+1)*c]
				for dx := -r; dx <= p-1-r; dx++ {
					xx := x + dx
					if xx < 0 || xx >= m.W {
						continue
					}
					addTo(acc, src[(y*m.W+xx)*c:(y*m.W+xx+1)*c])
				}
			}
		}
		for y := 0; y < m.H; y++ {
			for x := 0; x < m.W; x++ {
				acc := dst[(y*m.W+x)*c : (y*m.W+x+1)*c]
				for dy := -r; dy <= p-1-r; dy++ {
					yy := y + dy
					if yy < 0 || yy >= m.H {
						continue
					}
					addTo(acc, tmp[(yy*m.W+x)*c:(yy*m.W+x+1)*c])
				}
				for k := range acc {
					acc[k] *= inv
				}
			}
		}
	}
	return out
}

func addTo(dst, src []float32) {
	src = src[:len(dst)]
	for i := range dst {
		dst[i] += src[i]
	}
}

// ResizeBilinear resizes every channel to h x w with bilinear interpolation, half-pixel centres and
// no corner alignment (torch.nn.functional.interpolate(mode="bilinear", align_corners=False)).
func ResizeBilinear(m Map, h, w int) Map {
	out := Map{N: m.N, H: h, W: w, C: m.C, Data: make([]float32, m.N*h*w*m.C)}
	y0, y1, fy := anomalymap.LinearTaps(m.H, h, false)
	x0, x1, fx := anomalymap.LinearTaps(m.W, w, false)
	c := m.C
	for i := 0; i < m.N; i++ {
		src := m.Data[i*m.H*m.W*c:]
		dst := out.Data[i*h*w*c:]
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				a := src[(y0[y]*m.W+x0[x])*c:]
				b := src[(y0[y]*m.W+x1[x])*c:]
				cc := src[(y1[y]*m.W+x0[x])*c:]
				d := src[(y1[y]*m.W+x1[x])*c:]
				wa := (1 - fy[y]) * (1 - fx[x])
				wb := (1 - fy[y]) * fx[x]
				wc := fy[y] * (1 - fx[x])
				wd := fy[y] * fx[x]
				o := dst[(y*w+x)*c : (y*w+x+1)*c]
				for k := range o {
					o[k] = wa*a[k] + wb*b[k] + wc*cc[k] + wd*d[k]
				}
			}
		}
	}
	return out
}

// ChannelPool is 1-D adaptive average pooling from In to Out values (torch's adaptive_avg_pool1d):
// output j averages inputs [floor(j*In/Out), ceil((j+1)*In/Out)). PatchCore uses it to bring patch
// features to a fixed dimension D (Roth et al. 2022, Sec. 3.1 and reference implementation).
type ChannelPool struct {
	In, Out    int
	start, end []int
}

// NewChannelPool precomputes the pooling windows.
func NewChannelPool(in, out int) *ChannelPool {
	p := &ChannelPool{In: in, Out: out, start: make([]int, out), end: make([]int, out)}
	for j := 0; j < out; j++ {
		p.start[j] = j * in / out
		p.end[j] = ((j+1)*in + out - 1) / out
	}
	return p
}

// Apply writes the pooled values of src (len In) to dst (len Out).
func (p *ChannelPool) Apply(dst, src []float32) {
	if p.In == p.Out {
		copy(dst, src)
		return
	}
	for j := range dst[:p.Out] {
		var s float32
		for _, v := range src[p.start[j]:p.end[j]] {
			s += v
		}
		dst[j] = s / float32(p.end[j]-p.start[j])
	}
}
