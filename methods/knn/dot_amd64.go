package knn

import "golang.org/x/sys/cpu"

// useAVX2 selects the assembly kernel on CPUs (and operating systems) with AVX2 and FMA.
var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func dot4x2AVX2(q0, q1, q2, q3, b0, b1 *float32, n int, out *[8]float32)

// dot4x2 returns the 8 dot products of four query rows with two bank rows (all of the same length).
func dot4x2(q0, q1, q2, q3, b0, b1 []float32) (s00, s01, s10, s11, s20, s21, s30, s31 float32) {
	n := len(q0)
	if !useAVX2 || n < 8 {
		return dot4x2Go(q0, q1, q2, q3, b0, b1)
	}
	q1, q2, q3, b0, b1 = q1[:n], q2[:n], q3[:n], b0[:n], b1[:n]
	m := n &^ 7
	var out [8]float32
	dot4x2AVX2(&q0[0], &q1[0], &q2[0], &q3[0], &b0[0], &b1[0], m, &out)
	s00, s01, s10, s11, s20, s21, s30, s31 = out[0], out[1], out[2], out[3], out[4], out[5], out[6], out[7]
	if m < n {
		t00, t01, t10, t11, t20, t21, t30, t31 := dot4x2Go(q0[m:], q1[m:], q2[m:], q3[m:], b0[m:], b1[m:])
		s00, s01, s10, s11, s20, s21, s30, s31 = s00+t00, s01+t01, s10+t10, s11+t11, s20+t20, s21+t21, s30+t30, s31+t31
	}
	return
}
