// Package nbtest holds the test that executes every notebook under notebooks/ in quick mode, through
// the same code path as `go run ./kernel exec`, and the test proving that harness catches failures
// (compile errors, panics, non-zero exits, failing `!` shell cells, missing displays).
//
// Without Jupyter or the kernel spec the tests skip with a loud message, except in CI ($CI=true), where
// they fail: CI must run `go run ./kernel setup` first (see .ci/run).
package nbtest
