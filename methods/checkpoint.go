package methods

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gonomaly/gonomaly/methods/safetensors"
)

// ManifestFile and TensorsFile are the two files of a checkpoint directory.
const (
	ManifestFile = "manifest.json"
	TensorsFile  = "tensors.safetensors"
)

// Manifest describes a checkpoint: which method and format wrote it, with which configuration, for which
// inputs. It is stored as JSON beside the tensors.
type Manifest struct {
	// Method is the catalogue name of the method that wrote the checkpoint.
	Method string `json:"method"`
	// FormatVersion is the method's checkpoint format; a method refuses versions it cannot read.
	FormatVersion int `json:"format_version"`
	// Config is the method's configuration, as the method marshals it.
	Config json.RawMessage `json:"config"`
	// Backbone names the feature extractor and its weights ("" when the method has none).
	Backbone string `json:"backbone,omitempty"`
	// BackboneArch and WeightsSHA256 identify the backbone the detector was fitted with: its
	// architecture and the SHA-256 of its weights as loaded (backbone.WeightsSHA256). Load refuses a
	// backbone that differs (CheckBackbone).
	BackboneArch  string `json:"backbone_arch,omitempty"`
	WeightsSHA256 string `json:"weights_sha256,omitempty"`
	// ConfigSHA256 is the SHA-256 of Config, set by SaveCheckpoint: an edited configuration is refused.
	ConfigSHA256 string `json:"config_sha256,omitempty"`
	// ImageH, ImageW and Channels are the input size the detector expects.
	ImageH   int `json:"image_h"`
	ImageW   int `json:"image_w"`
	Channels int `json:"channels"`
	// Created is when the checkpoint was written.
	Created time.Time `json:"created"`
	// TensorsSHA256 and TensorsSize let loading detect a truncated or altered tensors file.
	TensorsSHA256 string `json:"tensors_sha256"`
	TensorsSize   int64  `json:"tensors_size"`
}

// SaveCheckpoint writes dir/manifest.json and dir/tensors.safetensors, never leaving a half-written
// checkpoint and never losing the previous one:
//   - the new checkpoint is built beside dir in a temporary folder ".<name>.tmp-<random>";
//   - the previous one, if any, is renamed aside to ".<name>.old", the new one renamed to dir, and the
//     aside copy removed.
//
// A process killed at any point leaves either the previous or the new checkpoint at dir, or (killed
// between the two renames) the previous one aside, which the next SaveCheckpoint, ReadManifest or
// ReadCheckpoint (so every method's Load) renames back. The next SaveCheckpoint also removes the
// temporaries of interrupted saves. One writer at a time per checkpoint path. Folders are created with
// mode 0755 and files 0644, both less the umask, like any file the user writes.
func SaveCheckpoint(dir string, m Manifest, tensors map[string]safetensors.Tensor) (err error) {
	if m.Method == "" {
		return fmt.Errorf("save checkpoint %q: manifest has no method", dir)
	}
	dir = filepath.Clean(dir)
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("save checkpoint %q: %w", dir, err)
	}
	if err := recoverCheckpoint(dir); err != nil {
		return fmt.Errorf("save checkpoint %q: %w", dir, err)
	}
	removeTemporaries(dir)
	tmp, err := makeTempDir(dir)
	if err != nil {
		return fmt.Errorf("save checkpoint %q: %w", dir, err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	saveHook("tmp")
	tpath := filepath.Join(tmp, TensorsFile)
	if err := safetensors.WriteFile(tpath, tensors, map[string]string{"method": m.Method}); err != nil {
		return fmt.Errorf("save checkpoint %q: %w", dir, err)
	}
	saveHook("tensors")
	sum, size, err := fileDigest(tpath)
	if err != nil {
		return fmt.Errorf("save checkpoint %q: %w", dir, err)
	}
	m.TensorsSHA256, m.TensorsSize = sum, size
	m.ConfigSHA256 = configDigest(m.Config)
	if m.Created.IsZero() {
		m.Created = time.Now().UTC()
	}
	js, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("save checkpoint %q: %w", dir, err)
	}
	if err := os.WriteFile(filepath.Join(tmp, ManifestFile), append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("save checkpoint %q: %w", dir, err)
	}
	saveHook("manifest")
	// Swap into place: old -> aside, new -> dir, then drop the old one.
	aside := asidePath(dir)
	hadOld := false
	if _, statErr := os.Lstat(dir); statErr == nil {
		if err := os.Rename(dir, aside); err != nil {
			return fmt.Errorf("save checkpoint %q: %w", dir, err)
		}
		hadOld = true
	}
	saveHook("aside")
	if err := os.Rename(tmp, dir); err != nil {
		if hadOld {
			os.Rename(aside, dir)
		}
		return fmt.Errorf("save checkpoint %q: %w", dir, err)
	}
	saveHook("swapped")
	if hadOld {
		os.RemoveAll(aside)
	}
	saveHook("done")
	return nil
}

