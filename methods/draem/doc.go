// Package draem is DRAEM (Zavrtanik, Kristan and Skočaj, "DRAEM - A Discriminatively Trained
// Reconstruction Embedding for Surface Anomaly Detection", ICCV 2021), written after the paper and the
// authors' code (github.com/VitjanZ/DRAEM).
//
// DRAEM does not trust reconstruction error alone. Normal training images get synthetic anomalies:
// Perlin-noise regions filled with a foreign texture (datasets/anomalysynth; the paper's textures come
// from the Describable Textures Dataset, offline this package uses the project's procedural textures).
// A reconstructive encoder-decoder learns, with an L2 + SSIM loss, to restore the clean image; a
// discriminative U-Net with skip connections sees the (possibly augmented) image and its reconstruction
// side by side and learns, with the focal loss, to segment the synthetic anomaly. At test time the
// segmentation's anomalous-class probability is the anomaly map, and the image score is the maximum
// of that map after a mean filter (21x21 at 256 px), as in the authors' evaluation.
package draem
