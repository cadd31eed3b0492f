// Package safetensors reads and writes the safetensors file format (Hugging Face, 2022): an 8-byte
// little-endian header length, a JSON header describing each tensor (dtype, shape, byte offsets) and an
// optional "__metadata__" string map, then the raw little-endian tensor bytes.
//
// It is the checkpoint format of gonomaly: backbone weights downloaded from the Hugging Face hub (timm,
// torchvision names) and detector checkpoints both use it. Reading is defensive: the header length is
// checked against the file size and capped, the JSON must be valid, every tensor's byte range must lie
// inside the data section, match its shape and dtype and overlap no other tensor's range (so a small
// file cannot make the reader allocate much more than its size), and no size computation may overflow.
// Errors name the file and the tensor. Every tensor is converted to float32 on read; WriteFile writes F32.
//
// See https://github.com/huggingface/safetensors for the format description.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// MaxHeaderSize caps the JSON header (100 MB, the same cap as the reference implementation), so a
// hostile length field cannot make a reader allocate gigabytes.
const MaxHeaderSize = 100 << 20

// metadataKey is the reserved header key holding the free-form string metadata.
const metadataKey = "__metadata__"

// Tensor is one named array of a safetensors file.
type Tensor struct {
	// DType is the element type as stored in the file: "F32", "F16", "BF16", "F64", "I64", ...
	// WriteFile always writes "F32".
	DType string
	// Shape lists the dimensions, outermost first (row-major, as PyTorch stores them).
	Shape []int
	// Data holds the values converted to float32, row-major; len(Data) is the product of Shape.
	Data []float32
}

// Size returns the number of elements the shape describes (1 for a scalar).
func (t Tensor) Size() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// dtypeSizes gives the byte size of each element type this package can convert to float32.
var dtypeSizes = map[string]int{
	"F64": 8, "F32": 4, "F16": 2, "BF16": 2,
	"I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1,
}

// headerEntry is one tensor's description in the JSON header.
type headerEntry struct {
	DType       string   `json:"dtype"`
	Shape       []int64  `json:"shape"`
	DataOffsets []uint64 `json:"data_offsets"`
}

// ReadFile reads every tensor and the metadata of the safetensors file at path.
// Tensors of any supported dtype (F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL) come back as float32.
func ReadFile(path string) (map[string]Tensor, map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("safetensors: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("safetensors: %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("safetensors: %s: not a regular file", path)
	}
	// Read only after checking the header length against the real size.
	size := st.Size()
	if size < 8 {
		return nil, nil, fmt.Errorf("safetensors: %s: file has %d bytes, too short for the 8-byte header length", path, size)
	}
	data := make([]byte, size)
	if _, err := f.ReadAt(data, 0); err != nil {
		return nil, nil, fmt.Errorf("safetensors: %s: %w", path, err)
	}
	ts, md, err := Decode(data)
	if err != nil {
		return nil, nil, fmt.Errorf("safetensors: %s: %w", path, err)
	}
	return ts, md, nil
}

