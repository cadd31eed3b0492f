// Package ae is the convolutional autoencoder of the reconstruction family: a network trained to
// reproduce normal images through a narrow bottleneck, so that what it cannot reproduce is anomalous.
//
// The architecture is Bergmann et al.'s ("Improving Unsupervised Defect Segmentation by Applying
// Structural Similarity to Autoencoders", VISAPP 2019, Table 1): strided 4x4 and 3x3 convolutions with
// leaky ReLUs down to a dense latent vector of LatentDim values, mirrored by transposed convolutions.
// Three anomaly maps are offered (Config.Score):
//   - "l2": the per-pixel squared error of the reconstruction, averaged over channels;
//   - "ssim": 1 - the per-pixel SSIM of image and reconstruction (nn.SSIMMap, Bergmann et al.'s choice,
//     which sees structure rather than intensity), the network trained with the SSIM loss;
//   - "feature": the squared distance between a frozen backbone's features of the image and of its
//     reconstruction (layer1 and layer2 of methods/backbone), which ignores pixel-exact differences that
//     do not change what the image shows.
//
// With Memory set, the latent vector is replaced by a sparse combination of learned memory items (Gong
// et al., "Memorizing Normality to Detect Anomaly: Memory-augmented Deep Autoencoder for Unsupervised
// Anomaly Detection", ICCV 2019, MemAE): attention over the items (softmax of the dot products), hard
// shrinkage of small weights, and an entropy loss that keeps them sparse. An autoencoder generalises
// well enough to reconstruct many defects too; forcing the code to be made of normal prototypes stops it.
package ae
