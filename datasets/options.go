package datasets

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/gonomaly/gonomaly/internal/finite"
)

// Options configures how a loader turns files into samples. The zero value keeps images at their
// native size, in RGB, without validation split or normalisation.
type Options struct {
	// ImageSize resizes every image to ImageSize x ImageSize (bilinear with antialiasing; masks by
	// nearest neighbour). Default (0): keep the native size.
	ImageSize int
	// CropSize takes the central CropSize x CropSize window after resizing (PatchCore's 256 -> 224
	// recipe). Default (0): no crop.
	CropSize int
	// Channels is 1 (grey) or 3 (RGB). Default (0): 3.
	Channels int
	// ValFraction moves this fraction of the train split (chosen with Seed) into a validation split.
	// Default (0): no validation split (Dataset.Val is an empty split).
	ValFraction float64
	// Shuffle puts the train split in a seeded random order (Seed). Default: sorted file order.
	Shuffle bool
	// Seed drives the validation choice and shuffling. Default 0 (still deterministic).
	Seed uint64
	// Mean and Std, when set, normalise images with Normalize (e.g. ImageNetMean, ImageNetStd).
	// Default (nil): values stay in [0, 1], which is what methods expect.
	Mean, Std []float32
	// Limits bounds accepted image sizes. Default: DefaultMaxSide, DefaultMaxPixels.
	Limits Limits
}

func (o Options) validate() (Options, error) {
	if o.Channels == 0 {
		o.Channels = 3
	}
	switch {
	case o.Channels != 1 && o.Channels != 3:
		return o, fmt.Errorf("Options.Channels must be 1 or 3, got %d", o.Channels)
	case o.ImageSize < 0 || o.CropSize < 0:
		return o, fmt.Errorf("Options.ImageSize (%d) and CropSize (%d) must not be negative", o.ImageSize, o.CropSize)
	case o.ImageSize > 0 && o.CropSize > o.ImageSize:
		return o, fmt.Errorf("Options.CropSize %d is larger than ImageSize %d", o.CropSize, o.ImageSize)
	case o.ValFraction < 0 || o.ValFraction >= 1:
		return o, fmt.Errorf("Options.ValFraction must be in [0, 1), got %g", o.ValFraction)
	case (o.Mean == nil) != (o.Std == nil):
		return o, fmt.Errorf("Options.Mean and Options.Std must be set together")
	}
	if o.Mean != nil {
		for _, v := range [][]float32{o.Mean, o.Std} {
			if len(v) != 1 && len(v) != o.Channels {
				return o, fmt.Errorf("Options.Mean/Std need 1 or %d values, got %d", o.Channels, len(v))
			}
		}
		for i, s := range o.Std {
			if finite.Index([]float32{s, o.Mean[min(i, len(o.Mean)-1)]}) >= 0 {
				return o, fmt.Errorf("Options.Mean/Std[%d] is not finite", i)
			}
			if s == 0 {
				return o, fmt.Errorf("Options.Std[%d] is zero", i)
			}
		}
	}
	o.Limits = o.Limits.orDefault()
	return o, nil
}

// Transform applies the options' resize, crop and normalisation to a decoded image and its mask
// (which must have the same height and width; pass a zero Image for no mask).
func (o Options) Transform(im, mask Image) (Image, Image, error) {
	o, err := o.validate()
	if err != nil {
		return Image{}, Image{}, err
	}
	return o.transform(im, mask)
}

func (o Options) transform(im, mask Image) (Image, Image, error) {
	hasMask := mask.H > 0
	if hasMask && (mask.H != im.H || mask.W != im.W) {
		return Image{}, Image{}, fmt.Errorf("mask is %dx%d but image is %dx%d", mask.W, mask.H, im.W, im.H)
	}
	if o.ImageSize > 0 {
		im = Resize(im, o.ImageSize, o.ImageSize)
		if hasMask {
			mask = ResizeNearest(mask, o.ImageSize, o.ImageSize)
		}
	}
	if o.CropSize > 0 {
		var err error
		if im, err = CenterCrop(im, o.CropSize, o.CropSize); err != nil {
			return Image{}, Image{}, err
		}
		if hasMask {
			mask, _ = CenterCrop(mask, o.CropSize, o.CropSize)
		}
	}
	if o.Mean != nil {
		var err error
		if im, err = Normalize(im, o.Mean, o.Std); err != nil {
			return Image{}, Image{}, err
		}
	}
	return im, mask, nil
}

// DiskSource loads items from their ImagePath and MaskPath with the options' transforms. It is safe for
// concurrent use. Normal items get an all-zero mask of the image's size; an anomalous item without
// MaskPath (a folder dataset without masks) gets an empty mask (H == W == 0).
type DiskSource struct {
	Options Options
	// Skipped lists the files the loader found but did not read because they are not images.
	Skipped []string
}

