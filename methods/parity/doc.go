// Package parity holds the cross-backend parity harness (tests only): the project's own graphs (nn
// layers forward and backward, the four backbones, training steps and predictions of the methods, the
// score graphs) run on gonomaly's fastgo backend and on GoMLX's pure-Go backend, and must agree within
// 1e-4 relative to each output's largest magnitude.
//
// The pure-Go side runs in a child process of the test binary (GOMLX_BACKEND=go), since the project
// picks one backend per process; it writes its results to a file that the parent compares.
package parity
