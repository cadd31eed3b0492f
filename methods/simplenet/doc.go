// Package simplenet implements the survey's one-class family on frozen patch features: SimpleNet and
// Deep SVDD.
//
// SimpleNet (Liu, Zhou, Xu and Wang, "SimpleNet: A Simple Network for Image Anomaly Detection and
// Localization", CVPR 2023), in the paper's order:
//   - Feature extractor (Sec. 3.1): a frozen pretrained backbone's layer2 + layer3, locally aware patch
//     features as PatchCore makes them (features.Extract).
//   - Feature adaptor (Sec. 3.2): one trained linear layer.
//   - Anomalous feature generator (Sec. 3.3): Gaussian noise of standard deviation 0.015 added to the
//     adapted normal features, during training only.
//   - Discriminator (Sec. 3.4): linear, batch norm, LeakyReLU 0.2, linear to one score per patch.
//   - Loss (Sec. 3.5): the truncated L1 loss with thresholds 0.5 (TruncatedL1), Adam.
//   - Inference (Sec. 3.6): the negated discriminator output per patch, upsampled and smoothed with a
//     Gaussian of sigma 4; the image score is the map's maximum.
//
// Deep SVDD (Ruff et al., "Deep One-Class Classification", ICML 2018) is the family's textbook model,
// for teaching: a bias-free network phi of the frozen patch features, a centre c fixed to the mean
// initial output (CenterFix), the one-class (Eq. 4) or soft-boundary (Eq. 3, radius R and nu) objective
// (SVDDLoss, RadiusFromDistances), and the squared distance to c as the patch score.
//
// Both live in one package because they are the same machine with a different head: the frozen feature
// extraction, the optimiser (Adam with weight decay, which methods/rd's lacks), the training loop with
// progress, checkpoints every N steps, resumption and cancellation, the streaming prediction, and the
// checkpoint format are shared (core.go); simplenet.go and svdd.go hold only what differs.
package simplenet
