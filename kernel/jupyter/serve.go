package jupyter

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"sync"
)

// ServeOptions configures Serve.
type ServeOptions struct {
	// Dir is the folder Jupyter opens (the repository's notebooks/).
	Dir string
	// Port is the first port tried on 127.0.0.1.
	Port int
	// Log receives the URL line; Jupyter's own log goes to stderr.
	Log io.Writer
}

var urlRe = regexp.MustCompile(`http://127\.0\.0\.1:[0-9]+/\S*`)

// newToken returns a fresh random login token: 32 bytes from crypto/rand, in hex.
func newToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("making a Jupyter token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// Serve runs the Jupyter notebook server on Dir, listening on loopback only, with the "gonomaly"
// kernel as default for new notebooks and a fresh random login token (never Jupyter's own default),
// prints its URL (with the token) once it is up, and
// returns when the server stops or ctx is cancelled.
func Serve(ctx context.Context, opt ServeOptions) error {
	if m := missingModules(ctx, uiModule); len(m) > 0 {
		return fmt.Errorf("the browser UI needs Python module %q for %s; install it:\n%s", uiModule, Python(), ManualJupyterSteps())
	}
	args := []string{"notebook", "--no-browser", "--ip=127.0.0.1", "--port=" + strconv.Itoa(opt.Port),
		"--notebook-dir=" + opt.Dir, "--MappingKernelManager.default_kernel_name=" + KernelName}
	if os.Geteuid() == 0 {
		args = append(args, "--allow-root")
	}
	token, err := newToken()
	if err != nil {
		return err
	}
	cmd := jupyterCmd(ctx, args...)
	// An explicit random token, through the environment (the command line is visible to every user).
	cmd.Env = append(cmd.Env, "JUPYTER_TOKEN="+token)
	cmd.Dir = opt.Dir
	cmd.Stdout = os.Stdout
	pipe, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		printed := false
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(os.Stderr, line)
			if u := urlRe.FindString(line); u != "" && !printed {
				printed = true
				logf(opt.Log, "\nnotebook: open %s\n  (notebooks in %s; kernel %q; Ctrl-C stops the server)\n", u, opt.Dir, DisplayName)
			}
		}
	}()
	wg.Wait()
	err = cmd.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return err
}
