package metrics

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
)

// ErrOneClass is wrapped by errors for inputs that lack normal or anomalous samples, where a ranking
// metric is undefined.
var ErrOneClass = errors.New("metrics: need both normal and anomalous samples")

// checkScores validates image-level input: equal lengths, not empty, finite scores.
func checkScores(scores []float64, labels []bool) (nNeg, nPos int64, err error) {
	if len(scores) != len(labels) {
		return 0, 0, fmt.Errorf("metrics: %d scores but %d labels", len(scores), len(labels))
	}
	if len(scores) == 0 {
		return 0, 0, errors.New("metrics: no scores")
	}
	for i, s := range scores {
		if math.IsNaN(s) || math.IsInf(s, 0) {
			return 0, 0, fmt.Errorf("metrics: score %d is %v; scores must be finite", i, s)
		}
		if labels[i] {
			nPos++
		} else {
			nNeg++
		}
	}
	return nNeg, nPos, nil
}

// imageSweep runs the sweep over image scores (ties grouped exactly); need says which classes must be
// present: 'b' both, 'p' positives.
func imageSweep(scores []float64, labels []bool, need byte) (sweepResult, error) {
	nNeg, nPos, err := checkScores(scores, labels)
	if err != nil {
		return sweepResult{}, err
	}
	if nPos == 0 {
		return sweepResult{}, fmt.Errorf("%w: all %d samples are normal", ErrOneClass, nNeg)
	}
	if need == 'b' && nNeg == 0 {
		return sweepResult{}, fmt.Errorf("%w: all %d samples are anomalous", ErrOneClass, nPos)
	}
	order := make([]int, len(scores))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(scores[b], scores[a]) })
	s := newSweep(nNeg, nPos, 0, DefaultFPRLimit, 1, -1, false)
	var neg, pos int64
	for k, i := range order {
		if labels[i] {
			pos++
		} else {
			neg++
		}
		if k+1 == len(order) || scores[order[k+1]] != scores[i] {
			s.step(scores[i], neg, pos, 0)
			neg, pos = 0, 0
		}
	}
	return s.finish(scores[order[len(order)-1]]), nil
}

// ROC returns the receiver operating characteristic of scores against labels (true = anomalous): X is
// the false-positive rate, Y the true-positive rate, one point per distinct score from the highest down,
// after a first point (0, 0) whose threshold is max+1. This is scikit-learn 1.2's
// roc_curve(labels, scores, drop_intermediate=False). It fails when a class is missing.
func ROC(scores []float64, labels []bool) (Curve, error) {
	r, err := imageSweep(scores, labels, 'b')
	return r.roc, err
}

// AUROC returns the area under the ROC curve (trapezoid rule; equal to scikit-learn's roc_auc_score),
// computed exactly in integer arithmetic. It fails when a class is missing.
func AUROC(scores []float64, labels []bool) (float64, error) {
	r, err := imageSweep(scores, labels, 'b')
	return r.auroc, err
}

// PR returns the precision-recall curve: X is recall, Y precision, ordered by increasing threshold and
// ending with the point (recall 0, precision 1) whose threshold is max+1, as scikit-learn 1.2's
// precision_recall_curve (which gives that last point no threshold). It fails without anomalous samples.
func PR(scores []float64, labels []bool) (Curve, error) {
	r, err := imageSweep(scores, labels, 'p')
	return r.pr, err
}

// AveragePrecision returns AP = sum_n (R_n - R_{n-1}) P_n over the distinct thresholds, scikit-learn's
// average_precision_score (a step sum, not a trapezoid). It fails without anomalous samples.
func AveragePrecision(scores []float64, labels []bool) (float64, error) {
	r, err := imageSweep(scores, labels, 'p')
	return r.ap, err
}

// F1Max returns the best F1 score over all thresholds and the threshold reaching it (the lowest such
// threshold when several tie, as argmax over scikit-learn's increasing thresholds does). A sample is
// predicted anomalous when its score >= threshold. It fails without anomalous samples.
func F1Max(scores []float64, labels []bool) (f1, threshold float64, err error) {
	r, err := imageSweep(scores, labels, 'p')
	return r.f1, r.f1Thr, err
}
