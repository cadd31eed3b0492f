// Package nn holds neural-network layers, written with GoMLX graph ops, whose forward and backward
// passes work on every GoMLX backend: XLA and the pure-Go backend ("go", simplego).
//
// The pure-Go backend runs ConvGeneral slowly and cannot differentiate it, and the gradients of its
// pooling (ReduceWindow max), Slice and Concatenate ops need Pad/SelectAndScatter, which it lacks.
// So every spatial op here is built from a small set of ops whose gradients it does support:
// Gather (gradient: ScatterSum), ScatterSum (gradient: Gather), Reshape, Transpose, DotGeneral and
// reductions. Convolution is patch gathering (im2col) plus one MatMul; pooling reduces gathered
// windows, or reshaped blocks when the stride equals the window.
//
// Layouts follow the project: images are NHWC, kernels HWIO [KH, KW, Cin, Cout]. Semantics follow
// PyTorch (zero padding, floor output sizes, count_include_pad average pooling, align_corners).
//
// The functional ops (Conv2D, MaxPool2D, AvgPool2D, BatchNormInference, ...) take every tensor as a
// graph node; the context layers (Conv, BatchNorm, Linear, ...) create their variables in a
// *context.Context, builder style.
package nn
