package methods

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
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

// SaveCheckpoint writes dir/manifest.json and dir/tensors.safetensors. The directory is built beside dir
// under a temporary name and renamed into place, so an interrupted save never leaves a half-written
// checkpoint and never destroys the previous one (it is removed only after the new one is in place).
func SaveCheckpoint(dir string, m Manifest, tensors map[string]safetensors.Tensor) (err error) {
	if m.Method == "" {
		return fmt.Errorf("save checkpoint %s: manifest has no method", dir)
	}
	dir = filepath.Clean(dir)
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("save checkpoint %s: %w", dir, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return fmt.Errorf("save checkpoint %s: %w", dir, err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	tpath := filepath.Join(tmp, TensorsFile)
	if err := safetensors.WriteFile(tpath, tensors, map[string]string{"method": m.Method}); err != nil {
		return fmt.Errorf("save checkpoint %s: %w", dir, err)
	}
	sum, size, err := fileDigest(tpath)
	if err != nil {
		return fmt.Errorf("save checkpoint %s: %w", dir, err)
	}
	m.TensorsSHA256, m.TensorsSize = sum, size
	if m.Created.IsZero() {
		m.Created = time.Now().UTC()
	}
	js, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("save checkpoint %s: %w", dir, err)
	}
	if err := os.WriteFile(filepath.Join(tmp, ManifestFile), append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("save checkpoint %s: %w", dir, err)
	}
	// Swap into place: old -> aside, new -> dir, then drop the old one.
	var aside string
	if _, statErr := os.Stat(dir); statErr == nil {
		aside = tmp + ".old-" + randomSuffix()
		if err := os.Rename(dir, aside); err != nil {
			return fmt.Errorf("save checkpoint %s: %w", dir, err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if aside != "" {
			os.Rename(aside, dir)
		}
		return fmt.Errorf("save checkpoint %s: %w", dir, err)
	}
	if aside != "" {
		os.RemoveAll(aside)
	}
	return nil
}

// ReadManifest reads and sanity-checks dir/manifest.json.
func ReadManifest(dir string) (Manifest, error) {
	path := filepath.Join(dir, ManifestFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return Manifest{}, fmt.Errorf("%s: not a gonomaly checkpoint (no %s)", dir, ManifestFile)
		}
		return Manifest{}, fmt.Errorf("%s: %w", path, err)
	}
	var m Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return Manifest{}, fmt.Errorf("%s: corrupt manifest: %v", path, err)
	}
	if m.Method == "" {
		return Manifest{}, fmt.Errorf("%s: manifest names no method", path)
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
