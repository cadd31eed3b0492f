package methods

import (
	"fmt"
	"strings"

	"github.com/gonomaly/gonomaly/datasets"
)

// DefaultBackboneSeed is the seed of the seeded backbone initialisation every preset uses when no
// pretrained weights load, so that methods of different families compared on the same architecture see
// the same features.
const DefaultBackboneSeed = 0

// DefaultFeatureBatch is the default of Settings.FeatureBatch.
const DefaultFeatureBatch = 8

// NoBackbone is the Backbone of methods that use no pretrained network (they train from scratch on
// pixels): their Weights must be "" or "random", and their checkpoints record no backbone.
const NoBackbone = "none"

// CheckNoBackbone returns an error, naming the weights, when a method without a backbone is given
// weights to load: they would be silently ignored.
func (s Settings) CheckNoBackbone(method string) error {
	if s.Backbone != NoBackbone {
		return fmt.Errorf("%s: Backbone %q: this method uses no backbone (set %q)", method, s.Backbone, NoBackbone)
	}
	if s.Weights != "" && s.Weights != "random" {
		return fmt.Errorf("%s: Weights %s: this method uses no backbone, so it has no weights to load", method, s.Weights)
	}
	return nil
}

// Settings are the configuration fields every method has, with the same names and meaning. Each
// method's Config embeds Settings (its JSON fields are inlined), and its Paper() and CPU() presets fill
// them. Zero fields take the defaults given here or, for ImageSize and Backbone, the method's.
type Settings struct {
	// ImageSize is the side of the square input: Fit and Predict accept only ImageSize x ImageSize
	// images (W x H) and fail, naming the file, on any other size. Load data at this size with
	// datasets.Options{ImageSize: ...} (or synth.Options{Size: ...}).
	ImageSize int `json:"image_size"`
	// Backbone is the pretrained network's architecture (backbone.Architectures), e.g. "resnet18", or
	// NoBackbone for methods that train from scratch on pixels (DRAEM).
	Backbone string `json:"backbone"`
	// Weights says where the backbone's weights come from (backbone.Options.Weights): "" for ImageNet
	// weights from the cache or hub (seeded fallback with a notice when offline), a .safetensors path
	// (New fails at once when it cannot be read), a hub id, or "random" for the seeded initialisation.
	Weights string `json:"weights,omitempty"`
	// WidthDiv divides the backbone's channel counts (tests and tiny experiments); default 1.
	WidthDiv int `json:"width_div,omitempty"`
	// BackboneSeed drives the seeded backbone initialisation used when no pretrained weights load;
	// every preset uses DefaultBackboneSeed.
	BackboneSeed uint64 `json:"backbone_seed"`
	// Seed drives the method's own randomness (coreset projection, network initialisation, shuffling,
	// synthetic anomalies), and nothing of the backbone.
	Seed uint64 `json:"seed"`
	// FeatureBatch is how many images go through the backbone at a time, in Fit's feature extraction
	// and in Predict, which streams: it loads, scores and releases FeatureBatch images at a time, so its
	// working memory is bounded by FeatureBatch and not by the number of images. It is the memory knob:
	// halving it roughly halves the backend's buffers at a small cost in speed. Default 8
	// (DefaultFeatureBatch).
	FeatureBatch int `json:"feature_batch"`
	// ImageScore is how the image score is computed from the anomaly map (see ImageScore); "" is the
	// method's paper's choice.
	ImageScore ImageScore `json:"image_score,omitempty"`
}

// ImageScore names a rule turning a detector's patch scores and anomaly map into one image score. The
// same names mean the same rule in every method; a method rejects at New the ones it cannot compute.
type ImageScore string

// The image-score rules.
const (
	// ScoreMapMax is the maximum of the anomaly map after upsampling and smoothing, as the reference
	// implementations (anomalib, the official Reverse Distillation code) compute it.
	ScoreMapMax ImageScore = "map_max"
	// ScorePatchMax is the largest raw patch score, before upsampling and smoothing.
	ScorePatchMax ImageScore = "patch_max"
	// ScoreReweighted is PatchCore's re-weighted score (Roth et al., Eq. 7): the largest patch score
	// scaled by how dense the memory bank is around its nearest neighbour. Memory-bank methods only.
	ScoreReweighted ImageScore = "reweighted"
)

