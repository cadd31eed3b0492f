// Package ganomaly is GANomaly (Akcay, Atapour-Abarghouei and Breckon, "GANomaly: Semi-Supervised Anomaly
// Detection via Adversarial Training", ACCV 2018, arXiv:1805.06725), a teaching member of the
// reconstruction family.
//
// The generator is an encoder-decoder-encoder: G_E maps an image x to a latent code z, G_D decodes z to
// a reconstruction x̂, and a second encoder E maps x̂ to ẑ. A DCGAN discriminator D tells x from x̂. The
// generator is trained on normal images only with three losses, weighted as in the paper (section 3.2):
// adversarial (feature matching: L2 between D's last feature maps of x and of x̂, weight 1), contextual
// (L1 between x and x̂, weight 50) and latent (L2 between z and ẑ, weight 1); D with binary cross
// entropy. The anomaly score is the latent distance mean((z - ẑ)²): the second encoder has only ever
// seen reconstructions of normal images, so an anomalous image's code drifts. Both networks use Adam at
// 2e-4 with beta1 0.5, and D is re-initialised when its loss collapses below 1e-5, as the authors' code
// does.
//
// GANomaly is an image-level method: the paper gives no anomaly map. The map this package returns (the
// per-pixel L1 reconstruction error, averaged over channels and smoothed) is our addition, so that the
// method fits the survey's localisation metrics; it is not the paper's.
package ganomaly
