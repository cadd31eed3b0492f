package features

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/internal/finite"
	"github.com/gonomaly/gonomaly/methods"
	"github.com/gonomaly/gonomaly/methods/safetensors"
)

// AggregationVersion changes whenever the feature recipe in this package changes, so caches written
// by an older recipe are not reused.
const AggregationVersion = 1

// Key identifies a cached feature set: change any field and the cache misses.
type Key struct {
	// Dataset names the data, e.g. "synth/screws"; Split is "train", "test", ...
	Dataset, Split string
	// Items fingerprints the split's contents (see SplitFingerprint), so a regenerated or edited
	// dataset is not mistaken for the old one.
	Items string
	// Backbone is the architecture, Weights where its weights came from (file, hub id, or seed).
	Backbone, Weights string
	// ImageH and ImageW are the input size.
	ImageH, ImageW int
	// Config is the aggregation recipe (taps, neighbourhood, D).
	Config Config
	// Extra is free text for anything else that changes the features.
	Extra string
}

// canonical returns the key's identity as JSON (batch size and chunk do not change features).
func (k Key) canonical() []byte {
	c := k.Config.WithDefaults()
	c.BatchSize, c.Chunk = 0, 0
	k.Config = c
	b, _ := json.Marshal(struct {
		Key
		Version int
	}{k, AggregationVersion})
	return b
}

// Hash returns the key's SHA-256 in hex, the cache file's name.
func (k Key) Hash() string {
	s := sha256.Sum256(k.canonical())
	return hex.EncodeToString(s[:])
}

// Cache stores feature sets as safetensors files in Dir, one per Key. Writes are atomic (temporary
// file and rename), so concurrent notebook cells and interrupted runs never leave a half-written entry.
// Every entry carries the SHA-256 of its values: a damaged entry is reported (ErrCorruptEntry) and
// GetOrCompute recomputes it instead of using it.
type Cache struct {
	Dir string
	// Warnings receives one line per damaged entry GetOrCompute recomputes. Default (nil): os.Stderr.
	Warnings io.Writer
}

// ErrCorruptEntry marks Load's errors about an entry that exists but is damaged: unreadable, with a
// header that does not match its key, without a checksum, with values that do not match it, or with
// non-finite values.
var ErrCorruptEntry = errors.New("damaged feature cache entry")

// Path returns the file holding k's features.
func (c Cache) Path(k Key) string {
	return filepath.Join(c.Dir, "features-"+k.Hash()[:32]+".safetensors")
}

const (
	metaKey    = "gonomaly.features.key"
	metaSum    = "gonomaly.features.sha256"
	tensorName = "features"
)

// valuesDigest is the SHA-256 (hex) of float32 values, little-endian.
func valuesDigest(x []float32) string {
	h := sha256.New()
	buf := make([]byte, 0, 1<<16)
	for lo := 0; lo < len(x); lo += 1 << 14 {
		buf = buf[:0]
		for _, v := range x[lo:min(lo+1<<14, len(x))] {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
		h.Write(buf)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Load returns the cached set for k; ok is false (and err nil) when there is none. A file that exists
// but is damaged is an error naming the file and wrapping ErrCorruptEntry.
func (c Cache) Load(k Key) (s *Set, ok bool, err error) {
	path := c.Path(k)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	corrupt := func(format string, a ...any) error {
		return fmt.Errorf("features cache: %q: %w: %s", path, ErrCorruptEntry, fmt.Sprintf(format, a...))
	}
	ts, meta, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, false, fmt.Errorf("features cache: %w: %w", ErrCorruptEntry, err)
	}
	if meta[metaKey] != string(k.canonical()) {
		// The file name is the key's hash: a header that differs is damaged, not another key's.
		return nil, false, corrupt("its header does not match its key")
	}
	t, found := ts[tensorName]
	if !found || len(t.Shape) != 4 {
		return nil, false, corrupt("no [N,H,W,D] tensor %q", tensorName)
	}
	switch sum := meta[metaSum]; {
	case sum == "":
		return nil, false, corrupt("no checksum (written by an older gonomaly)")
	case sum != valuesDigest(t.Data):
		return nil, false, corrupt("its values do not match their checksum")
	}
	s = &Set{N: t.Shape[0], H: t.Shape[1], W: t.Shape[2], D: t.Shape[3], Data: t.Data}
	if err := s.Validate(); err != nil {
		return nil, false, corrupt("%v", err)
	}
	if i := finite.Index(s.Data); i >= 0 {
		return nil, false, corrupt("value %d is %s", i, finite.Describe(s.Data[i]))
	}
	return s, true, nil
}

// Store writes s under k atomically, creating Dir if needed.
func (c Cache) Store(k Key, s *Set) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return fmt.Errorf("features cache: %w", err)
	}
	return safetensors.WriteFile(c.Path(k), map[string]safetensors.Tensor{
		tensorName: {DType: "F32", Shape: []int{s.N, s.H, s.W, s.D}, Data: s.Data},
	}, map[string]string{metaKey: string(k.canonical()), metaSum: valuesDigest(s.Data)})
}

