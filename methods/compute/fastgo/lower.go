package fastgo

import (
	"github.com/gomlx/gomlx/backends"
)

// lower returns the kernel of one node, or view=true when the node only reinterprets its input's
// data (Reshape, Identity). Errors wrapping errUnsupported send the whole graph to the pure-Go backend.
func lower(n *Node) (run kernel, view bool, err error) {
	if n.multiOf != nil || !n.shape.Ok() {
		return nil, false, unsupportedf("multi-output operation %s", n.op)
	}
	switch n.op {
	case backends.OpTypeReshape, backends.OpTypeIdentity:
		return nil, true, nil
	case backends.OpTypeNeg, backends.OpTypeAbs, backends.OpTypeExp, backends.OpTypeExpm1, backends.OpTypeLog,
		backends.OpTypeLog1p, backends.OpTypeSqrt, backends.OpTypeRsqrt, backends.OpTypeTanh, backends.OpTypeLogistic,
		backends.OpTypeSign, backends.OpTypeFloor, backends.OpTypeCeil, backends.OpTypeRound, backends.OpTypeSin,
		backends.OpTypeCos, backends.OpTypeErf, backends.OpTypeIsFinite, backends.OpTypeIsNaN, backends.OpTypeLogicalNot:
		run, err = lowerUnary(n)
	case backends.OpTypeAdd, backends.OpTypeSub, backends.OpTypeMul, backends.OpTypeDiv, backends.OpTypeMax,
		backends.OpTypeMin, backends.OpTypePow, backends.OpTypeRem, backends.OpTypeEqual, backends.OpTypeNotEqual,
		backends.OpTypeGreaterThan, backends.OpTypeGreaterOrEqual, backends.OpTypeLessThan, backends.OpTypeLessOrEqual,
		backends.OpTypeLogicalAnd, backends.OpTypeLogicalOr, backends.OpTypeLogicalXor:
		run, err = lowerBinary(n)
	case backends.OpTypeWhere:
		run, err = lowerWhere(n)
	case backends.OpTypeClamp:
		run, err = lowerClamp(n)
	case backends.OpTypeConvertDType:
		run, err = lowerConvert(n)
	case backends.OpTypeTranspose:
		run, err = lowerTranspose(n)
	case backends.OpTypeSlice:
		run, err = lowerSlice(n)
	case backends.OpTypeBroadcastInDim:
		run, err = lowerBroadcastInDim(n)
	case backends.OpTypeConcatenate:
		run, err = lowerConcatenate(n)
	case backends.OpTypeIota:
		run, err = lowerIota(n)
	case backends.OpTypeGather:
		run, err = lowerGather(n)
	case backends.OpTypeScatterSum:
		run, err = lowerScatterSum(n)
	case backends.OpTypeReduceSum, backends.OpTypeReduceMax, backends.OpTypeReduceMin, backends.OpTypeReduceProduct:
		run, err = lowerReduce(n)
	case backends.OpTypeArgMinMax:
		run, err = lowerArgMinMax(n)
	case backends.OpTypeDotGeneral:
		run, err = lowerDotGeneral(n)
	case backends.OpTypeConvGeneral:
		run, err = lowerConvGeneral(n)
	case backends.OpTypeReduceWindow:
		run, err = lowerReduceWindow(n)
	case backends.OpTypeDot:
		run, err = lowerDot(n)
	default:
		err = unsupportedf("operation %s", n.op)
	}
	return run, false, err
}
