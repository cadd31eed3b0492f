// Package methods holds the Detector contract every anomaly-detection method implements, the
// Catalogue of methods with their paper metadata, and the shared parts they use (settings, checkpoints,
// progress reporting). Methods live in sub-packages and register themselves in the Catalogue.
//
// # The contract
//
// Every method package follows the same shape, so that notebooks, benchmarks and the catalogue drive all
// of them alike; TestContract in methods/all checks every registered method against it.
//
//   - Configuration: one Config type that embeds Settings (ImageSize, Backbone, Weights, WidthDiv,
//     BackboneSeed, Seed, FeatureBatch, ImageScore: the same names and meaning everywhere, inlined in the
//     checkpoint's JSON), and two presets, Paper() (the paper's recipe) and CPU() (minutes on two
//     cores), registered as PresetPaper and PresetCPU. Variants of one package take a method on the
//     preset (rd.Paper().WithVariant(rd.RDPlusPlus)).
//   - Seeds: BackboneSeed drives only the seeded backbone used when no pretrained weights load, and every
//     preset uses DefaultBackboneSeed, so methods on the same architecture see the same features; Seed
//     drives only the method's own randomness.
//   - New validates everything it can at once: the settings (Settings.Validate), and the backbone's
//     weights, which it loads, so that a missing or wrong weights file is an error before any work.
//   - Fit and Predict accept only ImageSize x ImageSize images and reject any other with an error naming
//     the file (Settings.CheckInput, via ImageNamer), giving sizes as W x H and saying what to set; an
//     image holding a NaN or an infinity is rejected the same way.
//   - Predict streams: the detector implements Streamer, whose PredictEach loads, scores and hands over
//     FeatureBatch images at a time, so that memory is bounded by the feature batch and not by the number
//     of images; Predict collects PredictEach (CollectPredictions). FeatureBatch is the memory knob.
//   - The image score follows Settings.ImageScore (ScoreMapMax, ScorePatchMax, ScoreReweighted); a method
//     rejects at New the rules it cannot compute.
//   - Save writes a checkpoint directory (SaveCheckpoint) that Load reads back to a detector giving the
//     same predictions, recording the backbone's architecture and weights' SHA-256 (Manifest.
//     BackboneArch, WeightsSHA256); Load refuses one that would score differently (CheckBackbone). The
//     catalogue entry registers Build (preset plus an edit of the Settings), Load and the paper's
//     metadata.
//
// metrics.EvaluateSplit scores and evaluates a dataset split with any Detector in one call.
package methods
