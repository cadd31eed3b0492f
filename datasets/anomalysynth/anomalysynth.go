// Package anomalysynth makes synthetic anomalies on normal images, for methods that learn to find
// defects from normal data alone by training on made-up ones:
//
//   - Perlin: DRAEM's Perlin-noise anomalies filled from a texture (Zavrtanik, Kristan, Skočaj, "DRAEM —
//     A discriminatively trained reconstruction embedding for surface anomaly detection", ICCV 2021,
//     Sec. 3.3), with procedural textures offline or a Describable Textures (DTD) folder;
//   - CutPastePatch and CutPasteScar (Li, Sohn, Yoon, Pfister, "CutPaste: Self-supervised learning for
//     anomaly detection and localization", CVPR 2021, Sec. 3.1);
//   - GaussianNoise, SimpleNet's feature-space anomalies (Liu, Zhou, Wang, Tang, "SimpleNet: A simple
//     network for image anomaly detection and localization", CVPR 2023, Sec. 3.3).
//
// Every function is seeded: the same image and seed give the same result. Each returns the augmented
// image and its exact mask (C == 1, 0/1): the pixels the anomaly was written to.
package anomalysynth

import (
	"fmt"
	"math/rand/v2"

	"github.com/gonomaly/gonomaly/datasets"
	"github.com/gonomaly/gonomaly/datasets/synth"
)

// Result is an augmented image with the mask of the pixels the anomaly was written to.
type Result struct {
	// Image is the augmented image, same size and channels as the input.
	Image datasets.Image
	// Mask has C == 1 and holds 1 where the anomaly was written, 0 elsewhere.
	Mask datasets.Image
	// Anomalous is false when the image was left clean (DRAEM's half of clean samples, or an empty
	// Perlin mask); then Mask is all zero and Image equals the input.
	Anomalous bool
	// Beta is the opacity weight of the original image inside the mask (Perlin only, DRAEM Eq. 1):
	// out = beta*image + (1-beta)*texture.
	Beta float64
}

// newRand returns the generator of a seed; nearby seeds (0, 1, 2, ...) give unrelated streams.
func newRand(seed uint64) *rand.Rand {
	return synth.NewRand(seed, "anomalysynth")
}

func checkImage(img datasets.Image) error {
	if err := img.Validate(); err != nil {
		return fmt.Errorf("anomalysynth: %w", err)
	}
	return nil
}

func uniform(r *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }

func clamp01(v float32) float32 {
	if v < 0 {
		return 0
	}
	if v > 1 {
		return 1
	}
	return v
}

// cleanResult returns the input unchanged with an empty mask.
func cleanResult(img datasets.Image) Result {
	return Result{Image: img.Clone(), Mask: datasets.NewImage(img.H, img.W, 1)}
}
