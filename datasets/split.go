package datasets

import (
	"fmt"
	"math/rand/v2"
)

// GoodDefect is the defect type of normal samples, as in MVTec AD's folder names.
const GoodDefect = "good"

// Item is one entry of a split: where it comes from and what it is, without its pixels.
type Item struct {
	// ID is a stable, human-readable name, e.g. "test/crack/003.png".
	ID string
	// ImagePath and MaskPath locate files on disk; both are empty for generated items and MaskPath is
	// empty for normal images (their mask is all zero).
	ImagePath, MaskPath string
	// Label is Normal or Anomalous; Defect is the defect type ("good" for normal items).
	Label  Label
	Defect string
	// Index is a source-specific number (e.g. the seed offset of a synthetic sample).
	Index int
}

// Sample is a loaded Item: its image and its mask (C == 1, values 0 or 1, same H and W as the image).
type Sample struct {
	Item
	Image Image
	Mask  Image
}

// Source produces the pixels of items, already resized and converted as the dataset was configured.
// Implementations must be safe for concurrent use.
type Source interface {
	Load(it Item) (Sample, error)
}

// Split is an ordered list of items with the source that loads them. It streams: pixels are loaded
// on each call. It implements methods.Images (Len and Image).
type Split struct {
	// Name is "train", "val" or "test"; Category is e.g. "bottle".
	Name, Category string
	Items          []Item
	Source         Source
}

// Len returns the number of items.
func (s *Split) Len() int { return len(s.Items) }

// Sample loads item i.
func (s *Split) Sample(i int) (Sample, error) {
	if i < 0 || i >= len(s.Items) {
		return Sample{}, fmt.Errorf("%s/%s: index %d out of range [0,%d)", s.Category, s.Name, i, len(s.Items))
	}
	return s.Source.Load(s.Items[i])
}

// Image loads the image of item i. With an ImageSource (DiskSource is one) it does not read the mask:
// detectors score images, and a bad mask must not stop them (Sample and the evaluation still read it).
func (s *Split) Image(i int) (Image, error) {
	if src, ok := s.Source.(ImageSource); ok {
		if i < 0 || i >= len(s.Items) {
			return Image{}, fmt.Errorf("%s/%s: index %d out of range [0,%d)", s.Category, s.Name, i, len(s.Items))
		}
		return src.LoadImage(s.Items[i])
	}
	smp, err := s.Sample(i)
	return smp.Image, err
}

// ImageSource is implemented by sources that can load an item's image without its mask.
type ImageSource interface {
	LoadImage(it Item) (Image, error)
}

// ImageName returns where item i comes from, for error messages: its image file, or for generated
// items the split's category and the item's ID. It implements methods.ImageNamer.
func (s *Split) ImageName(i int) string {
	if i < 0 || i >= len(s.Items) {
		return fmt.Sprintf("%s/%s: item %d", s.Category, s.Name, i)
	}
	if p := s.Items[i].ImagePath; p != "" {
		return quote(p)
	}
	return s.Category + "/" + s.Items[i].ID
}

// MaskSource is implemented by sources that can load an item's ground-truth mask without decoding its
// image (DiskSource reads only the image's header for the size of a normal item's all-zero mask).
type MaskSource interface {
	LoadMask(it Item) (Image, error)
}

// Mask loads the ground-truth mask of item i (all zero for a normal item), without decoding the image
// when the source is a MaskSource.
func (s *Split) Mask(i int) (Image, error) {
	if i < 0 || i >= len(s.Items) {
		return Image{}, fmt.Errorf("%s/%s: index %d out of range [0,%d)", s.Category, s.Name, i, len(s.Items))
	}
	if ms, ok := s.Source.(MaskSource); ok {
		return ms.LoadMask(s.Items[i])
	}
	smp, err := s.Sample(i)
	return smp.Mask, err
}

// Labels returns the labels of all items, in order.
func (s *Split) Labels() []Label {
	out := make([]Label, len(s.Items))
	for i, it := range s.Items {
		out[i] = it.Label
	}
	return out
}

// Masks loads the ground-truth mask of every item, in order (all zero for normal items): what the
// pixel metrics compare anomaly maps with. It decodes no image when the source is a MaskSource.
func (s *Split) Masks() ([]Image, error) {
	out := make([]Image, len(s.Items))
	for i := range s.Items {
		m, err := s.Mask(i)
		if err != nil {
			return nil, err
		}
		out[i] = m
	}
	return out, nil
}

// Defects returns the defect type of every item, in order.
func (s *Split) Defects() []string {
	out := make([]string, len(s.Items))
	for i, it := range s.Items {
		out[i] = it.Defect
	}
	return out
}

// Subset returns a split with the items at the given indices, sharing the source.
func (s *Split) Subset(name string, idx []int) *Split {
	out := &Split{Name: name, Category: s.Category, Source: s.Source, Items: make([]Item, len(idx))}
	for i, j := range idx {
		out.Items[i] = s.Items[j]
	}
	return out
}

// Shuffled returns a copy of the split with its items in a seeded random order.
func (s *Split) Shuffled(seed uint64) *Split {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	idx := r.Perm(len(s.Items))
	return s.Subset(s.Name, idx)
}

// Dataset is one category of a benchmark: a train split of normal images, an optional validation split
// taken from train, and a test split of normal and anomalous images.
type Dataset struct {
	// Benchmark is e.g. "mvtec", "btad", "synth"; Category e.g. "bottle".
	Benchmark, Category string
	Train, Val, Test    *Split
}
