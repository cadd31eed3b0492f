package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

var goldenValues = []float32{0, 1, -2, 0.5, 3.25, -0.125}

func TestReadGoldenMixedDTypes(t *testing.T) {
	ts, md, err := ReadFile("testdata/mixed.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if md["format"] != "pt" || md["written_by"] != "gen_golden.py" {
		t.Errorf("metadata = %v", md)
	}
	tests := []struct {
		name  string
		dtype string
		shape []int
		data  []float32
	}{
		{"a_f32", "F32", []int{2, 3}, goldenValues},
		{"b_f16", "F16", []int{3, 2}, goldenValues},
		{"c_bf16", "BF16", []int{6}, goldenValues},
		{"d_f64", "F64", []int{1, 6}, goldenValues},
		{"e_i64", "I64", []int{}, []float32{12345}},
		{"f_empty", "F32", []int{0, 4}, []float32{}},
	}
	if len(ts) != len(tests) {
		t.Errorf("got %d tensors, want %d", len(ts), len(tests))
	}
	for _, tc := range tests {
		got, ok := ts[tc.name]
		if !ok {
			t.Errorf("tensor %q missing", tc.name)
			continue
		}
		if got.DType != tc.dtype || !reflect.DeepEqual(got.Shape, tc.shape) || !reflect.DeepEqual(got.Data, tc.data) {
			t.Errorf("%s = {%s %v %v}, want {%s %v %v}", tc.name, got.DType, got.Shape, got.Data, tc.dtype, tc.shape, tc.data)
		}
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.safetensors")
	in := map[string]Tensor{
		"zeta":         {Shape: []int{2, 2}, Data: []float32{1, 2, 3, float32(math.Inf(-1))}},
		"alpha.weight": {DType: "F32", Shape: []int{3}, Data: []float32{-1.5, 0, 7e-30}},
		"scalar":       {Shape: []int{}, Data: []float32{42}},
	}
	md := map[string]string{"method": "patchcore", "version": "1"}
	if err := WriteFile(path, in, md); err != nil {
		t.Fatal(err)
	}
	out, gotMD, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotMD, md) {
		t.Errorf("metadata = %v, want %v", gotMD, md)
	}
	for name, want := range in {
		got := out[name]
		if got.DType != "F32" || !reflect.DeepEqual(got.Shape, want.Shape) || !reflect.DeepEqual(got.Data, want.Data) {
			t.Errorf("%s = %+v, want %+v", name, got, want)
		}
	}
	// Data section laid out in sorted name order, data 8-byte aligned, no temp files left behind.
	raw, _ := os.ReadFile(path)
	n := binary.LittleEndian.Uint64(raw)
	if (8+n)%8 != 0 {
		t.Errorf("data section starts at %d, not 8-byte aligned", 8+n)
	}
	h := string(raw[8 : 8+n])
	if !(strings.Index(h, `"alpha.weight"`) < strings.Index(h, `"scalar"`) && strings.Index(h, `"scalar"`) < strings.Index(h, `"zeta"`)) {
		t.Errorf("header keys not sorted: %s", h)
	}
	if !strings.Contains(h, `"alpha.weight":{"data_offsets":[0,12]`) {
		t.Errorf("alpha.weight should be first in the data section: %s", h)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the file", len(entries))
	}
}

func TestWriteRejectsBadTensors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.safetensors")
	for _, tc := range []struct {
		name    string
		tensors map[string]Tensor
		want    string
	}{
		{"size mismatch", map[string]Tensor{"w": {Shape: []int{2, 2}, Data: []float32{1}}}, `"w"`},
		{"reserved name", map[string]Tensor{metadataKey: {Shape: []int{1}, Data: []float32{1}}}, metadataKey},
		{"negative dim", map[string]Tensor{"n": {Shape: []int{-1}, Data: nil}}, `"n"`},
	} {
		err := WriteFile(path, tc.tensors, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: err = %v, want mention of %s and the path", tc.name, err, tc.want)
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("failed writes left a file behind")
	}
}

// build makes a file from a raw header and a data section.
func build(header string, body []byte) []byte {
	out := make([]byte, 8, 8+len(header)+len(body))
	binary.LittleEndian.PutUint64(out, uint64(len(header)))
	return append(append(out, header...), body...)
}

