// Package cflow implements CFLOW-AD (Gudovskiy, Ishizaka and Kozuka, "CFLOW-AD: Real-Time Unsupervised
// Anomaly Detection with Localization via Conditional Normalizing Flows", WACV 2022,
// https://arxiv.org/abs/2107.12571), the distribution-map family's conditional-flow method.
//
// The recipe, in the paper's steps:
//   - Encoder: a frozen pretrained CNN tapped at three scales (layer1..3 of a ResNet).
//   - Positional condition: a 2-D sinusoidal encoding of each position (PositionalEncoding,
//     128 channels) conditions the decoder.
//   - Decoder: per tap, a conditional normalizing flow of coupling blocks (8 in the paper)
//     with small fully connected subnets and a soft clamp of the log-scales, built from methods/flow.
//   - Training: maximum likelihood on random batches of feature vectors ("fibers") drawn
//     across all positions and images, with Adam (lr 2e-4, warm-up then cosine decay); as the authors'
//     code, the loss is -log σ(log p(x)/D), the per-dimension log-likelihood passed through a log-sigmoid.
//   - Scoring: per tap, the per-dimension log-likelihood map, turned into a probability
//     exp(log p - max), upsampled bilinearly to the input and summed over taps; the anomaly map is the
//     maximum minus that sum, the image score its maximum.
//
// Where this package departs from the authors' code, and why:
//   - The normaliser: the authors subtract the maximum log-likelihood over the whole test set, so an
//     image's map depends on the other test images. A detector here scores images one at a time, so it
//     subtracts the maximum over the training fibers (recorded by Fit) and takes the number of taps (the
//     largest value the summed probabilities reach on training data) as "the maximum": the map is
//     Taps - Σ_taps exp(log p - max_train), and image ranks are unchanged whenever the per-tap normalisers
//     match.
//   - The coupling block: FrEIA's AllInOneBlock (a learned global affine, a fixed random rotation and
//     the coupling) becomes flow.ActNorm once at the start of each decoder, then per block a coupling and
//     a fixed random permutation (flow.AffineCoupling, flow.Permutation).
package cflow
