package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gonomaly/gonomaly/kernel/jupyter"
)

func gonbVersion() string { return jupyter.GoNBVersion }
func kernelName() string  { return jupyter.KernelName }

func repo() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return jupyter.FindRepo(wd)
}

func runSetup(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("setup", flag.ExitOnError)
	noApt := fs.Bool("no-apt", false, "never run apt-get; print the manual steps for what is missing")
	fs.Parse(args)
	root, err := repo()
	if err != nil {
		return err
	}
	start := time.Now()
	if err := jupyter.Setup(ctx, jupyter.SetupOptions{Repo: root, Log: os.Stdout, NoApt: *noApt}); err != nil {
		return err
	}
	fmt.Printf("setup: done in %s; next: go run ./kernel exec (headless) or go run ./kernel notebook (browser)\n",
		time.Since(start).Round(100*time.Millisecond))
	return nil
}

func runNotebook(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("notebook", flag.ExitOnError)
	port := fs.Int("port", 8888, "port to listen on (loopback only); Jupyter picks the next free one if taken")
	fs.Parse(args)
	root, err := repo()
	if err != nil {
		return err
	}
	if err := jupyter.Setup(ctx, jupyter.SetupOptions{Repo: root, Log: os.Stdout}); err != nil {
		return err
	}
	return jupyter.Serve(ctx, jupyter.ServeOptions{Dir: filepath.Join(root, "notebooks"), Port: *port, Log: os.Stdout})
}

func runExec(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("exec", flag.ExitOnError)
	out := fs.String("out", "", "folder for executed copies and HTML (default <repo>/out/notebooks)")
	timeout := fs.Duration("cell-timeout", 30*time.Minute, "maximum time for one cell")
	quick := fs.Bool("quick", false, "quick mode: CPU presets and small sizes (sets "+jupyter.QuickEnv+"=1)")
	noSetup := fs.Bool("no-setup", false, "do not run setup first")
	verbose := fs.Bool("v", false, "echo what cells print as they run")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go run ./kernel exec [flags] [notebook.ipynb ...]\n\nWithout notebooks, runs every notebooks/*.ipynb in name order.\n\n")
		fs.PrintDefaults()
	}
	fs.Parse(args)
	root, err := repo()
	if err != nil {
		return err
	}
	if !*noSetup {
		if err := jupyter.Setup(ctx, jupyter.SetupOptions{Repo: root, Log: os.Stdout}); err != nil {
			return err
		}
	}
	if *out == "" {
		*out = filepath.Join(root, "out", "notebooks")
	}
	if !*quick {
		*quick = quickFromEnv()
	}
	paths := fs.Args()
	if len(paths) == 0 {
		if paths, err = jupyter.FindNotebooks(filepath.Join(root, "notebooks")); err != nil {
			return err
		}
		if len(paths) == 0 {
			return fmt.Errorf("no notebooks in %s", filepath.Join(root, "notebooks"))
		}
	}
	mode := "full"
	if *quick {
		mode = "quick"
	}
	fmt.Printf("exec: %d notebook(s), %s mode, cell timeout %s, output in %s\n", len(paths), mode, *timeout, *out)
	var failed []string
	names := jupyter.OutputNames(paths)
	for i, p := range paths {
		opts := jupyter.ExecOptions{OutDir: *out, CellTimeout: *timeout, Quick: *quick, Log: os.Stdout, Name: names[i]}
		if *verbose {
			opts.Echo = os.Stdout
		}
		r, err := jupyter.Execute(ctx, p, opts)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "FAIL %v\n", err)
			failed = append(failed, filepath.Base(p))
			continue
		}
		fmt.Printf("ok   %s in %s (%d code cells; displays %v) -> %s\n", p, r.Duration.Round(100*time.Millisecond), len(r.Cells), r.Displays, r.HTML)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d notebook(s) failed: %s", len(failed), len(paths), strings.Join(failed, ", "))
	}
	return nil
}

func quickFromEnv() bool {
	switch strings.ToLower(strings.TrimSpace(os.Getenv(jupyter.QuickEnv))) {
	case "1", "t", "true", "y", "yes", "on":
		return true
	}
	return false
}

func runDoctor(ctx context.Context, args []string) error {
	root, err := repo()
	if err != nil {
		return err
	}
	return doctor(ctx, root)
}