// NewDiskSource validates opts and returns a source that reads files with them.
func NewDiskSource(opts Options) (*DiskSource, error) {
	o, err := opts.validate()
	if err != nil {
		return nil, err
	}
	return &DiskSource{Options: o}, nil
}

// Load implements Source. Errors name the file.
func (s *DiskSource) Load(it Item) (Sample, error) {
	o := s.Options
	if it.ImagePath == "" {
		return Sample{}, fmt.Errorf("item %q has no image path", it.ID)
	}
	g, err := decodeGoFile(it.ImagePath, o.Limits)
	if err != nil {
		return Sample{}, err
	}
	W, H := g.Bounds().Dx(), g.Bounds().Dy()
	var mask Image
	switch {
	case it.MaskPath != "":
		if mask, err = DecodeMaskFile(it.MaskPath, o.Limits); err != nil {
			return Sample{}, err
		}
		if mask.H != H || mask.W != W {
			return Sample{}, fmt.Errorf("%s: mask is %dx%d but image %s is %dx%d", quote(it.MaskPath), mask.W, mask.H, quote(it.ImagePath), W, H)
		}
	}
	// Resize while converting (no full-size float image), then crop and normalise.
	var im Image
	if o.ImageSize > 0 {
		im, err = ResizeGo(g, o.Channels, o.ImageSize, o.ImageSize)
		if mask.H > 0 {
			mask = ResizeNearest(mask, o.ImageSize, o.ImageSize)
		}
	} else {
		im, err = FromGoImage(g, o.Channels)
	}
	if err != nil {
		return Sample{}, fmt.Errorf("%s: %w", quote(it.ImagePath), err)
	}
	o.ImageSize = 0
	im, mask, err = o.transform(im, mask)
	if err != nil {
		return Sample{}, fmt.Errorf("%s: %w", quote(it.ImagePath), err)
	}
	if err := im.CheckFinite(); err != nil {
		// Decoded pixels are in [0, 1]: only the normalisation can overflow.
		return Sample{}, fmt.Errorf("%s: after normalising with Options.Mean/Std (is a Std too small?): %w", quote(it.ImagePath), err)
	}
	if it.MaskPath == "" && it.Label == Normal {
		mask = NewImage(im.H, im.W, 1) // made at the final size: nothing to resize
	}
	return Sample{Item: it, Image: im, Mask: mask}, nil
}

// LoadImage implements ImageSource: the image as Load returns it, without reading the mask file.
// Errors name the file.
func (s *DiskSource) LoadImage(it Item) (Image, error) {
	it.MaskPath, it.Label = "", Anomalous // no mask file, no all-zero mask
	smp, err := s.Load(it)
	return smp.Image, err
}

// LoadMask implements MaskSource: it returns the item's mask as Load would, reading only the image
// file's header (for its size) and the mask file, never decoding the image. Errors name the file.
func (s *DiskSource) LoadMask(it Item) (Image, error) {
	o := s.Options
	if it.ImagePath == "" {
		return Image{}, fmt.Errorf("item %q has no image path", it.ID)
	}
	cfg, err := DecodeConfigFile(it.ImagePath, o.Limits)
	if err != nil {
		return Image{}, err
	}
	W, H := cfg.Width, cfg.Height
	if it.MaskPath == "" {
		if it.Label != Normal {
			return Image{}, nil // as Load: an anomalous item without a mask file has an empty mask
		}
		if o.ImageSize > 0 {
			W, H = o.ImageSize, o.ImageSize
		}
		if o.CropSize > 0 {
			if o.CropSize > W || o.CropSize > H {
				return Image{}, fmt.Errorf("%s: centre crop %dx%d does not fit in image %dx%d", quote(it.ImagePath), o.CropSize, o.CropSize, W, H)
			}
			W, H = o.CropSize, o.CropSize
		}
		return NewImage(H, W, 1), nil
	}
	mask, err := DecodeMaskFile(it.MaskPath, o.Limits)
	if err != nil {
		return Image{}, err
	}
	if mask.H != H || mask.W != W {
		return Image{}, fmt.Errorf("%s: mask is %dx%d but image %s is %dx%d", quote(it.MaskPath), mask.W, mask.H, quote(it.ImagePath), W, H)
	}
	if o.ImageSize > 0 {
		mask = ResizeNearest(mask, o.ImageSize, o.ImageSize)
	}
	if o.CropSize > 0 {
		if mask, err = CenterCrop(mask, o.CropSize, o.CropSize); err != nil {
			return Image{}, fmt.Errorf("%s: %w", quote(it.MaskPath), err)
		}
	}
	return mask, nil
}