// WithDefaults returns s with zero fields set: FeatureBatch to DefaultFeatureBatch, WidthDiv to 1, and
// ImageSize, Backbone and ImageScore to the method's defaults given in def.
func (s Settings) WithDefaults(def Settings) Settings {
	if s.ImageSize == 0 {
		s.ImageSize = def.ImageSize
	}
	if s.Backbone == "" {
		s.Backbone = def.Backbone
	}
	if s.ImageScore == "" {
		s.ImageScore = def.ImageScore
	}
	if s.FeatureBatch == 0 {
		s.FeatureBatch = DefaultFeatureBatch
	}
	if s.WidthDiv == 0 {
		s.WidthDiv = 1
	}
	return s
}

// Validate checks the settings a method name uses: a positive ImageSize of at least minSize (the
// smallest input the method's network takes) and a multiple of multiple (1 for any), a backbone, a
// positive FeatureBatch, and an ImageScore among allowed.
func (s Settings) Validate(method string, minSize, multiple int, allowed ...ImageScore) error {
	switch {
	case s.ImageSize < minSize:
		return fmt.Errorf("%s: ImageSize %d is too small (at least %d)", method, s.ImageSize, minSize)
	case multiple > 1 && s.ImageSize%multiple != 0:
		return fmt.Errorf("%s: ImageSize %d must be a multiple of %d", method, s.ImageSize, multiple)
	case s.Backbone == "":
		return fmt.Errorf("%s: no Backbone set", method)
	case s.FeatureBatch < 1:
		return fmt.Errorf("%s: FeatureBatch %d must be positive", method, s.FeatureBatch)
	case s.WidthDiv < 0:
		return fmt.Errorf("%s: WidthDiv %d must not be negative", method, s.WidthDiv)
	}
	for _, a := range allowed {
		if s.ImageScore == a {
			return nil
		}
	}
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = string(a)
	}
	return fmt.Errorf("%s: ImageScore %q is not one of %s", method, s.ImageScore, strings.Join(names, ", "))
}

// Configured is implemented by every catalogue detector: it reports the shared settings it was built
// with (defaults applied).
type Configured interface {
	Settings() Settings
}

// ImageNamer is implemented by image collections that can say where an image comes from (a file path or
// an item ID); errors about an image name it. datasets.Split implements it.
type ImageNamer interface {
	ImageName(i int) string
}

// ImageName returns the name of image i of images: its file or ID when images is an ImageNamer, else
// "image i".
func ImageName(images Images, i int) string {
	if n, ok := images.(ImageNamer); ok {
		if s := n.ImageName(i); s != "" {
			return s
		}
	}
	return fmt.Sprintf("image %d", i)
}

// CheckInput returns a clear error when image i of images is not the ImageSize x ImageSize input the
// settings ask for (or has c channels when c > 0, or holds a NaN or an infinity): the error names the file, gives sizes as W x H as the
// datasets package does, and says what to set.
func (s Settings) CheckInput(images Images, i int, img datasets.Image, c int) error {
	name := ImageName(images, i)
	if err := img.Validate(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := img.CheckFinite(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if img.W != s.ImageSize || img.H != s.ImageSize {
		return fmt.Errorf("%s is %dx%d (W x H) but the detector's ImageSize is %d: load the data with datasets.Options{ImageSize: %d} (synth.Options{Size: %d}), or set ImageSize to match",
			name, img.W, img.H, s.ImageSize, s.ImageSize, s.ImageSize)
	}
	if c > 0 && img.C != c {
		return fmt.Errorf("%s has %d channels; the detector was fitted on %d (datasets.Options.Channels)", name, img.C, c)
	}
	return nil
}

// Checked wraps images so that every Image(i) call fails with CheckInput's error when the image is not
// the input the settings ask for (c channels when c > 0). Detectors read their inputs through it.
func (s Settings) Checked(images Images, c int) Images { return checkedImages{images, s, c} }

type checkedImages struct {
	Images
	s Settings
	c int
}

func (ci checkedImages) Image(i int) (datasets.Image, error) {
	img, err := ci.Images.Image(i)
	if err != nil {
		return img, err
	}
	return img, ci.s.CheckInput(ci.Images, i, img, ci.c)
}

// ImageName implements ImageNamer.
func (ci checkedImages) ImageName(i int) string { return ImageName(ci.Images, i) }

// Slice returns images lo..hi-1 of images as Images (names kept).
func Slice(images Images, lo, hi int) Images { return slicedImages{images, lo, hi} }

type slicedImages struct {
	Images
	lo, hi int
}

func (s slicedImages) Len() int                            { return s.hi - s.lo }
func (s slicedImages) Image(i int) (datasets.Image, error) { return s.Images.Image(s.lo + i) }
func (s slicedImages) ImageName(i int) string              { return ImageName(s.Images, s.lo+i) }