// Decode parses a whole safetensors file held in memory. Errors name the tensor but not the file
// (ReadFile adds it). It never panics, whatever the bytes.
func Decode(data []byte) (map[string]Tensor, map[string]string, error) {
	if len(data) < 8 {
		return nil, nil, fmt.Errorf("%d bytes is too short for the 8-byte header length", len(data))
	}
	n := binary.LittleEndian.Uint64(data[:8])
	if n > MaxHeaderSize {
		return nil, nil, fmt.Errorf("header length %d exceeds the %d-byte cap", n, MaxHeaderSize)
	}
	if n > uint64(len(data)-8) {
		return nil, nil, fmt.Errorf("header length %d exceeds the %d bytes after the length field (truncated file?)", n, len(data)-8)
	}
	header := data[8 : 8+n]
	body := data[8+n:]
	if !json.Valid(header) {
		return nil, nil, fmt.Errorf("header is not valid JSON")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(header, &raw); err != nil {
		return nil, nil, fmt.Errorf("header is not a JSON object: %v", err)
	}
	var metadata map[string]string
	if m, ok := raw[metadataKey]; ok {
		if err := json.Unmarshal(m, &metadata); err != nil {
			return nil, nil, fmt.Errorf("%s is not a map of strings: %v", metadataKey, err)
		}
		delete(raw, metadataKey)
	}
	if metadata == nil {
		metadata = map[string]string{}
	}
	names := make([]string, 0, len(raw))
	for name := range raw {
		names = append(names, name)
	}
	sort.Strings(names)
	// Check every entry before converting any data.
	entries := make([]checkedEntry, len(names))
	for i, name := range names {
		e, err := checkEntry(name, raw[name], body)
		if err != nil {
			return nil, nil, err
		}
		entries[i] = e
	}
	// Byte ranges must not overlap: otherwise a small file could name the same bytes many times over
	// and make the reader allocate far more than the file holds.
	byBegin := slices.DeleteFunc(slices.Clone(entries), func(e checkedEntry) bool { return e.begin == e.end })
	sort.SliceStable(byBegin, func(i, j int) bool { return byBegin[i].begin < byBegin[j].begin })
	for i := 1; i < len(byBegin); i++ {
		prev, cur := byBegin[i-1], byBegin[i]
		if cur.begin < prev.end {
			return nil, nil, fmt.Errorf("tensor %q: data_offsets [%d, %d] overlap tensor %q's [%d, %d]",
				cur.name, cur.begin, cur.end, prev.name, prev.begin, prev.end)
		}
	}
	tensors := make(map[string]Tensor, len(entries))
	for _, e := range entries {
		tensors[e.name] = Tensor{DType: e.dtype, Shape: e.shape, Data: toFloat32(e.dtype, body[e.begin:e.end], e.numel)}
	}
	return tensors, metadata, nil
}

// checkedEntry is a header entry whose dtype, shape and byte range have been validated.
type checkedEntry struct {
	name       string
	dtype      string
	shape      []int
	begin, end uint64
	numel      int
}

func checkEntry(name string, raw json.RawMessage, body []byte) (checkedEntry, error) {
	var e headerEntry
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return checkedEntry{}, fmt.Errorf("tensor %q: bad header entry: %v", name, err)
	}
	elem, ok := dtypeSizes[e.DType]
	if !ok {
		return checkedEntry{}, fmt.Errorf("tensor %q: unsupported dtype %q", name, e.DType)
	}
	if e.Shape == nil {
		return checkedEntry{}, fmt.Errorf("tensor %q: missing shape", name)
	}
	if len(e.DataOffsets) != 2 {
		return checkedEntry{}, fmt.Errorf("tensor %q: data_offsets must have 2 entries, has %d", name, len(e.DataOffsets))
	}
	begin, end := e.DataOffsets[0], e.DataOffsets[1]
	if begin > end || end > uint64(len(body)) {
		return checkedEntry{}, fmt.Errorf("tensor %q: data_offsets [%d, %d] outside the %d-byte data section", name, begin, end, len(body))
	}
	shape := make([]int, len(e.Shape))
	empty := false
	for i, d := range e.Shape {
		if d < 0 {
			return checkedEntry{}, fmt.Errorf("tensor %q: negative dimension %d in shape %v", name, d, e.Shape)
		}
		shape[i] = int(d)
		empty = empty || d == 0
	}
	numel := uint64(0)
	if !empty {
		// The element count is bounded by the data size, so checking against it stops every overflow.
		maxElems := uint64(len(body)) / uint64(elem)
		numel = 1
		for _, d := range e.Shape {
			if uint64(d) > maxElems/numel {
				return checkedEntry{}, fmt.Errorf("tensor %q: shape %v is larger than the %d-byte data section", name, e.Shape, len(body))
			}
			numel *= uint64(d)
		}
	}
	if end-begin != numel*uint64(elem) {
		return checkedEntry{}, fmt.Errorf("tensor %q: data_offsets [%d, %d] hold %d bytes, shape %v of %s needs %d",
			name, begin, end, end-begin, e.Shape, e.DType, numel*uint64(elem))
	}
	return checkedEntry{name: name, dtype: e.DType, shape: shape, begin: begin, end: end, numel: int(numel)}, nil
}