func TestHostileFiles(t *testing.T) {
	body := make([]byte, 16)
	withLen := func(n uint64, rest string) []byte {
		b := make([]byte, 8)
		binary.LittleEndian.PutUint64(b, n)
		return append(b, rest...)
	}
	tests := []struct {
		name string
		data []byte
		want string // substring of the error
	}{
		{"empty file", nil, "too short"},
		{"short file", []byte{1, 2, 3}, "too short"},
		{"header longer than file", withLen(1000, "{}"), "exceeds"},
		{"header over cap", withLen(MaxHeaderSize+1, "{}"), "cap"},
		{"header near 2^64", withLen(math.MaxUint64, "{}"), "cap"},
		{"bad json", build(`{"w":`, body), "JSON"},
		{"json array", build(`[1,2]`, body), "JSON object"},
		{"entry not object", build(`{"w":3}`, body), `"w"`},
		{"unknown dtype", build(`{"w":{"dtype":"Q7","shape":[1],"data_offsets":[0,4]}}`, body), `"w": unsupported dtype`},
		{"f8 unsupported", build(`{"w":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}`, body), `"w"`},
		{"missing shape", build(`{"w":{"dtype":"F32","data_offsets":[0,4]}}`, body), `"w": missing shape`},
		{"one offset", build(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}}`, body), `"w": data_offsets`},
		{"offsets reversed", build(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}`, body), `"w": data_offsets`},
		{"offset past end", build(`{"w":{"dtype":"F32","shape":[5],"data_offsets":[0,20]}}`, body), `"w": data_offsets`},
		{"size mismatch", build(`{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, body), `"w": data_offsets [0, 8] hold 8 bytes`},
		{"negative dim", build(`{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, body), `"w": negative`},
		{"overflowing shape", build(`{"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,0]}}`, body), `"w": shape`},
		{"huge dims wrapping to small", build(`{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}}`, body), `"w": shape`},
		{"dim overflows int64", build(`{"w":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,4]}}`, body), `"w"`},
		{"negative offset", build(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, body), `"w"`},
		{"unknown field", build(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}`, body), `"w"`},
		{"overlapping ranges", build(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}`, body), `"b": data_offsets [8, 16] overlap tensor "a"`},
		{"same range twice", build(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, body), "overlap"},
		{"metadata not strings", build(`{"__metadata__":{"a":1}}`, body), "__metadata__"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Decode(tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	// ReadFile names the file.
	path := filepath.Join(t.TempDir(), "hostile.safetensors")
	if err := os.WriteFile(path, build(`{"w":{"dtype":"F32","shape":[9],"data_offsets":[0,36]}}`, body), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadFile(path); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `"w"`) {
		t.Errorf("ReadFile err = %v, want the path and the tensor named", err)
	}
	if _, _, err := ReadFile(filepath.Join(t.TempDir(), "missing.safetensors")); err == nil || !strings.Contains(err.Error(), "missing.safetensors") {
		t.Errorf("missing file err = %v", err)
	}
}

func TestFloat16ToFloat32(t *testing.T) {
	for _, tc := range []struct {
		bits uint16
		want float32
	}{
		{0x0000, 0}, {0x3c00, 1}, {0xc000, -2}, {0x3800, 0.5}, {0x7bff, 65504},
		{0x0001, 5.9604645e-08}, {0x0400, 6.1035156e-05}, {0x03ff, 6.097555e-05},
		{0x7c00, float32(math.Inf(1))}, {0xfc00, float32(math.Inf(-1))},
	} {
		if got := Float16ToFloat32(tc.bits); got != tc.want {
			t.Errorf("Float16ToFloat32(%#04x) = %g, want %g", tc.bits, got, tc.want)
		}
	}
	if v := Float16ToFloat32(0x7e00); !math.IsNaN(float64(v)) {
		t.Errorf("0x7e00 should be NaN, got %g", v)
	}
	if v := Float16ToFloat32(0x8000); v != 0 || !math.Signbit(float64(v)) {
		t.Errorf("0x8000 should be -0, got %g", v)
	}
}

// FuzzDecode checks that no input makes the reader panic; the seed corpus runs in normal tests.
func FuzzDecode(f *testing.F) {
	golden, err := os.ReadFile("testdata/mixed.safetensors")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	f.Add(golden[:len(golden)/2])
	f.Add(build(`{"w":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,8]}}`, make([]byte, 8)))
	f.Add(build(`{"w":{"dtype":"I64","shape":[],"data_offsets":[0,8]},"__metadata__":{"k":"v"}}`, make([]byte, 8)))
	f.Add(build(`{"w":{"dtype":"F64","shape":[0,1000000000000],"data_offsets":[0,0]}}`, nil))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, _, err := Decode(data)
		if err != nil {
			return
		}
		for name, tt := range ts {
			if tt.Size() != len(tt.Data) {
				t.Fatalf("tensor %q: shape %v but %d values", name, tt.Shape, len(tt.Data))
			}
		}
		// Whatever decodes must round-trip through Encode.
		enc, err := Encode(ts, nil)
		if err != nil {
			return // e.g. an empty name is readable but not writable
		}
		back, _, err := Decode(enc)
		if err != nil || len(back) != len(ts) {
			t.Fatalf("re-decode: %v (%d vs %d tensors)", err, len(back), len(ts))
		}
	})
}

func TestGoMLXConversion(t *testing.T) {
	in := Tensor{DType: "F32", Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, 6}}
	gt, err := in.GoMLX()
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(gt.Shape().Dimensions) != "[2 3]" {
		t.Errorf("shape %v", gt.Shape())
	}
	back, err := FromGoMLX(gt)
	if err != nil || !reflect.DeepEqual(back, in) {
		t.Errorf("round trip = %+v, %v", back, err)
	}
	f64, err := FromGoMLX(tensors.FromValue([]float64{0.5, -1}))
	if err != nil || !reflect.DeepEqual(f64.Data, []float32{0.5, -1}) {
		t.Errorf("float64: %+v, %v", f64, err)
	}
	scalar, err := FromGoMLX(tensors.FromValue(float32(3)))
	if err != nil || !reflect.DeepEqual(scalar, Tensor{DType: "F32", Shape: []int{}, Data: []float32{3}}) {
		t.Errorf("scalar: %+v, %v", scalar, err)
	}
	if _, err := FromGoMLX(tensors.FromValue([]int32{1})); err == nil {
		t.Error("int32 tensor accepted")
	}
	if _, err := (Tensor{Shape: []int{3}, Data: []float32{1}}).GoMLX(); err == nil {
		t.Error("mismatched tensor accepted")
	}
}
