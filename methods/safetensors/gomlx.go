package safetensors

import (
	"fmt"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// FromGoMLX copies a float32 or float64 GoMLX tensor into a Tensor (DType "F32"), e.g. to checkpoint a
// context variable's value. Other dtypes are an error: converting them to float32 could lose values.
func FromGoMLX(t *tensors.Tensor) (Tensor, error) {
	shape := slices.Clone(t.Shape().Dimensions)
	if shape == nil {
		shape = []int{}
	}
	out := Tensor{DType: "F32", Shape: shape}
	switch t.DType() {
	case dtypes.Float32:
		out.Data = tensors.MustCopyFlatData[float32](t)
	case dtypes.Float64:
		tensors.MustConstFlatData(t, func(flat []float64) {
			out.Data = make([]float32, len(flat))
			for i, v := range flat {
				out.Data[i] = float32(v)
			}
		})
	default:
		return Tensor{}, fmt.Errorf("safetensors: cannot store a %s tensor %s as F32", t.DType(), t.Shape())
	}
	return out, nil
}

// GoMLX returns a float32 GoMLX tensor with t's shape and a copy of its data; it fails when the data
// does not match the shape.
func (t Tensor) GoMLX() (*tensors.Tensor, error) {
	if t.Size() != len(t.Data) {
		return nil, fmt.Errorf("safetensors: shape %v needs %d values, tensor has %d", t.Shape, t.Size(), len(t.Data))
	}
	return tensors.FromFlatDataAndDimensions(t.Data, t.Shape...), nil
}
