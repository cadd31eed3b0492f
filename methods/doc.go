// Package methods holds the Detector contract every anomaly-detection method implements, the
// Catalogue of methods with their paper metadata, and the shared parts they use (checkpoints,
// progress reporting, anomaly-map post-processing). Methods live in sub-packages and register
// themselves in the Catalogue.
package methods
