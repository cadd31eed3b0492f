package metrics

import (
	"math"
	"math/bits"
)

// Curve is a list of points with the threshold that produced each point; X, Y and Thresholds have the
// same length. For ROC curves X is the false-positive rate and Y the true-positive rate; for PR curves X
// is recall and Y precision; for PRO curves X is the false-positive rate over normal pixels and Y the
// per-region overlap.
type Curve struct {
	X, Y, Thresholds []float64
}

// Len returns the number of points.
func (c Curve) Len() int { return len(c.X) }

// DefaultCurvePoints is how many points pixel-level curves keep by default (see WithCurvePoints).
const DefaultCurvePoints = 1000

// DefaultFPRLimit is the false-positive-rate limit of AUPRO in MVTec AD's evaluation (0.3).
const DefaultFPRLimit = 0.3

// recorder collects curve points, optionally thinning them so consecutive kept points are at least
// minStep apart (L1 distance, or distance along X only when xOnly) while always keeping the last point.
type recorder struct {
	c       Curve
	minStep float64 // 0 keeps every point
	xOnly   bool
	// pending is the newest point not yet kept (kept at finish so the curve ends where it should).
	pending    bool
	px, py, pt float64
}

func (r *recorder) add(x, y, t float64) {
	n := len(r.c.X)
	if r.minStep <= 0 || n == 0 {
		r.c.X, r.c.Y, r.c.Thresholds = append(r.c.X, x), append(r.c.Y, y), append(r.c.Thresholds, t)
		r.pending = false
		return
	}
	d := math.Abs(x - r.c.X[n-1])
	if !r.xOnly {
		d += math.Abs(y - r.c.Y[n-1])
	}
	if d >= r.minStep {
		r.c.X, r.c.Y, r.c.Thresholds = append(r.c.X, x), append(r.c.Y, y), append(r.c.Thresholds, t)
		r.pending = false
		return
	}
	r.pending, r.px, r.py, r.pt = true, x, y, t
}

func (r *recorder) flush() Curve {
	if r.pending {
		r.c.X, r.c.Y, r.c.Thresholds = append(r.c.X, r.px), append(r.c.Y, r.py), append(r.c.Thresholds, r.pt)
		r.pending = false
	}
	return r.c
}

// sweep walks threshold steps from the highest score to the lowest and accumulates every curve metric
// at once: AUROC (exact integer trapezoids), average precision (scikit-learn's step sum), F1-max, the
// PRO integral (MVTec AD's trapezoid with interpolation at the FPR limit), the curves, and — in binned
// mode — error bounds from the box each bin's unknown sub-curve lies in.
type sweep struct {
	nNeg, nPos int64
	nRegions   int     // 0: no PRO curve
	fprLimit   float64 // AUPRO integration limit
	proCurveTo float64 // the PRO curve is recorded up to this FPR (interpolated end point)
	binned     bool

	started bool
	fp, tp  int64
	proCum  float64 // sum over regions of covered fraction (divide by nRegions)

	aucHi, aucLo uint64 // 128-bit sum of dFP*(TPprev+TPcur)
	ap           float64
	bestF1       float64
	bestThr      float64
	firstThr     float64

	proArea  float64
	proDone  bool
	proPX    float64 // previous PRO point
	proPY    float64
	curveEnd bool // PRO curve recorded up to proCurveTo

	aucBound, apBound, proBound float64

	roc, pr, pro recorder
}

func newSweep(nNeg, nPos int64, nRegions int, fprLimit, proCurveTo float64, curvePoints int, binned bool) *sweep {
	s := &sweep{nNeg: nNeg, nPos: nPos, nRegions: nRegions, fprLimit: fprLimit, proCurveTo: proCurveTo,
		binned: binned, bestF1: -1, bestThr: math.NaN()}
	if curvePoints > 0 {
		s.roc.minStep = 2 / float64(curvePoints)
		s.pr.minStep, s.pr.xOnly = 1/float64(curvePoints), true
		s.pro.minStep = (proCurveTo + 1) / float64(curvePoints)
	}
	return s
}

