// Package pyramidflow implements PyramidFlow (Lei, Hu, Wang and Liu, "PyramidFlow: High-Resolution
// Defect Contrastive Localization using Pyramid Normalizing Flow", CVPR 2023,
// https://arxiv.org/abs/2303.02595), the distribution-map family's fully invertible flow on images.
//
// The recipe, in the paper's steps:
//   - Input: the full variant puts a frozen pretrained encoder in front (ResNet-18 up to layer1, a
//     quarter of the input's resolution, 64 channels); the lite variant has none and maps the image to
//     Channels with a fixed semi-orthogonal 1x1 convolution. Neither is trained.
//   - Invertible pyramid: the map is decomposed into a Laplacian pyramid (BuildPyramid, blur with
//     the 5 x 5 binomial kernel and 2 x 2 max pooling, as the authors' code), exactly invertible
//     (ComposePyramid).
//   - Pyramid couplings: each coupling transforms one level affinely (x ⊙ exp(s) + t) with s and t
//     from a convolutional subnet of its neighbouring levels, resampled to it (coarse-to-fine,
//     fine-to-coarse, or both into the middle level, paper Fig. 3c/3d), then mixes the level's channels
//     with an invertible 1x1 convolution (methods/flow.InvConv1x1). A stack transforms every level once.
//   - Volume normalisation (paper Sec. 3.3): the coupling log-scales have their mean over batch and
//     channels (CVN) or batch and positions (SVN) subtracted, and the 1x1 convolutions their mean
//     log-scale, so that the flow preserves volume: no log-determinant term is needed to stop the
//     latents from collapsing.
//   - Training from scratch on pairs of normal images: the latent pyramids' squared difference,
//     composed into one map, is penalised through the mean magnitude of its 2-D Fourier transform
//     (the authors' "Fourier loss"); Adam as CS-Flow (2e-4, betas 0.5/0.9, eps 1e-4, weight decay 1e-5),
//     gradients clipped to norm 1.
//   - Scoring (paper Sec. 3.4, pyramid difference): the template is the mean latent pyramid of the
//     training images; a test image's |latent - template| per level is composed as a Laplacian
//     pyramid and averaged over channels, upsampled to the input; the image score is its maximum.
//
// Where this package departs from the authors' code, and why:
//   - The soft clamp of the log-scales is flow.SoftClamp's tanh (the shared coupling clamp) instead of
//     2/π·atan; both bound s to (-Clamp, Clamp) and are the identity near zero.
//   - Fine-to-coarse couplings normalise the volume after subsampling the log-scales to the target
//     level, not before, so that volume is preserved exactly for SVN too.
//   - The template is the mean over the training images (the authors average a validation split).
//   - The CPU presets project the encoder's channels with a fixed random semi-orthogonal map (CPU) and
//     shrink resolution, depth and schedule (see CPU and CPULite).
package pyramidflow