// saveHook is called by SaveCheckpoint at each stage ("tmp", "tensors", "manifest", "aside": between
// the two renames, "swapped", "done"); the crash test sets it to kill the process there.
var saveHook = func(stage string) {}

// asidePath is where SaveCheckpoint keeps the previous checkpoint during its swap.
func asidePath(dir string) string {
	return filepath.Join(filepath.Dir(dir), "."+filepath.Base(dir)+".old")
}

// tempPrefix starts the names of SaveCheckpoint's temporary folders for dir.
func tempPrefix(dir string) string {
	return filepath.Join(filepath.Dir(dir), "."+filepath.Base(dir)+".tmp-")
}

// makeTempDir creates an empty folder named tempPrefix(dir)+random, mode 0755 less the umask.
func makeTempDir(dir string) (string, error) {
	for range 100 {
		p := tempPrefix(dir) + randomSuffix()
		err := os.Mkdir(p, 0o755)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return "", err
		}
	}
	return "", fmt.Errorf("cannot create a temporary folder beside %q", dir)
}

// recoverCheckpoint finishes a swap that a killed SaveCheckpoint left half done: with no checkpoint at
// dir it renames the aside copy back (or, from older versions, the newest ".<name>.tmp-*.old-*" one);
// with a checkpoint at dir, the aside copy is stale and is removed.
func recoverCheckpoint(dir string) error {
	aside := asidePath(dir)
	if _, err := os.Lstat(dir); err == nil {
		if _, err := os.Lstat(aside); err == nil {
			os.RemoveAll(aside)
		}
		return nil
	}
	if _, err := os.Stat(filepath.Join(aside, ManifestFile)); err != nil {
		legacy, _ := filepath.Glob(tempPrefix(dir) + "*.old-*")
		var newest time.Time
		aside = ""
		for _, p := range legacy {
			if st, err := os.Stat(filepath.Join(p, ManifestFile)); err == nil && st.ModTime().After(newest) {
				aside, newest = p, st.ModTime()
			}
		}
		if aside == "" {
			return nil
		}
	}
	if err := os.Rename(aside, dir); err != nil {
		return fmt.Errorf("restoring the previous checkpoint from %q (an interrupted save left it there): %w", aside, err)
	}
	return nil
}

// removeTemporaries removes the temporary folders interrupted saves of dir left behind.
func removeTemporaries(dir string) {
	stale, _ := filepath.Glob(tempPrefix(dir) + "*")
	for _, p := range stale {
		os.RemoveAll(p)
	}
}

// ReadManifest reads and sanity-checks dir/manifest.json. A checkpoint that an interrupted
// SaveCheckpoint left aside is first restored to dir.
func ReadManifest(dir string) (Manifest, error) {
	dir = filepath.Clean(dir)
	if err := recoverCheckpoint(dir); err != nil {
		return Manifest{}, fmt.Errorf("checkpoint %q: %w", dir, err)
	}
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return Manifest{}, fmt.Errorf("checkpoint %q does not exist", dir)
	case err != nil:
		return Manifest{}, fmt.Errorf("checkpoint %q: %w", dir, err)
	case !st.IsDir():
		return Manifest{}, fmt.Errorf("checkpoint %q is a file, not a checkpoint folder", dir)
	}
	path := filepath.Join(dir, ManifestFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return Manifest{}, fmt.Errorf("%q: not a gonomaly checkpoint (no %s)", dir, ManifestFile)
		}
		return Manifest{}, fmt.Errorf("%q: %w", path, err)
	}
	m, err := ParseManifest(raw)
	if err != nil {
		return Manifest{}, fmt.Errorf("%q: %w", path, err)
	}
	return m, nil
}