// step adds one threshold: neg normal and pos anomalous samples all scoring thr (or, binned, falling in
// the bin whose lower edge is thr); pro is the sum over those anomalous pixels of 1/size(region).
func (s *sweep) step(thr float64, neg, pos int64, pro float64) {
	if neg == 0 && pos == 0 {
		return
	}
	if !s.started {
		s.started = true
		s.firstThr = thr + 1
		s.roc.add(0, 0, s.firstThr)
		s.pr.add(0, 1, s.firstThr)
		if s.nRegions > 0 {
			s.pro.add(0, 0, s.firstThr)
		}
	}
	fp0, tp0 := s.fp, s.tp
	s.fp += neg
	s.tp += pos
	// AUROC: trapezoid area in units of 1/(2*N*P), exact in integers.
	hi, lo := bits.Mul64(uint64(neg), uint64(tp0+s.tp))
	var c uint64
	s.aucLo, c = bits.Add64(s.aucLo, lo, 0)
	s.aucHi += hi + c

	fpr := float64(s.fp) / float64(s.nNeg)
	tpr := float64(s.tp) / float64(s.nPos)
	prec := float64(s.tp) / float64(s.tp+s.fp)
	if pos > 0 {
		dr := float64(pos) / float64(s.nPos)
		s.ap += dr * prec
		if s.binned {
			// Inside a bin every sub-step adds recall with precision between these two values.
			pmax := float64(s.tp) / float64(s.tp+fp0)
			pmin := float64(tp0+1) / float64(tp0+1+s.fp)
			s.apBound += dr * (pmax - pmin)
		}
	}
	if s.binned {
		s.aucBound += 0.5 * (float64(neg) / float64(s.nNeg)) * (float64(pos) / float64(s.nPos))
	}
	if f1 := f1Of(prec, tpr); f1 >= s.bestF1 {
		s.bestF1, s.bestThr = f1, thr
	}
	s.roc.add(fpr, tpr, thr)
	s.pr.add(tpr, prec, thr)

	if s.nRegions > 0 {
		s.proCum += pro
		// MVTec clips rounding overshoot: the curve never exceeds 1.
		x, y := fpr, s.proCum/float64(s.nRegions)
		if x > 1 {
			x = 1
		}
		if y > 1 {
			y = 1
		}
		s.proPoint(x, y, thr)
	}
}

// proPoint integrates and records one PRO point, as MVTec's trapezoid(x, y, x_max) does.
func (s *sweep) proPoint(x, y, thr float64) {
	px, py := s.proPX, s.proPY
	if !s.proDone {
		L := s.fprLimit
		switch {
		case x <= L:
			s.proArea += 0.5 * (y + py) * (x - px)
			if s.binned {
				s.proBound += 0.5 * (x - px) * (y - py)
			}
		default: // first point beyond the limit
			if px < L {
				yi := py + (y-py)*(L-px)/(x-px)
				s.proArea += 0.5 * (yi + py) * (L - px)
				if s.binned {
					s.proBound += (L - px) * (y - py)
				}
			}
			s.proDone = true
		}
	}
	if !s.curveEnd {
		L := s.proCurveTo
		if x <= L {
			s.pro.add(x, y, thr)
		} else {
			if px < L {
				s.pro.add(L, py+(y-py)*(L-px)/(x-px), thr)
			}
			s.curveEnd = true
		}
	}
	s.proPX, s.proPY = x, y
}

func f1Of(p, r float64) float64 {
	if p+r == 0 {
		return 0
	}
	return 2 * p * r / (p + r)
}

// sweepResult holds what a finished sweep measured.
type sweepResult struct {
	auroc, ap, f1, f1Thr, aupro float64
	aucBound, apBound, proBound float64
	roc, pr, pro                Curve
}

func (s *sweep) finish(lastThr float64) sweepResult {
	var r sweepResult
	area := float64(s.aucHi)*math.Exp2(64) + float64(s.aucLo)
	r.auroc = area / (2 * float64(s.nNeg) * float64(s.nPos))
	r.ap = s.ap
	r.f1, r.f1Thr = s.bestF1, s.bestThr
	r.aucBound, r.apBound = s.aucBound, s.apBound
	r.roc = s.roc.flush()
	pr := s.pr.flush()
	// scikit-learn orders the PR curve by increasing threshold, ending at (recall 0, precision 1).
	for i, j := 0, len(pr.X)-1; i < j; i, j = i+1, j-1 {
		pr.X[i], pr.X[j] = pr.X[j], pr.X[i]
		pr.Y[i], pr.Y[j] = pr.Y[j], pr.Y[i]
		pr.Thresholds[i], pr.Thresholds[j] = pr.Thresholds[j], pr.Thresholds[i]
	}
	r.pr = pr
	if s.nRegions > 0 {
		// MVTec appends (1, 1) to the curve.
		s.proPoint(1, 1, lastThr)
		r.aupro = s.proArea / s.fprLimit
		r.proBound = s.proBound / s.fprLimit
		r.pro = s.pro.flush()
	} else {
		r.aupro = math.NaN()
	}
	return r
}
