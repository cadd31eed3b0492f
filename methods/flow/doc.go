// Package flow holds the invertible building blocks of normalizing flows, written once for the
// distribution-map methods (CFLOW-AD, PyramidFlow): each block maps vectors x [N, D] (one row per sample,
// e.g. one feature vector of an image position) to y [N, D] and returns the exact log-determinant of its
// Jacobian, log|det ∂y/∂x| [N], and has an exact inverse.
//
// Blocks:
//   - AffineCoupling: RealNVP/Glow affine coupling (half the dimensions scale and shift the other half),
//     with CFLOW-AD's soft clamp of the log-scale and an optional condition vector per sample.
//   - Permutation: a fixed random permutation of the dimensions (log-determinant 0).
//   - InvConv1x1: Glow's invertible 1x1 convolution, a learned D x D matrix on channel vectors, in its LU
//     parameterisation so that log|det W| is a sum of logs.
//   - ActNorm: Glow's per-dimension affine normalisation, initialised from the first training batch.
//
// Flow chains blocks; LogNormal and LogLikelihood give the standard-normal log-density of the output and
// the change-of-variables log-likelihood log p(x) = log N(f(x); 0, I) + log|det ∂f/∂x|.
//
// Everything is plain GoMLX graph code whose gradient is fast on every backend: products go through
// nn.MatMul, and dimensions are split and permuted with Gather (the pure-Go backend lacks Pad, which the
// gradient of Slice needs). Blocks create their variables in the scope they are given on first use and
// reuse them afterwards, whatever the context's reuse/checked mode.
//
// References:
//   - Dinh, Sohl-Dickstein and Bengio, "Density estimation using Real NVP", ICLR 2017 (affine coupling,
//     with the kept half alternating between couplings).
//   - Kingma and Dhariwal, "Glow: Generative Flow with Invertible 1x1 Convolutions", NeurIPS 2018 (actnorm,
//     Sec. 3.1; invertible 1x1 convolution and its LU parameterisation, Sec. 3.2; zero-initialised last
//     layer of the coupling network, Sec. 3.3).
//   - Gudovskiy, Ishizaka and Kozuka, "CFLOW-AD: Real-Time Unsupervised Anomaly Detection with
//     Localization via Conditional Normalizing Flows", WACV 2022 (conditional couplings with clamped
//     scales; per-dimension log-likelihood).
package flow