// ParseManifest decodes and sanity-checks the bytes of a manifest.json. It never panics, whatever the
// bytes; ReadManifest adds the file's name to its errors.
func ParseManifest(raw []byte) (Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return Manifest{}, fmt.Errorf("corrupt manifest: %v", err)
	}
	switch {
	case m.Method == "":
		return Manifest{}, fmt.Errorf("manifest names no method")
	case m.TensorsSize < 0:
		return Manifest{}, fmt.Errorf("corrupt manifest: tensors_size %d", m.TensorsSize)
	case m.ImageH < 0 || m.ImageW < 0 || m.Channels < 0:
		return Manifest{}, fmt.Errorf("corrupt manifest: input size %dx%dx%d", m.ImageW, m.ImageH, m.Channels)
	}
	return m, nil
}

// ReadCheckpoint reads a checkpoint written by SaveCheckpoint, checking that it belongs to method, that
// its format version is one the caller reads, and that the tensors file is whole.
func ReadCheckpoint(dir, method string, formatVersion int) (Manifest, map[string]safetensors.Tensor, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return m, nil, err
	}
	if m.Method != method {
		return m, nil, fmt.Errorf("%s: checkpoint of method %q, not %q", dir, m.Method, method)
	}
	if m.FormatVersion != formatVersion {
		return m, nil, fmt.Errorf("%s: %s checkpoint format version %d; this build reads version %d",
			dir, method, m.FormatVersion, formatVersion)
	}
	if c := strings.TrimSpace(string(m.Config)); c == "" || c == "null" {
		return m, nil, fmt.Errorf("%q: the manifest has no configuration", dir)
	}
	switch m.ConfigSHA256 {
	case "":
		return m, nil, fmt.Errorf("%q: the manifest does not checksum its configuration (written by an older gonomaly): fit and save the detector again", dir)
	case configDigest(m.Config):
	default:
		return m, nil, fmt.Errorf("%q: the manifest's configuration was altered (its checksum does not match)", dir)
	}
	tpath := filepath.Join(dir, TensorsFile)
	sum, size, err := fileDigest(tpath)
	if err != nil {
		return m, nil, fmt.Errorf("%s: %w", tpath, err)
	}
	if size != m.TensorsSize || sum != m.TensorsSHA256 {
		return m, nil, fmt.Errorf("%s: truncated or altered (%d bytes, manifest says %d; checksum mismatch=%v)",
			tpath, size, m.TensorsSize, sum != m.TensorsSHA256)
	}
	tensors, _, err := safetensors.ReadFile(tpath)
	if err != nil {
		return m, nil, err
	}
	return m, tensors, nil
}

// configDigest is the SHA-256 of a configuration's JSON, compacted so that re-indenting is not an
// alteration.
func configDigest(raw json.RawMessage) string {
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		buf.Reset()
		buf.Write(raw)
	}
	h := sha256.Sum256(buf.Bytes())
	return hex.EncodeToString(h[:])
}

// CheckNoBackbone returns an error when the checkpoint at dir, of a method that uses no backbone
// (Settings.Backbone NoBackbone), records one: it was altered, or written by something else.
func CheckNoBackbone(dir string, m Manifest) error {
	if m.BackboneArch != "" || m.WeightsSHA256 != "" {
		return fmt.Errorf("%q: %s checkpoint records a backbone (%s), but %s uses none", dir, m.Method, m.BackboneArch, m.Method)
	}
	return nil
}

// CheckBackbone returns an error unless the backbone a detector was rebuilt with for loading (arch, the
// SHA-256 of its weights as loaded, and where they came from) is the one the checkpoint at dir was
// fitted with: other weights give other features and other scores (for example empty Weights
// resolving to cached pretrained weights where the checkpoint was fitted on seeded random ones).
func CheckBackbone(dir string, m Manifest, arch, weightsSHA256, source string) error {
	switch {
	case m.BackboneArch == "" || m.WeightsSHA256 == "":
		return fmt.Errorf("%q: the manifest does not record its backbone's weights (written by an older gonomaly): fit and save the detector again", dir)
	case m.BackboneArch != arch:
		return fmt.Errorf("%q: fitted with backbone %s, but its configuration builds %s", dir, m.BackboneArch, arch)
	case m.WeightsSHA256 != weightsSHA256:
		return fmt.Errorf("%q: fitted with %s weights %s (sha256 %.12s), but here they resolve to %s (sha256 %.12s), which would score differently: set Weights to the weights it was fitted with",
			dir, arch, m.Backbone, m.WeightsSHA256, source, weightsSHA256)
	}
	return nil
}

func fileDigest(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

func randomSuffix() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
