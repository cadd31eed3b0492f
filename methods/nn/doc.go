// Package nn holds neural-network layers, written with GoMLX graph ops, whose forward and backward
// passes work on every GoMLX backend: gonomaly's fastgo (the default without XLA), XLA and GoMLX's
// pure-Go backend ("go", simplego).
//
// On fastgo, Conv2D emits ConvGeneral for its forward pass and both gradients (an implicit GEMM there,
// no patch matrix) and the pooling ops emit ReduceWindow forward; everything below describes the forms
// used on the other backends, and the custom gradients every backend shares.
//
// On the pure-Go backend ConvGeneral is slow and has no gradient (it needs Reverse); the gradients of
// ReduceWindow max pooling, Slice and Concatenate need SelectAndScatter or Pad, which it lacks; and
// GoMLX's gradient of DotGeneral/MatMul builds the whole [M, K, N] outer product, which makes training
// any sizeable matrix product impractical there. So the heavy ops here carry custom gradients
// (withCustomGradient) made of matrix products, Gather and ScatterSum, and their forward passes use
// whatever is fastest:
//   - Conv2D: im2col + one matrix product. Stride 1 builds the patch matrix from block copies of the
//     padded image ("wide rows"); other strides gather precomputed pixel indices. Backward: two
//     products, the input gradient being a flipped-kernel convolution (stride 1) or a col2im scatter.
//   - ConvTranspose2D: one product then a col2im scatter-add (no multiplications by inserted zeros).
//   - MaxPool2D, AvgPool2D: reshape-and-reduce when the stride equals the window, else gathered windows.
//   - UpsampleNearest, UpsampleBilinear: row gathers; AdaptiveAvgPool2D: two small products.
//   - MatMul (and Linear): a product whose gradient is two products. Use it instead of graph.MatMul,
//     Einsum or layers.Dense in anything that trains on the pure-Go backend.
//
// Layouts follow the project: images NHWC, kernels HWIO [KH, KW, Cin, Cout]. Semantics follow PyTorch
// (zero padding, floor output sizes, count_include_pad average pooling, align_corners), checked
// against golden outputs written by testdata/gen_golden.py.
//
// Beyond layers: SSIM and SSIMMap (structural similarity, a training loss and a per-pixel map, golden-
// tested against scikit-image by testdata/gen_ssim.py) and AdamStep (torch's Adam with parameter groups
// and a fed learning-rate scale), shared by the methods that train networks.
//
// The functional ops take every tensor as a graph node; the context layers (Conv, Linear, BatchNorm,
// LayerNorm, Dropout) create their variables, named as torch's ("weight", "bias", "running_mean",
// "running_var"), in the scope they are given: give each layer its own, e.g. ctx.In("conv1").
package nn