// GetOrCompute returns the cached set for k, or computes it with fn and stores it. hit says whether the
// cache was used. A damaged entry (ErrCorruptEntry) is reported on c.Warnings and recomputed.
func (c Cache) GetOrCompute(k Key, fn func() (*Set, error)) (s *Set, hit bool, err error) {
	s, ok, err := c.Load(k)
	switch {
	case errors.Is(err, ErrCorruptEntry):
		w := c.Warnings
		if w == nil {
			w = os.Stderr
		}
		fmt.Fprintf(w, "warning: %v; recomputing it\n", err)
	case err != nil || ok:
		return s, ok, err
	}
	s, err = fn()
	if err != nil {
		return nil, false, err
	}
	return s, false, c.Store(k, s)
}

// SplitFingerprint hashes what a split holds: each item's ID, label, defect, index and paths, plus the
// size and modification time of files on disk, so edited images invalidate cached features.
func SplitFingerprint(s *datasets.Split) string {
	h := sha256.New()
	for _, it := range s.Items {
		fmt.Fprintf(h, "%s|%d|%s|%d|%s|%s", it.ID, it.Label, it.Defect, it.Index, it.ImagePath, it.MaskPath)
		for _, p := range []string{it.ImagePath, it.MaskPath} {
			if p == "" {
				continue
			}
			if st, err := os.Stat(p); err == nil {
				h.Write([]byte("|" + strconv.FormatInt(st.Size(), 10) + "|" + strconv.FormatInt(st.ModTime().UnixNano(), 10)))
			}
		}
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// KeyFor builds the cache key of split's features extracted by b with cfg; dataset names the data
// (e.g. "synth/screws"). The image size is read from the split's first image.
func KeyFor(dataset string, split *datasets.Split, b Backbone, cfg Config) (Key, error) {
	if split == nil || split.Len() == 0 {
		return Key{}, fmt.Errorf("features: empty split for %s", dataset)
	}
	img, err := split.Image(0)
	if err != nil {
		return Key{}, fmt.Errorf("features: %s/%s: %w", dataset, split.Name, err)
	}
	return Key{
		Dataset: dataset, Split: split.Name, Items: SplitFingerprint(split),
		Backbone: b.Arch() + channelsID(b, cfg.WithDefaults().Taps), Weights: b.Source(),
		ImageH: img.H, ImageW: img.W, Config: cfg.WithDefaults(),
	}, nil
}

// channelsID records tap widths, which tell reduced-width test backbones apart from full ones.
func channelsID(b Backbone, taps []string) string {
	s := ""
	for _, t := range taps {
		s += fmt.Sprintf("/%s:%d", t, b.Channels(t))
	}
	return s
}

// ExtractCached returns split's features from cache when present, else extracts and stores them.
// With a zero Cache (Dir == "") it always extracts.
func ExtractCached(ctx context.Context, c Cache, dataset string, split *datasets.Split, b Backbone, cfg Config) (*Set, error) {
	if c.Dir == "" {
		return Extract(ctx, b, split, cfg)
	}
	k, err := KeyFor(dataset, split, b, cfg)
	if err != nil {
		return nil, err
	}
	s, hit, err := c.GetOrCompute(k, func() (*Set, error) { return Extract(ctx, b, split, cfg) })
	if err == nil && hit {
		methods.ReportProgress(ctx, methods.Event{Task: "features: loaded " + dataset + "/" + split.Name + " from cache",
			Done: s.N, Total: s.N, Finished: true})
	}
	return s, err
}