// SkippedFiles implements the optional interface Summary uses to count non-image files.
func (s *DiskSource) SkippedFiles() []string { return s.Skipped }

// listing collects image files and skipped non-image files while a loader walks its layout.
type listing struct {
	mu      sync.Mutex
	skipped []string
}

// images returns the sorted image files directly in dir (not recursive). Only regular files (or links
// to them) are images: a FIFO, socket or device named like an image would block or fail when opened.
// Other files, hidden ones (".DS_Store", "._x.png") and non-regular ones included, are recorded as
// skipped; sub-directories are ignored.
func (l *listing) images(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading folder: %w", err) // *PathError names dir
	}
	var out []string
	for _, e := range entries {
		if isDir(dir, e) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if IsImageFile(e.Name()) && !strings.HasPrefix(e.Name(), ".") && isRegular(dir, e) {
			out = append(out, p)
		} else {
			l.mu.Lock()
			l.skipped = append(l.skipped, p)
			l.mu.Unlock()
		}
	}
	sort.Strings(out)
	return out, nil
}

// subdirs returns the sorted names of the sub-directories of dir.
func subdirs(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading folder: %w", err)
	}
	var out []string
	for _, e := range entries {
		if isDir(dir, e) && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// isDir reports whether a directory entry is a folder, following symbolic links (datasets are often
// assembled from links).
func isDir(dir string, e os.DirEntry) bool {
	if e.Type()&os.ModeSymlink != 0 {
		st, err := os.Stat(filepath.Join(dir, e.Name()))
		return err == nil && st.IsDir()
	}
	return e.IsDir()
}

// isRegular reports whether a directory entry is a regular file, following symbolic links.
func isRegular(dir string, e os.DirEntry) bool {
	if e.Type()&os.ModeSymlink != 0 {
		st, err := os.Stat(filepath.Join(dir, e.Name()))
		return err == nil && st.Mode().IsRegular()
	}
	return e.Type().IsRegular()
}

// requireDir returns a clear error if dir is not an existing directory.
func requireDir(dir, what string) error {
	st, err := os.Stat(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return fmt.Errorf("%s: missing %s folder", dir, what)
		}
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s: %s is not a folder", dir, what)
	}
	return nil
}

// stem returns a file name without directory and extension.
func stem(path string) string {
	b := filepath.Base(path)
	return strings.TrimSuffix(b, filepath.Ext(b))
}

// findWithStem returns the first image file in dir whose name is one of the given stems with any image
// extension (exact extension case first, then any case), or "" if none exists.
func findWithStem(dir string, stems ...string) string {
	for _, s := range stems {
		for _, ext := range []string{".png", ".bmp", ".tif", ".tiff", ".jpg", ".jpeg", ".PNG", ".BMP", ".TIF", ".TIFF", ".JPG", ".JPEG"} {
			p := filepath.Join(dir, s+ext)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				return p
			}
		}
	}
	return ""
}

// assemble builds the Dataset from the train and test items: it checks the train split is not empty,
// takes the validation split from train and shuffles train as the options say.
// where names the train folder (or split file) in errors.
func assemble(benchmark, category, where string, train, test []Item, src *DiskSource, l *listing) (*Dataset, error) {
	if len(train) == 0 {
		return nil, fmt.Errorf("%s: %s/%s has an empty train split (no normal training images found)", where, benchmark, category)
	}
	sort.Strings(l.skipped)
	src.Skipped = l.skipped
	o := src.Options
	trainSplit := &Split{Name: "train", Category: category, Items: train, Source: src}
	valSplit := &Split{Name: "val", Category: category, Source: src}
	if o.ValFraction > 0 {
		nVal := int(float64(len(train))*o.ValFraction + 0.5)
		nVal = min(max(nVal, 1), len(train)-1)
		if nVal < 1 {
			return nil, fmt.Errorf("%s: %s/%s has %d train images, too few to take a validation split", where, benchmark, category, len(train))
		}
		r := rand.New(rand.NewPCG(o.Seed, o.Seed^0x5851f42d4c957f2d))
		perm := r.Perm(len(train))
		valIdx := append([]int(nil), perm[:nVal]...)
		trainIdx := append([]int(nil), perm[nVal:]...)
		// Keep file order inside each split unless shuffling is asked for.
		sort.Ints(valIdx)
		sort.Ints(trainIdx)
		valSplit = trainSplit.Subset("val", valIdx)
		trainSplit = trainSplit.Subset("train", trainIdx)
	}
	if o.Shuffle {
		trainSplit = trainSplit.Shuffled(o.Seed)
	}
	return &Dataset{
		Benchmark: benchmark, Category: category,
		Train: trainSplit, Val: valSplit,
		Test: &Split{Name: "test", Category: category, Items: test, Source: src},
	}, nil
}