// toFloat32 converts n little-endian elements of dtype to float32.
func toFloat32(dtype string, b []byte, n int) []float32 {
	out := make([]float32, n)
	le := binary.LittleEndian
	switch dtype {
	case "F32":
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(b[4*i:]))
		}
	case "F64":
		for i := range out {
			out[i] = float32(math.Float64frombits(le.Uint64(b[8*i:])))
		}
	case "F16":
		for i := range out {
			out[i] = Float16ToFloat32(le.Uint16(b[2*i:]))
		}
	case "BF16":
		for i := range out {
			out[i] = math.Float32frombits(uint32(le.Uint16(b[2*i:])) << 16)
		}
	case "I64":
		for i := range out {
			out[i] = float32(int64(le.Uint64(b[8*i:])))
		}
	case "I32":
		for i := range out {
			out[i] = float32(int32(le.Uint32(b[4*i:])))
		}
	case "I16":
		for i := range out {
			out[i] = float32(int16(le.Uint16(b[2*i:])))
		}
	case "I8":
		for i := range out {
			out[i] = float32(int8(b[i]))
		}
	case "U8":
		for i := range out {
			out[i] = float32(b[i])
		}
	case "BOOL":
		for i := range out {
			if b[i] != 0 {
				out[i] = 1
			}
		}
	}
	return out
}

// Float16ToFloat32 converts an IEEE 754 half-precision value (as its bits) to float32, exactly.
func Float16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | frac<<13)
	case exp == 0 && frac == 0: // signed zero
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: renormalise
		e := uint32(127 - 15 + 1)
		for frac&0x400 == 0 {
			frac <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (frac&0x3ff)<<13)
	default:
		return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
	}
}

// Encode returns the safetensors bytes of tensors (stored as F32, laid out in sorted name order) and
// metadata. Tensor.DType is ignored (Data is float32, so F32 loses nothing). It fails if a tensor's data
// does not match its shape or a name is empty or reserved.
func Encode(tensors map[string]Tensor, metadata map[string]string) ([]byte, error) {
	names := make([]string, 0, len(tensors))
	for name := range tensors {
		if name == "" || name == metadataKey {
			return nil, fmt.Errorf("invalid tensor name %q", name)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	header := make(map[string]any, len(tensors)+1)
	if len(metadata) > 0 {
		header[metadataKey] = metadata
	}
	offset := uint64(0)
	for _, name := range names {
		t := tensors[name]
		for _, d := range t.Shape {
			if d < 0 {
				return nil, fmt.Errorf("tensor %q: negative dimension in shape %v", name, t.Shape)
			}
		}
		if t.Size() != len(t.Data) {
			return nil, fmt.Errorf("tensor %q: shape %v needs %d values, has %d", name, t.Shape, t.Size(), len(t.Data))
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		end := offset + 4*uint64(len(t.Data))
		header[name] = map[string]any{"dtype": "F32", "shape": shape, "data_offsets": []uint64{offset, end}}
		offset = end
	}
	hj, err := json.Marshal(header) // encoding/json sorts map keys
	if err != nil {
		return nil, err
	}
	// Pad the header with spaces so the data section starts 8-byte aligned, as the reference writer does.
	if pad := (8 - len(hj)%8) % 8; pad > 0 {
		hj = append(hj, strings.Repeat(" ", pad)...)
	}
	out := make([]byte, 8, 8+uint64(len(hj))+offset)
	binary.LittleEndian.PutUint64(out, uint64(len(hj)))
	out = append(out, hj...)
	var buf [4]byte
	for _, name := range names {
		for _, v := range tensors[name].Data {
			binary.LittleEndian.PutUint32(buf[:], math.Float32bits(v))
			out = append(out, buf[:]...)
		}
	}
	return out, nil
}

// WriteFile writes tensors (as F32, in sorted name order) and metadata to path atomically: it writes a
// temporary file in the same directory, syncs it, then renames it over path.
func WriteFile(path string, tensors map[string]Tensor, metadata map[string]string) error {
	data, err := Encode(tensors, metadata)
	if err != nil {
		return fmt.Errorf("safetensors: %s: %w", path, err)
	}
	if err := WriteFileAtomic(path, data); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}

// WriteFileAtomic writes data to path through a temporary file in the same directory and a rename,
// so readers never see a half-written file.
func WriteFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := os.Chmod(tmpName, 0o644); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	ok = true
	return nil
}
