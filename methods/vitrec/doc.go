// Package vitrec is a small vision-transformer reconstruction model for anomaly detection, a teaching
// member of the reconstruction family: masked-patch inpainting in the manner of masked autoencoders
// (He et al., "Masked Autoencoders Are Scalable Vision Learners", CVPR 2022), scored by the inpainting
// error as the Inpainting Transformer does (Pirnay and Chai, "Inpainting Transformer for Anomaly
// Detection", ICIAP 2022).
//
// The image is cut into P x P patches; each patch becomes a token by a linear projection, plus a learned
// positional embedding (Dosovitskiy et al., "An Image is Worth 16x16 Words", ICLR 2021). A random quarter
// of the tokens is replaced by a learned mask token (SimMIM's form of MAE's masking, which keeps every
// sequence the same length), a few pre-norm encoder blocks (multi-head self-attention and a GELU MLP,
// each behind a layer norm and a residual connection) mix them, and a linear head predicts every
// masked patch's pixels; the loss is the mean squared error on masked patches only.
//
// Why inpainting and not reconstruction of all patches (VT-ADL, Mishra et al., "VT-ADL: A Vision
// Transformer Network for Image Anomaly Detection and Localization", ISIE 2021): a transformer that sees
// a patch and must output it learns the identity, which reproduces defects as faithfully as texture.
// A masked patch has to be guessed from its normal-looking neighbours, so a defect inside it is not
// reproduced. At test time the tokens are split into MaskGroups interleaved groups (a 2 x 2 tiling for 4
// groups, so each masked patch keeps its four neighbours); one pass per group predicts that group's
// patches, and every pixel is predicted exactly once. The anomaly map is the squared error averaged over
// channels, smoothed with a Gaussian; the image score is its maximum.
package vitrec
