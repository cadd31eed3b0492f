// Package compute chooses the GoMLX backend every gonomaly method runs on.
//
// The choice, made once per process:
//  1. $GOMLX_BACKEND, when set, is used as given (for example "fastgo", "go", "xla:cpu", "xla:cuda").
//  2. Otherwise XLA/PJRT when a plugin is already installed on this machine (no download is attempted).
//  3. Otherwise gonomaly's own CPU backend ("fastgo", package methods/compute/fastgo), with a one-line
//     notice on stderr saying how to get XLA. GoMLX's pure-Go backend ("go") stays selectable by name.
//
// GoMLX's own default tries to download the XLA plugin and fails offline; this package never lets that
// happen implicitly, so a machine without network still runs everything, only slower.
package compute

import (
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/backends/xla"

	"github.com/gonomaly/gonomaly/methods/compute/fastgo"
)

// EnvVar is the environment variable GoMLX reads for an explicit backend configuration.
const EnvVar = backends.ConfigEnvVar

// Notice is the one line printed (to stderr) when no PJRT plugin is found and fastgo is chosen.
const Notice = "gonomaly: no XLA PJRT plugin found, using gonomaly's fastgo CPU backend. " +
	"For XLA, install a PJRT plugin (PJRT_PLUGIN_LIBRARY_PATH) or set GOMLX_BACKEND=xla with network access."

var (
	once    sync.Once
	backend backends.Backend
	chosen  Choice
	initErr error
)

// Choice describes the backend in use, for notebook banners and `kernel doctor`.
type Choice struct {
	// Name is the GoMLX backend name: "fastgo" (gonomaly's CPU backend), "go" (GoMLX pure Go) or "xla".
	Name string
	// Config is the full configuration string the backend was built from.
	Config string
	// Description is a human-readable summary, e.g. "XLA/PJRT (cpu)" or "gonomaly fastgo CPU backend (no XLA plugin)".
	Description string
	// Fallback is true when a CPU backend was chosen because no XLA plugin was found.
	Fallback bool
}

// Backend returns the process-wide backend, choosing it on first use (see the package doc).
// Errors come only from an explicit $GOMLX_BACKEND that cannot be built.
func Backend() (backends.Backend, error) {
	once.Do(choose)
	return backend, initErr
}

// MustBackend is Backend that panics on error; for tests and notebooks.
func MustBackend() backends.Backend {
	b, err := Backend()
	if err != nil {
		panic(err)
	}
	return b
}

// InUse reports which backend Backend chose (choosing it if needed).
func InUse() (Choice, error) {
	once.Do(choose)
	return chosen, initErr
}

// Decide returns the configuration string the rules above pick, without building a backend.
// env is the value of $GOMLX_BACKEND ("" when unset); plugins lists installed PJRT plugins.
func Decide(env string, envSet bool, plugins []string) (config string, fallback bool) {
	if envSet && strings.TrimSpace(env) != "" {
		return strings.TrimSpace(env), false
	}
	for _, preferred := range []string{"cuda", "cpu"} {
		for _, p := range plugins {
			if p == preferred {
				return xla.BackendName + ":" + p, false
			}
		}
	}
	if len(plugins) > 0 {
		return xla.BackendName + ":" + plugins[0], false
	}
	return fastgo.BackendName, true
}

// withSequentialOps adds "ops_sequential" to a pure-Go configuration that does not choose an op
// scheduling itself. GoMLX v0.26's pure-Go backend runs independent graph nodes as tasks of its worker
// pool, and a matrix product inside such a task waits for a worker of the same pool: with enough
// parallel products every worker waits and execution deadlocks (seen here in training graphs). Running
// ops one after another keeps each product's own two-core parallelism, which is where the time goes.
func withSequentialOps(config string) string {
	name, opts, _ := strings.Cut(config, ":")
	if name != simplego.BackendName || strings.Contains(opts, "ops_") {
		return config
	}
	if opts == "" {
		return name + ":ops_sequential"
	}
	return name + ":" + opts + ",ops_sequential"
}

func choose() {
	env, envSet := os.LookupEnv(EnvVar)
	var plugins []string
	if !(envSet && strings.TrimSpace(env) != "") {
		// Only look for plugins already on disk: never trigger GoMLX's download.
		xla.EnableAutoInstall(false)
		plugins = safePlugins()
	}
	config, fallback := Decide(env, envSet, plugins)
	config = withSequentialOps(config)
	b, err := build(config)
	if err != nil && !envSet {
		// An installed plugin that fails to load is not fatal: fall back to pure Go.
		config, fallback = fastgo.BackendName, true
		b, err = build(config)
	}
	if err != nil {
		initErr = fmt.Errorf("compute: cannot build GoMLX backend %q (from $%s): %v", config, EnvVar, err)
		return
	}
	backend = b
	name, _, _ := strings.Cut(config, ":")
	chosen = Choice{Name: name, Config: config, Fallback: fallback}
	switch {
	case name == fastgo.BackendName:
		chosen.Description = b.Description()
		if fallback {
			fmt.Fprintln(os.Stderr, Notice)
		}
	case name == simplego.BackendName:
		chosen.Description = "GoMLX pure Go"
	default:
		chosen.Description = "XLA/PJRT (" + config + ")"
	}
}

// build constructs a backend, turning panics (GoMLX panics on unknown names) into errors.
func build(config string) (b backends.Backend, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return backends.NewWithConfig(config)
}

func safePlugins() (plugins []string) {
	defer func() {
		if recover() != nil {
			plugins = nil
		}
	}()
	return xla.GetAvailablePlugins()
}
